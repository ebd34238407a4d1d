"""Search finds what people type: words anywhere in the title or an artist's name, in
any order, and a typo, on both engines."""

from __future__ import annotations

import pytest

from pipeline import search
from pipeline.search import SearchIndex
from sql import catalogue
from sql.database import Database

TRACKS = [
    ("4CeeEOM32jQcH3eN9Q2dGj", "Smells Like Teen Spirit", "Nirvana", 80),
    ("1aTeenSpiritCover00000", "Teen Spirit (Live)", "Cover Band", 10),
    ("5ghIJDpPoe3CfHMGu71E6T", "Come As You Are", "Nirvana", 75),
    ("3AJwUDP919kvQ9QcozQPxg", "Yellow", "Coldplay", 85),
    ("7ouMYWpwJ422jRcDASZB7P", "Beyoncé Knowles Medley", "Café Tacvba", 20),
    ("2takeOnMe000000000000a", "Take On Me", "a-ha", 70),
]


async def _fill(db: Database) -> None:
    artists = {artist for _, _, artist, _ in TRACKS}
    async with db.transaction() as conn:
        await catalogue.upsert_artists(
            conn,
            [
                {"artist_id": f"ar{i:020d}", "name": a, "source": "test"}
                for i, a in enumerate(sorted(artists))
            ],
        )
        await catalogue.upsert_tracks(
            conn,
            [
                {"track_id": t, "name": n, "popularity": p, "source": "test"}
                for t, n, _, p in TRACKS
            ],
        )
        ids = {a: f"ar{i:020d}" for i, a in enumerate(sorted(artists))}
        await catalogue.link_artist_tracks(
            conn, [{"artist_id": ids[a], "track_id": t} for t, _, a, _ in TRACKS]
        )


@pytest.mark.parametrize(
    ("typed", "first"),
    [
        ("teen spirit", "4CeeEOM32jQcH3eN9Q2dGj"),  # words in the middle, popular first
        ("spirit teen", "4CeeEOM32jQcH3eN9Q2dGj"),  # any order
        ("smels like teen spirt", "4CeeEOM32jQcH3eN9Q2dGj"),  # typos
        ("nirvna come", "5ghIJDpPoe3CfHMGu71E6T"),  # artist with a typo, plus a title word
        ("coldpla", "3AJwUDP919kvQ9QcozQPxg"),  # a word still being typed
        ("cafe tacuba", "7ouMYWpwJ422jRcDASZB7P"),  # accents and a typo
        ("TAKE on", "2takeOnMe000000000000a"),
    ],
)
async def test_find(db: Database, typed: str, first: str) -> None:
    await _fill(db)
    rows = await search.find(db, typed, limit=5)
    assert rows and rows[0]["track_id"] == first
    assert rows[0]["artists"]  # described like the prefix search's rows


async def test_nothing_close_finds_nothing(db: Database) -> None:
    await _fill(db)
    assert await search.find(db, "zzzzqqq", limit=5) == []
    assert await search.find(db, "  ", limit=5) == []


async def test_the_index_follows_the_catalogue(db: Database, monkeypatch) -> None:
    await _fill(db)
    assert not await search.find(db, "bohemian rhapsody", limit=5)
    async with db.transaction() as conn:
        await catalogue.upsert_tracks(
            conn,
            [{"track_id": "6l8GvAyoUZwWDgF1e4822w", "name": "Bohemian Rhapsody", "source": "test"}],
        )
    monkeypatch.setattr(search, "RECHECK_SECONDS", 0.0)  # no waiting for the next check
    rows = await search.find(db, "bohemian rapsody", limit=5)
    assert [r["track_id"] for r in rows] == ["6l8GvAyoUZwWDgF1e4822w"]


def test_typo_budget_and_short_words() -> None:
    index = SearchIndex.from_rows(
        [("a" * 22, "the cat", 1), ("b" * 22, "the car", 2)], {"a" * 22: ["x"]}
    )
    assert index.search("cat") == ["a" * 22]  # short words need the exact word or a prefix
    assert index.search("ca") == ["b" * 22, "a" * 22]  # a prefix: both, popular first
    assert search.typo_budget("abc") == 0
    assert search.typo_budget("spirt") == 1
    assert search.typo_budget("rhapsodyy") == 2


async def test_a_large_catalogue_without_an_index_answers_from_the_prefix_seek(
    db: Database, monkeypatch
) -> None:
    await _fill(db)
    monkeypatch.setattr(search, "INLINE_BUILD_MAX", 3)  # "large": more than 3 tracks
    rows = await search.find(db, "take on", limit=5)  # the prefix seek finds it
    assert [r["track_id"] for r in rows] == ["2takeOnMe000000000000a"]
    assert not search.cache_for(db).ready  # no index was built for it
    rows = await search.find(db, "nirvna come", limit=5)  # the prefix seek cannot
    assert rows[0]["track_id"] == "5ghIJDpPoe3CfHMGu71E6T"
    assert search.cache_for(db).ready
