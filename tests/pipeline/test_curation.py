"""The catalogue frames (`sql.frames`) on both engines, and curation: funnel, popularity
choice, fingerprint."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bot.settings import load_settings
from pipeline.curation import CurationFilters, curate, curate_catalogue, fingerprint
from sql import catalogue, frames
from sql.database import Database
from sql.schema import FEATURE_COLUMNS

FEATURES = ("danceability", "energy", "tempo")


def tid(n: int) -> str:
    return f"track{n:017d}"


ARTISTS = [
    {"artist_id": "artist000000000000000a", "name": "Primary", "popularity": None, "source": "t"},
    {"artist_id": "artist000000000000000b", "name": "Guest", "popularity": 70, "source": "t"},
    {"artist_id": "artist000000000000000c", "name": "Solo", "popularity": 20, "source": "t"},
]
ALBUMS = [
    {"album_id": "album0000000000000000a", "release_date": "2015-03-01", "popularity": 55, "source": "t"},
    {"album_id": "album0000000000000000b", "release_date": "2005", "source": "t"},
    {"album_id": "album0000000000000000c", "release_date": "2018-07", "source": "t"},
]  # fmt: skip
# id, album, popularity, duration, features (None = no features row)
TRACKS = [
    (0, "a", 80, 200_000, (0.5, 0.6, 120.0)),  # kept
    (1, "a", None, 210_000, (0.4, 0.7, 100.0)),  # popularity from the album (55): kept
    (2, "b", 90, 190_000, (0.3, 0.2, 90.0)),  # 2005: dropped by year
    (3, None, 90, 190_000, (0.3, 0.2, 90.0)),  # no album, no year: dropped by year
    (4, "c", 10, 180_000, (0.1, 0.9, 140.0)),  # below the floor
    (5, "c", None, 220_000, (0.6, 0.5, 125.5)),  # unknown popularity: kept by default
    (6, "c", 60, 230_000, None),  # no features row
    (7, "c", 61, 240_000, (0.2, None, 99.0)),  # energy missing
    (8, "c", 70, 900_000, (0.7, 0.8, 128.0)),  # the longest: above the 0.8 quantile
    (9, "c", 75, 205_000, (0.123456, 0.654321, 101.25)),
]


async def load(db: Database) -> None:
    async with db.transaction() as conn:
        await catalogue.upsert_artists(conn, ARTISTS)
        await catalogue.upsert_albums(conn, ALBUMS)
        await catalogue.upsert_tracks(
            conn,
            [
                {
                    "track_id": tid(n),
                    "name": f"Song {n}",
                    "album_id": f"album0000000000000000{album}" if album else None,
                    "popularity": pop,
                    "duration_ms": ms,
                    "source": "t",
                }
                for n, album, pop, ms, _ in TRACKS
            ],
        )
        await catalogue.upsert_audio_features(
            conn,
            [
                {"track_id": tid(n), **dict(zip(FEATURES, f, strict=True)), "source": "t"}
                for n, _, _, _, f in TRACKS
                if f is not None
            ],
        )
        links = [("a", 0, 0), ("b", 0, 1), ("c", 1, 0)] + [("c", n, 0) for n in range(2, 10)]
        await catalogue.link_artist_tracks(
            conn,
            [
                {"artist_id": f"artist000000000000000{a}", "track_id": tid(n), "position": p}
                for a, n, p in links
            ],
        )
        await catalogue.upsert_artist_genres(
            conn,
            [
                {"artist_id": "artist000000000000000a", "genre": "Dance Pop", "source": "s1"},
                {"artist_id": "artist000000000000000b", "genre": "dance pop", "source": "s2"},
                {"artist_id": "artist000000000000000b", "genre": "k-pop", "source": "s2"},
            ],
        )
        await catalogue.upsert_playlists(conn, [{"playlist_id": "mpd:1", "source": "t"}])
        await catalogue.upsert_playlist_tracks(
            conn,
            [{"playlist_id": "mpd:1", "position": p, "track_id": tid(n)} for p, n in enumerate((5, 0, 9))],
        )  # fmt: skip


async def test_track_frame(db: Database) -> None:
    await load(db)
    async with db.connection() as conn:
        frame = await frames.track_frame(conn)
    assert len(frame) == 10
    assert list(frame.columns) == list(frames.TRACK_FRAME_COLUMNS)
    assert frame.loc[tid(0), "track_id"] == tid(0)
    for column in ("release_year", "duration_ms", "track_popularity", *FEATURE_COLUMNS):
        assert frame[column].dtype == np.float64, column
    first = frame.loc[tid(0)]
    assert first["release_year"] == 2015 and first["album_popularity"] == 55
    # The primary artist's popularity is unknown: the best of the others' (the guest's 70).
    assert (first["primary_artist_name"], first["artist_popularity"]) == ("Primary", 70)
    assert frame.loc[tid(4), "artist_popularity"] == 20
    assert bool(frame.loc[tid(6), "has_features"]) is False
    assert math.isnan(frame.loc[tid(6), "tempo"]) and math.isnan(frame.loc[tid(7), "energy"])
    assert math.isnan(frame.loc[tid(3), "release_year"])
    assert frame.loc[tid(9), "danceability"] == pytest.approx(0.123456, abs=1e-6)


async def test_genre_and_playlist_frames(db: Database) -> None:
    await load(db)
    async with db.connection() as conn:
        genres = await frames.track_genres_frame(conn)
        sourced = await frames.track_genres_frame(conn, with_source=True)
        entries = await frames.playlist_entries_frame(conn)
    # Track 0 gets the genres of both its artists, "dance pop" once.
    assert sorted(map(tuple, genres.to_numpy().tolist())) == [
        (tid(0), "dance pop"),
        (tid(0), "k-pop"),
    ]
    assert len(sourced) == 3 and set(sourced["source"]) == {"s1", "s2"}
    assert entries.to_dict("list") == {
        "playlist_id": ["mpd:1"] * 3,
        "track_id": [tid(5), tid(0), tid(9)],
        "position": [0, 1, 2],
    }


FILTERS = CurationFilters(
    year_min=2010,
    year_max=2019,
    min_popularity=30,
    keep_unknown_popularity=True,
    duration_quantile=0.8,
    features=FEATURES,
)


async def test_funnel(db: Database) -> None:
    await load(db)
    result = await curate_catalogue(db, FILTERS)
    steps = [(s.name, s.rows_in, s.rows_out) for s in result.funnel]
    assert steps == [
        ("release year", 10, 8),
        ("popularity", 8, 7),
        ("audio features", 7, 5),
        ("duration", 5, 4),
    ]
    assert sorted(result.frame["track_id"]) == [tid(0), tid(1), tid(5), tid(9)]
    assert result.popularity_sources == {"track": 8, "album": 1, "unknown": 1}
    popularity = result.funnel[1].detail
    assert popularity["unknown_popularity"] == 1
    assert popularity["unknown_popularity_action"] == "kept"
    assert popularity["from_album_popularity"] == 1
    assert result.funnel[0].detail == {"no_release_year_dropped": 1}
    missing = result.funnel[2].detail["missing_per_feature"]  # track 6 lacks all three
    assert missing == {"danceability": 1, "energy": 2, "tempo": 1}
    assert result.funnel[2].detail["no_features_row"] == 1
    assert result.frame.set_index("track_id").loc[tid(1), "popularity"] == 55
    assert result.to_dict()["funnel"][3]["dropped"] == 1

    strict = await curate_catalogue(
        db, CurationFilters(**{**FILTERS.__dict__, "keep_unknown_popularity": False})
    )
    assert tid(5) not in set(strict.frame["track_id"])
    assert strict.funnel[1].detail["unknown_popularity_action"] == "dropped"
    assert strict.fingerprint != result.fingerprint


async def test_fingerprint_is_the_data_not_the_engine(db: Database) -> None:
    await load(db)
    result = await curate_catalogue(db, FILTERS)
    # The same curated rows built by hand, in another order, hash the same on every engine.
    by_hand = pd.DataFrame(
        {
            "track_id": [tid(9), tid(5), tid(1), tid(0)],
            "danceability": [0.123456, 0.6, 0.4, 0.5],
            "energy": [0.654321, 0.5, 0.7, 0.6],
            "tempo": [101.25, 125.5, 100.0, 120.0],
        }
    )
    assert fingerprint(by_hand, FEATURES) == result.fingerprint
    changed = by_hand.assign(tempo=[101.25, 125.5, 100.0, 120.5])
    assert fingerprint(changed, FEATURES) != result.fingerprint
    assert fingerprint(by_hand, ("danceability", "energy")) != result.fingerprint
    assert len(result.fingerprint) == 64


def test_filters_from_settings() -> None:
    settings = load_settings(features="tempo,energy", curate_min_popularity=40)
    filters = CurationFilters.from_settings(settings)
    assert filters.features == ("tempo", "energy")
    assert (filters.year_min, filters.year_max, filters.min_popularity) == (2010, 2019, 40)
    assert filters.keep_unknown_popularity is True and filters.duration_quantile == 0.95


def test_filters_off_and_empty_frame() -> None:
    empty = pd.DataFrame({c: pd.Series(dtype=np.float64) for c in frames.TRACK_FRAME_COLUMNS})
    empty["track_id"] = empty["track_id"].astype(object)
    empty["has_features"] = empty["has_features"].astype(bool)
    off = CurationFilters(None, None, None, True, None, ())
    result = curate(empty, off)
    assert [s.rule for s in result.funnel] == ["off", "off", "off", "off"]
    assert result.rows_out == 0
    with pytest.raises(ValueError, match="lacks feature columns: nope"):
        curate(empty, CurationFilters(features=("nope",)))


async def test_no_year_bound_keeps_tracks_without_a_year(db: Database) -> None:
    """A Kaggle catalogue has no release dates: with both bounds empty it curates."""
    await load(db)
    off = CurationFilters(**{**FILTERS.__dict__, "year_min": None, "year_max": None})
    result = await curate_catalogue(db, off)
    assert (result.funnel[0].rule, result.funnel[0].dropped) == ("off", 0)
    assert tid(3) in set(result.frame["track_id"])  # no album, no year: kept
    assert tid(2) in set(result.frame["track_id"])  # 2005: kept
    only_max = CurationFilters(**{**FILTERS.__dict__, "year_min": None})
    result = await curate_catalogue(db, only_max)
    assert result.funnel[0].rule == "…–2019"
    assert tid(3) not in set(result.frame["track_id"])  # a bound is on: no year, no match
    assert tid(2) in set(result.frame["track_id"])


async def test_an_emptied_set_names_the_filters_that_emptied_it(db: Database) -> None:
    await load(db)
    kept = await curate_catalogue(db, FILTERS)
    assert kept.emptied_by() is None
    future = await curate_catalogue(db, CurationFilters(**{**FILTERS.__dict__, "year_min": 2030}))
    assert future.emptied_by() == (
        "curation removed all 10 tracks: release year 2030–2019 (1 without a release year)"
        " removed 10 (relax TUNECLUSTER_CURATE_YEAR_MIN / _MAX, empty for no bound)"
    )
    both = CurationFilters(
        **{**FILTERS.__dict__, "min_popularity": 100, "keep_unknown_popularity": False}
    )
    message = (await curate_catalogue(db, both)).emptied_by()
    assert message is not None and "\n" not in message
    assert message.startswith("curation removed all 10 tracks: release year 2010–2019")
    assert "popularity ≥ 100 (track, else album popularity) (1 of unknown popularity)" in message
    assert "removed 8 (relax" in message and "TUNECLUSTER_CURATE_MIN_POPULARITY" in message
    assert "genre" not in message


async def test_train_fails_naming_the_filter_not_the_genres(db: Database, tmp_path) -> None:
    from bot.services.train import TrainSettings, train
    from sql.errors import TuneclusterError

    await load(db)
    config = TrainSettings(
        models_dir=tmp_path / "models",
        features=FEATURES,
        curation=CurationFilters(year_min=2030, year_max=None),
    )
    with pytest.raises(TuneclusterError) as failed:
        await train(db, config)
    assert str(failed.value).startswith("curation removed all 10 tracks: release year 2030–…")
    assert "genre" not in str(failed.value)
