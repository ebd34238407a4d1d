"""The data-access layer on both engines: upserts, reads, search, counts, transactions."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from sql import catalogue
from sql.database import Database

ARTISTS = [
    {"artist_id": "0TnOYISbd1XYRBk9myaseg", "name": "Pitbull", "popularity": 80, "source": "t"},
    {"artist_id": "1HY2Jd0NmPuamShAr6KMms", "name": "Lady Gaga", "source": "t"},
    {"artist_id": "3Nrfpe0tUJi4K4DXYWgMUX", "name": "방탄소년단 BTS", "source": "t"},
    {"artist_id": "1Xyo4u8uXC1ZmMpatF05PJ", "name": "The Weeknd", "source": "t"},
    {"artist_id": "6qqNVTkY8uBg9cP3Jd7DAH", "name": "Beyoncé", "source": "t"},
]
ALBUM = {
    "album_id": "4aawyAB9vmqN3uQ7FjRGTy",
    "name": "Global Warming 🔥",
    "release_date": "2012-11-16",
    "release_date_precision": "day",
    "source": "t",
}
TRACKS = [
    {"track_id": "6rqhFgbbKwnb9MLmUQDhG6", "name": "Don't Stop the Party", "popularity": 40},
    {"track_id": "2bJvI42r8EF3wxjOuDav4r", "name": "Bad Romance", "popularity": 85},
    {"track_id": "5KawlOMHjWeUjQtnuRs22c", "name": "작은 것들을 위한 시 (Boy With Luv) 💜"},
    {"track_id": "0VjIjW4GlUZAMYd2vXMi3b", "name": "Blinding Lights", "popularity": 95},
    {"track_id": "1mWdTewIgB3gtBM3TOSFhB", "name": "Déjà Vu — مرحبا", "popularity": 60},
]


def _tracks(**extra):
    return [{**t, "album_id": ALBUM["album_id"], "source": "t", **extra} for t in TRACKS]


async def _load(db: Database) -> None:
    async with db.transaction() as conn:
        await catalogue.upsert_artists(conn, ARTISTS)
        await catalogue.upsert_albums(conn, [ALBUM])
        await catalogue.upsert_tracks(conn, _tracks())
        await catalogue.link_artist_tracks(
            conn,
            [
                {"artist_id": a["artist_id"], "track_id": t["track_id"], "position": 0}
                for a, t in zip(ARTISTS, TRACKS, strict=True)
            ],
        )
        await catalogue.link_artist_albums(
            conn, [{"artist_id": ARTISTS[0]["artist_id"], "album_id": ALBUM["album_id"]}]
        )


async def test_unicode_round_trip(db: Database) -> None:
    await _load(db)
    async with db.connection() as conn:
        tracks = await catalogue.get_tracks(conn, [t["track_id"] for t in TRACKS])
        artists = await catalogue.get_artists(conn, [a["artist_id"] for a in ARTISTS])
        albums = await catalogue.get_albums(conn, [ALBUM["album_id"]])
    assert {t["track_id"]: t["name"] for t in TRACKS} == {k: v["name"] for k, v in tracks.items()}
    assert artists["3Nrfpe0tUJi4K4DXYWgMUX"]["name"] == "방탄소년단 BTS"
    assert albums[ALBUM["album_id"]]["name"] == "Global Warming 🔥"
    assert albums[ALBUM["album_id"]]["release_year"] == 2012


async def test_ids_are_case_sensitive(db: Database) -> None:
    lower = {"artist_id": "abcdefghijklmnopqrstuv", "name": "lower", "source": "t"}
    upper = {"artist_id": "ABCDEFGHIJKLMNOPQRSTUV", "name": "upper", "source": "t"}
    async with db.transaction() as conn:
        await catalogue.upsert_artists(conn, [lower, upper])
    async with db.connection() as conn:
        found = await catalogue.get_artists(conn, [lower["artist_id"], upper["artist_id"]])
    assert {k: v["name"] for k, v in found.items()} == {
        lower["artist_id"]: "lower",
        upper["artist_id"]: "upper",
    }


async def test_duplicate_upserts_are_idempotent_and_merge(db: Database) -> None:
    await _load(db)
    await _load(db)  # the same rows again: no error, no duplicates
    async with db.transaction() as conn:
        # a poorer source: NULL popularity must not erase what is known; a new value wins
        await catalogue.upsert_tracks(
            conn,
            [
                {"track_id": TRACKS[1]["track_id"], "name": "Bad Romance", "source": "mpd"},
                {
                    "track_id": TRACKS[3]["track_id"],
                    "name": "Blinding Lights",
                    "popularity": 97,
                    "source": "api",
                },
            ],
        )
        # the same row twice within one batch
        await catalogue.upsert_artists(conn, [ARTISTS[0], {**ARTISTS[0], "popularity": 81}])
    async with db.connection() as conn:
        counts = await catalogue.counts(conn, ["artist", "album", "track", "artist_track"])
        tracks = await catalogue.get_tracks(conn, [TRACKS[1]["track_id"], TRACKS[3]["track_id"]])
        pitbull = await catalogue.get_artists(conn, [ARTISTS[0]["artist_id"]])
    assert counts == {"artist": 5, "album": 1, "track": 5, "artist_track": 5}
    assert tracks[TRACKS[1]["track_id"]]["popularity"] == 85
    assert tracks[TRACKS[3]["track_id"]]["popularity"] == 97
    assert tracks[TRACKS[3]["track_id"]]["source"] == "api"
    assert pitbull[ARTISTS[0]["artist_id"]]["popularity"] == 81


async def test_audio_features_genres_and_playlists(db: Database) -> None:
    await _load(db)
    feature = {
        "track_id": TRACKS[0]["track_id"],
        "acousticness": 0.01,
        "danceability": 0.72,
        "energy": 0.96,
        "instrumentalness": 0.0,
        "key": 1,
        "liveness": 0.3,
        "loudness": -3.1,
        "mode": 1,
        "speechiness": 0.08,
        "tempo": 127.0,
        "time_signature": 4,
        "valence": 0.8,
        "source": "t",
    }
    async with db.transaction() as conn:
        await catalogue.upsert_audio_features(conn, [feature, {**feature, "tempo": 128.0}])
        await catalogue.upsert_artist_genres(
            conn,
            [
                {"artist_id": ARTISTS[0]["artist_id"], "genre": "Dance Pop", "source": "t"},
                {"artist_id": ARTISTS[0]["artist_id"], "genre": "latin  hip hop", "source": "t"},
                {"artist_id": ARTISTS[1]["artist_id"], "genre": "dance pop", "source": "t"},
            ],
        )
        await catalogue.upsert_playlists(
            conn, [{"playlist_id": "mpd:7", "name": "Party 🎉", "source": "mpd"}]
        )
        await catalogue.upsert_playlist_tracks(
            conn,
            [
                {"playlist_id": "mpd:7", "position": i, "track_id": t["track_id"]}
                for i, t in enumerate(reversed(TRACKS))
            ],
        )
    async with db.connection() as conn:
        features = await catalogue.get_audio_features(conn, [TRACKS[0]["track_id"]])
        genres = await catalogue.artist_genres(conn, [a["artist_id"] for a in ARTISTS[:2]])
        entries = await catalogue.playlist_tracks(conn, "mpd:7")
        counts = await catalogue.counts(conn, ["genre", "artist_genre", "playlist_track"])
    assert features[TRACKS[0]["track_id"]]["tempo"] == 128.0
    assert genres[ARTISTS[0]["artist_id"]] == ["dance pop", "latin hip hop"]
    assert entries == [t["track_id"] for t in reversed(TRACKS)]
    assert counts == {"genre": 2, "artist_genre": 3, "playlist_track": 5}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("bad rom", "Bad Romance"),
        ("BAD ROMANCE", "Bad Romance"),
        ("deja", "Déjà Vu — مرحبا"),
        ("작은", "작은 것들을 위한 시 (Boy With Luv) 💜"),
        ("beyonce", "Déjà Vu — مرحبا"),  # by artist name, accents ignored
        ("the weeknd", "Blinding Lights"),
        ("lady", "Bad Romance"),
    ],
)
async def test_search_by_track_or_artist(db: Database, query: str, expected: str) -> None:
    await _load(db)
    async with db.connection() as conn:
        found = await catalogue.search(conn, query, limit=5)
    assert expected in [row["name"] for row in found]


async def test_search_limit_and_order(db: Database) -> None:
    await _load(db)
    async with db.transaction() as conn:
        await catalogue.upsert_tracks(
            conn,
            [
                {"track_id": f"{i:022d}", "name": f"Bad Song {i}", "popularity": i, "source": "t"}
                for i in range(30)
            ],
        )
    async with db.connection() as conn:
        found = await catalogue.search(conn, "bad", limit=25)
        empty = await catalogue.search(conn, "   ", limit=25)
    assert len(found) == 25
    assert found[0]["name"] == "Bad Romance"  # the most popular candidate first
    assert found[0]["artists"] == ["Lady Gaga"]
    assert found[0]["album_name"] == "Global Warming 🔥"
    assert empty == []


async def test_transaction_rolls_back_on_error(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await catalogue.upsert_artists(conn, ARTISTS)
            raise RuntimeError("boom")
    async with db.connection() as conn:
        assert (await catalogue.counts(conn, ["artist"])) == {"artist": 0}


async def test_failed_statement_rolls_back_the_whole_transaction(db: Database) -> None:
    with pytest.raises(Exception):  # noqa: B017 - the driver's IntegrityError
        async with db.transaction() as conn:
            await catalogue.upsert_artists(conn, ARTISTS)
            # a track pointing at an album that does not exist violates the foreign key
            await catalogue.upsert_tracks(
                conn, [{"track_id": "x" * 22, "name": "x", "album_id": "missing", "source": "t"}]
            )
    async with db.connection() as conn:
        assert (await catalogue.counts(conn, ["artist", "track"])) == {"artist": 0, "track": 0}


async def _drop_pooled_connection(db: Database) -> None:
    """Kill the idle pooled connection from outside, as a server restart or timeout would."""
    async with db.connection() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        victim = (
            await conn.scalar(text("SELECT CONNECTION_ID()")) if db.dialect == "mysql" else None
        )
    if victim is None:
        await driver.close()
        return
    outsider = Database(db.url)  # a separate pool, so the victim stays idle in db's pool
    try:
        async with outsider.connection() as other:
            await other.execute(text(f"KILL {int(victim)}"))
    finally:
        await outsider.dispose()


async def test_dropped_connection_is_replaced(db: Database) -> None:
    await _load(db)
    await _drop_pooled_connection(db)
    async with db.connection() as conn:  # transparently a fresh connection
        assert (await catalogue.counts(conn, ["track"])) == {"track": 5}


async def test_existing_ids(db: Database) -> None:
    await _load(db)
    from sql.schema import track

    async with db.connection() as conn:
        found = await catalogue.existing_ids(conn, track, [TRACKS[0]["track_id"], "nope"])
    assert found == {TRACKS[0]["track_id"]}
