"""Serving on both engines: the pick queries, exclusions, explanations, clear reasons,
and the recommend / genres services behind the command line."""

from __future__ import annotations

import io
import json
import multiprocessing
import subprocess
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from sqlalchemy.engine import make_url

from bot.cli import recommend as recommend_cli
from bot.services import genres as genres_service
from bot.services import recommend as recommend_service
from bot.services import train as train_service
from bot.settings import DEFAULT_FEATURES
from pipeline.curation import CurationFilters
from recommender import demo_catalogue
from recommender.features import NoFeatures
from recommender.serving import (
    NoActiveModel,
    NoBucket,
    Options,
    Recommender,
    UnknownStrategy,
    UnknownTrack,
    song_key,
)
from sql import catalogue as store
from sql import clock, model_versions, picks
from sql.database import Database
from sql.migrate import init_schema
from tests.support.cli import run_cli, settings_env
from tests.support.databases import MYSQL_URL, clear_mysql, drop_mysql, in_fresh_loop

SOURCE = "test"
ORIGINAL = demo_catalogue.demo_id("t", 0)


def _id(word: str) -> str:
    """A well-formed 22-character base62 test id."""
    return f"0TEST{word}".ljust(22, "0")


SAME_SONG = _id("samesong")  # same title and artist as ORIGINAL, another id
TWIN = _id("twin")  # same sound, other title and artist: a legitimate pick
SAME_ARTIST = _id("sameartist")  # same sound and artist, other title
NO_FEATURES = _id("nofeatures")
NO_GENRE = _id("nogenre")
TWIN_ARTIST = _id("artisttwin")
LONELY_ARTIST = _id("artistlonely")


@dataclass
class Trained:
    db: Database
    models_dir: Path
    catalogue: demo_catalogue.DemoCatalogue
    url: str


async def _build(url: str, models_dir: Path) -> Trained:
    db = Database(url)
    await init_schema(db)
    if db.dialect == "mysql":
        await clear_mysql(db)  # a database left over by an interrupted run
    catalogue = demo_catalogue.generate(1200, seed=21)
    await demo_catalogue.write(db, catalogue)
    original = next(t for t in catalogue.tracks if t["track_id"] == ORIGINAL)
    features = next(f for f in catalogue.features if f["track_id"] == ORIGINAL)
    artist_id = catalogue.artist_tracks[0]["artist_id"]
    clones = [
        (SAME_SONG, f"{original['name']} - Remastered 2011", artist_id),
        (TWIN, "Entirely Different", TWIN_ARTIST),
        (SAME_ARTIST, "Another One", artist_id),
    ]
    async with db.transaction() as conn:
        await store.upsert_artists(
            conn,
            [
                {"artist_id": TWIN_ARTIST, "name": "Twin Artist", "source": SOURCE},
                {"artist_id": LONELY_ARTIST, "name": "No Genre Artist", "source": SOURCE},
            ],
        )
        genres = [g for g in catalogue.artist_genres if g["artist_id"] == artist_id]
        await store.upsert_artist_genres(conn, [{**g, "artist_id": TWIN_ARTIST} for g in genres])
        tracks = [
            {**original, "track_id": tid, "name": name, "source": SOURCE} for tid, name, _ in clones
        ]
        tracks += [
            {**original, "track_id": NO_FEATURES, "name": "Unmeasured", "source": SOURCE},
            {**original, "track_id": NO_GENRE, "name": "Ungenred", "source": SOURCE},
        ]
        await store.upsert_tracks(conn, tracks)
        await store.upsert_audio_features(
            conn,
            [{**features, "track_id": tid} for tid, _, _ in clones]
            + [{**features, "track_id": NO_GENRE}],
        )
        await store.link_artist_tracks(
            conn,
            [{"artist_id": a, "track_id": t, "position": 0} for t, _, a in clones]
            + [
                {"artist_id": artist_id, "track_id": NO_FEATURES, "position": 0},
                {"artist_id": LONELY_ARTIST, "track_id": NO_GENRE, "position": 0},
            ],
        )
    config = train_service.TrainSettings(
        models_dir=models_dir,
        features=DEFAULT_FEATURES,
        k_max=6,
        curation=CurationFilters(
            year_min=None, year_max=None, min_popularity=None, duration_quantile=None
        ),
    )
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        await train_service.train(db, config, executor=pool)
    return Trained(db, models_dir, catalogue, url)


@pytest.fixture(scope="module", params=["sqlite", "mysql"])
async def trained(request: pytest.FixtureRequest, tmp_path_factory) -> AsyncIterator[Trained]:
    """A trained generated catalogue per engine (its own MySQL database, so the
    per-test `db` fixture never clears it)."""
    folder = tmp_path_factory.mktemp(f"serving-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{folder / 'serving.db'}"
    else:
        request.getfixturevalue("mysql_database")  # skips/fails when MariaDB is absent
        base = make_url(MYSQL_URL)
        url = base.set(database=f"{base.database}_serving").render_as_string(hide_password=False)
    built = await _build(url, folder / "models")
    try:
        yield built
    finally:
        await built.db.dispose()
        if request.param == "mysql":
            in_fresh_loop(drop_mysql(url))


async def _recommend(t: Trained, track_id: str, seed: int, **options) -> list[str]:
    recommender = Recommender(t.models_dir)
    async with t.db.connection() as conn:
        result = await recommender.recommend(
            conn, track_id, Options(**options), rng=np.random.default_rng(seed)
        )
    return [p.track_id for p in result.picks]


# --- the pick queries ---------------------------------------------------------------------------


async def test_pick_queries_seek_through_positions(db: Database) -> None:
    rows = [("v1", "rock", c, p, f"t{c}-{p:04d}") for c in (0, 1) for p in range(300)]
    rows += [("v2", "rock", 0, p, f"old-{p}") for p in range(10)]
    async with db.transaction() as conn:
        await model_versions.write_assignments(conn, rows)
    async with db.connection() as conn:
        found = await picks.seek(conn, "v1", [("rock", 0, 17), ("rock", 1, 298), ("jazz", 0, 0)], 4)
        ranges = await picks.position_ranges(
            conn, "v1", [("rock", 1, 10, 13), ("rock", 0, 299, 400)]
        )
        many = await picks.seek(conn, "v1", [("rock", 0, i) for i in range(150)], 1)
    assert found[0] == [(p, f"t0-{p:04d}") for p in range(17, 21)]
    assert found[1] == [(298, "t1-0298"), (299, "t1-0299")]  # the end of the cluster: short
    assert found[2] == []
    assert ranges == [[(p, f"t1-{p:04d}") for p in range(10, 13)], [(299, "t0-0299")]]
    assert [r[0][0] for r in many] == list(range(150))  # more seeks than one statement holds


async def test_pick_queries_with_details(db: Database) -> None:
    ids = [f"0TESTpick{p:013d}" for p in range(40)]
    async with db.transaction() as conn:
        await store.upsert_artists(
            conn,
            [
                {"artist_id": "0TESTartistA000000000", "name": "A", "source": SOURCE},
                {"artist_id": "0TESTartistB000000000", "name": "B", "source": SOURCE},
            ],
        )
        await store.upsert_tracks(
            conn,
            [
                {"track_id": t, "name": f"Song {i}", "source": SOURCE}
                for i, t in enumerate(ids[:-1])
            ],
        )
        await store.link_artist_tracks(
            conn,
            [{"artist_id": "0TESTartistA000000000", "track_id": t, "position": 0} for t in ids[:-1]]
            + [{"artist_id": "0TESTartistB000000000", "track_id": ids[5], "position": 1}],
        )
        await model_versions.write_assignments(
            conn, [("v1", "pop", 2, p, t) for p, t in enumerate(ids)]
        )
    async with db.connection() as conn:
        found, known = await picks.seek_with_details(conn, "v1", [("pop", 2, 4), ("pop", 2, 37)], 3)
        at, more = await picks.at_positions_with_details(
            conn, "v1", [("pop", 2, [7, 1, 39]), ("pop", 3, [0]), ("pop", 2, list(range(8)))]
        )
    assert found[0] == [(4, ids[4]), (5, ids[5]), (6, ids[6])]  # two artists: one row
    assert found[1] == [(37, ids[37]), (38, ids[38])]  # ids[39] is gone from the catalogue
    assert known[ids[5]]["name"] == "Song 5"
    assert [a["name"] for a in known[ids[5]]["artists"]] == ["A", "B"]
    assert known[ids[4]]["has_features"] is False
    assert at[0] == [(1, ids[1]), (7, ids[7])] and at[1] == []  # 39: gone; cluster 3: none
    assert [t for _, t in at[2]] == ids[:8] and set(more) == set(ids[:8])


# --- recommendations ------------------------------------------------------------------------------


async def test_picks_carry_explanations(trained: Trained) -> None:
    recommender = Recommender(trained.models_dir)
    for strategy in ("cluster-nearest", "cluster-random"):
        async with trained.db.connection() as conn:
            result = await recommender.recommend(
                conn, ORIGINAL, Options(n=5, strategy=strategy), rng=np.random.default_rng(1)
            )
        assert len(result.picks) == 5
        assert {p.bucket for p in result.placements} == set(result.track.buckets)
        placed = {(p.bucket, p.cluster) for p in result.placements}
        for pick in result.picks:
            assert (pick.bucket, pick.cluster) in placed
            assert pick.distance >= 0
            assert len(pick.similar) == 3
            assert {"feature", "input", "pick"} <= set(pick.similar[0])
            assert pick.similar[0]["feature"] not in ("mode", "key", "time_signature")


async def test_nearest_is_varied_but_near(trained: Trained) -> None:
    runs = [
        await _recommend(trained, ORIGINAL, seed, n=5, strategy="cluster-nearest")
        for seed in range(6)
    ]
    assert len({tuple(r) for r in runs}) > 1  # not the same answer every time
    assert sum(TWIN in r for r in runs) >= 1  # the identical-sounding track is near


async def test_exclusions_same_track_same_song_same_artist(trained: Trained) -> None:
    seen_twin = seen_same_artist = 0
    for seed in range(25):
        for strategy in ("cluster-nearest", "cluster-random"):
            chosen = await _recommend(
                trained, ORIGINAL, seed, n=10, strategy=strategy, max_per_artist=0
            )
            assert ORIGINAL not in chosen and SAME_SONG not in chosen
            assert len(chosen) == len(set(chosen))
            seen_twin += TWIN in chosen
            seen_same_artist += SAME_ARTIST in chosen
            strict = await _recommend(
                trained, ORIGINAL, seed, n=10, strategy=strategy, exclude_same_artist=True
            )
            assert SAME_ARTIST not in strict
            artist_tracks = {
                link["track_id"]
                for link in trained.catalogue.artist_tracks
                if link["artist_id"] == trained.catalogue.artist_tracks[0]["artist_id"]
            }
            assert not artist_tracks & set(strict)
    # The controls: near-identical tracks that are not the same song do get picked.
    assert seen_twin > 0 and seen_same_artist > 0


async def test_picks_can_be_limited_to_one_bucket(trained: Trained) -> None:
    recommender = Recommender(trained.models_dir)
    async with trained.db.connection() as conn:
        filed = await recommender.recommend(conn, ORIGINAL, Options(n=2))
        bucket = filed.track.buckets[-1]
        result = await recommender.recommend(conn, ORIGINAL, Options(n=6, bucket=bucket))
        assert {p.bucket for p in result.picks} == {bucket}
        assert [p.bucket for p in result.placements] == [bucket]
        other = next(b for b in demo_catalogue.BUCKETS if b not in filed.track.buckets)
        with pytest.raises(NoBucket, match="is not filed under"):
            await recommender.recommend(conn, ORIGINAL, Options(bucket=other))


async def test_no_repeat_within_the_guild_window(trained: Trained) -> None:
    old = clock.naive_now() - timedelta(days=30)
    async with trained.db.transaction() as conn:
        await model_versions.log_recommendations(
            conn,
            [
                {"guild_id": 1, "pick_track_id": TWIN, "input_track_id": ORIGINAL},
                {"guild_id": 3, "pick_track_id": TWIN, "created_at": old},
            ],
        )
    counts = {1: 0, 2: 0, 3: 0}
    for seed in range(20):
        for guild in counts:
            chosen = await _recommend(trained, ORIGINAL, seed, n=10, guild_id=guild)
            counts[guild] += TWIN in chosen
    assert counts[1] == 0  # recommended in guild 1 today: excluded for 7 days
    assert counts[2] > 0 and counts[3] > 0  # another guild; an entry past the window


async def test_clear_reasons_instead_of_traces(trained: Trained) -> None:
    recommender = Recommender(trained.models_dir)
    async with trained.db.connection() as conn:
        with pytest.raises(NoFeatures, match="no audio features"):
            await recommender.recommend(conn, NO_FEATURES, Options())
        with pytest.raises(NoBucket, match="no genre"):
            await recommender.recommend(conn, NO_GENRE, Options())
        with pytest.raises(UnknownTrack, match="not in the catalogue"):
            await recommender.recommend(conn, _id("unknown"), Options())
        with pytest.raises(UnknownStrategy, match="unknown strategy 'magic'"):
            await recommender.recommend(conn, ORIGINAL, Options(strategy="magic"))
    with pytest.raises(NoActiveModel, match="tunecluster train"):
        empty = Recommender(trained.models_dir)
        db = Database(f"sqlite+aiosqlite:///{trained.models_dir.parent / 'empty.db'}")
        await init_schema(db)
        try:
            async with db.connection() as conn:
                await empty.recommend(conn, ORIGINAL, Options())
        finally:
            await db.dispose()


async def test_recommend_service_resolves_links_and_logs(trained: Trained) -> None:
    recommender = Recommender(trained.models_dir)
    config = recommend_service.RecommendSettings(models_dir=trained.models_dir)
    link = f"https://open.spotify.com/track/{ORIGINAL}?si=abc"
    result = await recommend_service.recommend(
        trained.db, recommender, link, config, n=4, guild_id=77, user_id=5
    )
    assert result.track.track_id == ORIGINAL and len(result.picks) == 4
    async with trained.db.connection() as conn:
        logged = await picks.recently_recommended(
            conn, 77, [p.track_id for p in result.picks], clock.naive_now() - timedelta(hours=1)
        )
    assert logged == {p.track_id for p in result.picks}
    by_name = await recommend_service.recommend(
        trained.db, recommender, "Entirely Different", config, n=2, log=False
    )
    assert by_name.track.track_id == TWIN


async def test_genres_service_files_the_track(trained: Trained) -> None:
    recommender = Recommender(trained.models_dir)
    filed = await genres_service.genres(trained.db, recommender, ORIGINAL)
    assert filed.buckets and filed.placements and filed.reason is None
    assert all(g.buckets for g in filed.genres)
    unplaced = await genres_service.genres(trained.db, recommender, NO_FEATURES)
    assert unplaced.buckets and unplaced.placements == []
    assert unplaced.reason is not None and "no audio features" in unplaced.reason
    buffer = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:  # the command's human rendering
        patch.setattr(recommend_cli, "console", Console(file=buffer, width=200))
        recommend_cli._render_genres(filed.to_dict())
        recommend_cli._render_genres(unplaced.to_dict())
    text = buffer.getvalue()
    assert "buckets:" in text and "cluster" in text and "not placed: " in text


def test_song_key_ignores_versions() -> None:
    assert song_key("Hello - Remastered 2011", "Adele") == song_key("Hello", "ADELE")
    assert song_key("Hello (feat. X) [Live]", "Adele") == song_key("hello", "adele")
    assert song_key("Hello", "Adele") != song_key("Hello", "Lionel Richie")


# --- the command line ---------------------------------------------------------------------------


def _cli(*args: str, url: str, models_dir: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=settings_env(database_url=url, models_dir=models_dir), cwd=cwd)


async def test_cli_recommend_genres_and_errors(trained: Trained, tmp_path: Path) -> None:
    if trained.url.startswith("mysql"):
        pytest.skip("the command line is exercised once, on SQLite")
    ok = _cli(
        "recommend",
        ORIGINAL,
        "-n",
        "3",
        "--json",
        url=trained.url,
        models_dir=trained.models_dir,
        cwd=tmp_path,
    )
    assert ok.returncode == 0, ok.stderr
    payload = json.loads(ok.stdout)
    assert payload["track"]["track_id"] == ORIGINAL and len(payload["picks"]) == 3
    failed = _cli(
        "recommend", NO_FEATURES, url=trained.url, models_dir=trained.models_dir, cwd=tmp_path
    )
    assert failed.returncode == 1
    assert "no audio features" in failed.stderr and "Traceback" not in failed.stderr
