"""Track-level genres: stored for the track, filed by them where a track has any (its
artists' otherwise) in every reader, and a re-import moves an older database over."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from pipeline.importers import import_dataset
from pipeline.importers.reading import name_key
from recommender import taxonomy
from recommender.serving import Recommender
from sql import catalogue, frames, picks
from sql.database import Database
from sql.schema import artist_genre
from tests.fixtures.datasets import kaggle_edge_file, tid, tidytuesday_edge_file
from tests.fixtures.kaggle_catalogue import kaggle_catalogue_file, others_shares

OWN, BORROWED, BARE = tid("track", 0), tid("track", 1), tid("track", 2)


async def _catalogue(db: Database) -> None:
    """OWN has its own genre and an artist with others; BORROWED only its artist's;
    BARE none at all. Both tracks share the artist."""
    async with db.transaction() as conn:
        await catalogue.upsert_artists(
            conn, [{"artist_id": tid("artist", 0), "name": "A", "source": "test"}]
        )
        await catalogue.upsert_tracks(
            conn,
            [
                {"track_id": t, "name": f"Song {i}", "source": "test"}
                for i, t in enumerate((OWN, BORROWED, BARE))
            ],
        )
        await catalogue.link_artist_tracks(
            conn,
            [
                {"artist_id": tid("artist", 0), "track_id": OWN, "position": 0},
                {"artist_id": tid("artist", 0), "track_id": BORROWED, "position": 0},
            ],
        )
        genres = [("opera", "spotify"), ("french", "spotify"), ("dance pop", "musicoset")]
        await catalogue.upsert_artist_genres(
            conn, [{"artist_id": tid("artist", 0), "genre": g, "source": s} for g, s in genres]
        )
        await catalogue.upsert_track_genres(
            conn,
            [
                {"track_id": OWN, "genre": "Pop", "source": "track-genre"},
                {"track_id": OWN, "genre": "pop", "source": "other"},  # first source kept
            ],
        )


async def test_frames_file_a_track_by_its_own_genres_else_its_artists(db: Database) -> None:
    await _catalogue(db)
    async with db.connection() as conn:
        plain = await frames.track_genres_frame(conn)
        sourced = await frames.track_genres_frame(conn, with_source=True, with_origin=True)
    assert list(plain.columns) == ["track_id", "genre"]
    assert sorted(map(tuple, plain.to_numpy().tolist())) == [
        (OWN, "pop"),
        (BORROWED, "dance pop"),
        (BORROWED, "french"),
        (BORROWED, "opera"),
    ]
    assert list(sourced.columns) == ["track_id", "genre", "source", "origin"]
    rows = {(r.track_id, r.genre): (r.source, r.origin) for r in sourced.itertuples()}
    assert rows[(OWN, "pop")] == ("track-genre", "track")
    assert rows[(BORROWED, "opera")] == ("spotify", "artists")
    assert len(rows) == len(sourced) == 4


async def test_the_serving_input_files_the_same_way_in_one_statement(db: Database) -> None:
    await _catalogue(db)
    async with db.connection() as conn:
        _, own, own_genres = await picks.input_track(conn, OWN)
        _, borrowed, borrowed_genres = await picks.input_track(conn, BORROWED)
        _, bare, bare_genres = await picks.input_track(conn, BARE)
        _, missing, _ = await picks.input_track(conn, tid("track", 9))
        assert await picks.track_genres(conn, OWN) == ["pop"]
    assert (own_genres, own["genres_from"]) == (["pop"], "track")
    assert [a["name"] for a in own["artists"]] == ["A"]  # credits unaffected by the join
    assert (borrowed_genres, borrowed["genres_from"]) == (
        ["dance pop", "french", "opera"],
        "artists",
    )
    assert (bare_genres, bare["genres_from"]) == ([], None)
    assert missing is None


async def test_genres_says_where_the_genres_came_from(db: Database, tmp_path: Path) -> None:
    await _catalogue(db)
    recommender = Recommender(tmp_path / "models")
    rules = taxonomy.load()
    async with db.connection() as conn:
        own = await recommender.filing(conn, OWN, rules)
        borrowed = await recommender.filing(conn, BORROWED, rules)
    assert (own.genres_from, own.buckets) == ("track", ["pop"])
    assert borrowed.genres_from == "artists"
    assert "others" in borrowed.buckets  # opera and french: the artist-level spread


async def test_a_reimport_moves_artist_level_rows_to_the_tracks(
    db: Database, tmp_path: Path
) -> None:
    """A database imported before track genres: Kaggle's and TidyTuesday's genres sit on
    the artists. Importing each file again stores them per track and removes its own
    source's artist rows, leaving every other source's alone."""
    kaggle_artist, tidy_artist = name_key("Artist A"), name_key("Artist 0")
    async with db.transaction() as conn:
        await catalogue.upsert_artists(
            conn,
            [
                {"artist_id": a, "name": n, "name_keyed": True, "source": "old"}
                for a, n in ((kaggle_artist, "Artist A"), (tidy_artist, "Artist 0"))
            ],
        )
        old = [
            (kaggle_artist, "opera", "track-genre"),
            (kaggle_artist, "k-pop", "track-genre"),
            (tidy_artist, "dance pop", "playlist-subgenre"),
            (kaggle_artist, "k-pop ballad", "musicoset"),
        ]
        await catalogue.upsert_artist_genres(
            conn, [{"artist_id": a, "genre": g, "source": s} for a, g, s in old]
        )

    report = await import_dataset(db, "kaggle-tracks", kaggle_edge_file(tmp_path / "k.csv"))
    assert any("removed 2 artist genre row(s) of source 'track-genre'" in n for n in report.notes)
    async with db.connection() as conn:
        left = set(map(tuple, await conn.execute(select(artist_genre))))
        filed = await frames.track_genres_frame(conn)
    assert left == {
        (tidy_artist, "dance pop", "playlist-subgenre"),
        (kaggle_artist, "k-pop ballad", "musicoset"),
    }
    assert set(filed[filed["track_id"] == tid("track", 0)]["genre"]) == {"dance", "k-pop"}

    report = await import_dataset(db, "tidytuesday", tidytuesday_edge_file(tmp_path / "t.csv"))
    assert any("of source 'playlist-subgenre'" in n for n in report.notes)
    async with db.connection() as conn:
        sources = set((await conn.execute(select(artist_genre.c.source))).scalars())
    assert sources == {"musicoset"}
    again = await import_dataset(db, "tidytuesday", tidytuesday_edge_file(tmp_path / "t.csv"))
    assert not any("removed" in n for n in again.notes)


async def test_others_share_on_a_generated_kaggle_catalogue(db: Database, tmp_path: Path) -> None:
    """The database files a generated Kaggle catalogue per track; far fewer of its tracks
    touch `others` than when each row's genre went to every credited artist."""
    path = kaggle_catalogue_file(tmp_path / "dataset.csv")
    rules = taxonomy.load()
    shares = others_shares(path, rules)
    await import_dataset(db, "kaggle-tracks", path)
    async with db.connection() as conn:
        filed = await frames.track_genres_frame(conn, with_origin=True)
        counts = await catalogue.counts(conn, ["track", "artist_genre"])
    assert counts == {"track": shares["tracks"], "artist_genre": 0}
    assert set(filed["origin"]) == {"track"}
    per_track = filed.groupby("track_id")["genre"].agg(list)
    touching = sum("others" in rules.track_buckets(g) for g in per_track)
    assert len(per_track) == shares["tracks"]
    assert touching / len(per_track) == shares["track"]
    assert (round(shares["artists"], 3), round(shares["track"], 3)) == (0.531, 0.289)


def test_genres_replies_name_the_origin(capsys) -> None:
    from bot.cli.recommend import _render_genres
    from bot.embeds import genres_embed

    base = {
        "track": {"track_id": OWN, "name": "Song", "artists": ["A"], "release_year": None},
        "genres": [{"genre": "pop", "buckets": ["pop"]}],
        "buckets": ["pop"],
        "taxonomy": "default",
        "model_version": None,
        "placements": [],
        "reason": "no model is trained yet",
    }
    own = genres_embed({**base, "genres_from": "track"}, None)
    borrowed = genres_embed({**base, "genres_from": "artists"}, None)
    assert own.fields[0].name == "Track's genres → buckets"
    assert borrowed.fields[0].name == "Artists' genres → buckets"
    _render_genres({**base, "genres_from": "track"})
    assert "filed by the track's own genres" in capsys.readouterr().out
    _render_genres({**base, "genres_from": "artists"})
    assert "filed by its artists' genres" in capsys.readouterr().out
    _render_genres({**base, "genres": [], "buckets": [], "genres_from": None})
    assert "neither the track nor its artists carry a genre" in capsys.readouterr().out
