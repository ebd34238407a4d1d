"""Training: feature plan, k choice, cells, determinism, and the train → activate service
with its atomic activation, rollback and pruning on both engines."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from bot.services import train as service
from bot.settings import DEFAULT_FEATURES
from pipeline.curation import CurationFilters
from recommender import bundle as bundles
from recommender import demo_catalogue, kselect, taxonomy, training
from recommender.cells import partition
from recommender.features import plan_features
from recommender.serving import Options, Recommender
from recommender.versions import VersionError
from sql import model_versions
from sql.database import Database
from sql.schema import cluster, genre_bucket, model_version, track_cluster

NO_FILTERS = CurationFilters(
    year_min=None, year_max=None, min_popularity=None, duration_quantile=None
)


@pytest.fixture(scope="module")
def worker() -> Iterator[ProcessPoolExecutor]:
    """One worker process for the module (spawning one per training costs seconds)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


def _frames(catalogue: demo_catalogue.DemoCatalogue) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The demo catalogue as `sql.frames` would return it (no database needed)."""
    albums = {a["album_id"]: a for a in catalogue.albums}
    features = {f["track_id"]: f for f in catalogue.features}
    rows = []
    for t in catalogue.tracks:
        album = albums[t["album_id"]]
        rows.append(
            {
                "track_id": t["track_id"],
                "name": t["name"],
                "release_year": float(album["release_date"][:4]),
                "duration_ms": float(t["duration_ms"]),
                "track_popularity": float(t["popularity"]),
                "album_popularity": float(album["popularity"]),
                "has_features": True,
                **{c: float(features[t["track_id"]][c]) for c in (*DEFAULT_FEATURES, "key")},
            }
        )
    frame = pd.DataFrame(rows)
    frame.index = frame["track_id"].to_numpy()
    by_artist: dict[str, list[str]] = {}
    for g in catalogue.artist_genres:
        by_artist.setdefault(g["artist_id"], []).append(g["genre"])
    pairs = [
        (link["track_id"], genre)
        for link in catalogue.artist_tracks
        for genre in by_artist.get(link["artist_id"], [])
    ]
    return frame, pd.DataFrame(pairs, columns=["track_id", "genre"])


def _fit(frame: pd.DataFrame, genres: pd.DataFrame) -> training.FitResult:
    plan = plan_features(frame, DEFAULT_FEATURES)
    data = training.prepare(frame, genres, taxonomy.load(), plan)
    return training.fit(data, training.TrainingConfig(seed=42, k_min=2, k_max=12)), data


# --- pure pieces --------------------------------------------------------------------------------


def test_feature_plan_drops_rare_and_imputes_optional() -> None:
    frame = pd.DataFrame(
        {
            "has_features": [True, True, True, True, False],
            "energy": [0.1, 0.2, 0.3, 0.4, np.nan],
            "mode": [1, np.nan, 0, 1, np.nan],
            "time_signature": [4, np.nan, np.nan, np.nan, np.nan],
        }
    )
    plan = plan_features(frame, ["energy", "mode", "time_signature"])
    assert plan.sound == ("energy", "mode")
    assert plan.required == ("energy",)
    assert dict(plan.dropped) == {"time_signature": 0.25}
    assert plan.missing_required({"energy": None, "mode": 1}) == ["energy"]
    assert plan.missing_required({"energy": 0.5, "mode": None}) == []


def test_k_choice_finds_the_elbow_of_separated_blobs() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=10, size=(5, 4))
    points = np.vstack([c + rng.normal(scale=0.5, size=(200, 4)) for c in centres])
    choice = kselect.choose(points, 2, 12, seed=1)
    assert choice.k == 5
    assert choice.criterion == "elbow"
    assert [s.k for s in choice.scores] == [2, 3, 4, 5, 6, 8, 10, 12]
    assert all(s.silhouette is not None for s in choice.scores)


def test_k_is_bounded_by_bucket_size() -> None:
    assert kselect.upper_bound(59, 24) == 1
    assert kselect.candidates(59, 2, 24) == [1]
    assert kselect.candidates(300, 2, 24) == [2, 3, 4, 5, 6, 8, 10]
    assert kselect.candidates(10_000, 2, 24)[-4:] == [12, 16, 20, 24]


def test_cells_are_contiguous_small_and_cover_the_cluster() -> None:
    rng = np.random.default_rng(3)
    points = rng.normal(size=(1000, 3))
    order, cells = partition(points, np.random.default_rng(4), leaf_size=24)
    assert sorted(order.tolist()) == list(range(1000))
    assert cells.sizes.sum() == 1000 and cells.sizes.max() <= 24
    assert (cells.starts == np.concatenate([[0], np.cumsum(cells.sizes)[:-1]])).all()
    ranges = cells.nearest(points[order[0]], wanted=50)
    assert sum(e - s for s, e in ranges) >= 50
    assert any(s <= 0 < e for s, e in ranges)  # the point's own cell is among the nearest


def test_training_is_deterministic_and_order_independent() -> None:
    frame, genres = _frames(demo_catalogue.generate(1500, seed=11))
    first, data = _fit(frame, genres)
    shuffled = frame.sample(frac=1.0, random_state=5)
    second, data_again = _fit(shuffled, genres.sample(frac=1.0, random_state=6))
    assert list(data.track_ids) == list(data_again.track_ids)
    assert {b: m.k for b, m in first.models.items()} == {b: m.k for b, m in second.models.items()}
    for a, b in zip(first.assignments, second.assignments, strict=True):
        assert a.bucket == b.bucket
        assert np.array_equal(a.rows, b.rows)
        assert np.array_equal(a.cluster, b.cluster)
        assert np.array_equal(a.position, b.position)
    for name, model in first.models.items():
        other = second.models[name]
        assert np.allclose(model.pipeline[-1].cluster_centers_, other.pipeline[-1].cluster_centers_)


def test_every_bucket_including_others_gets_a_model_and_fast_predict_matches() -> None:
    frame, genres = _frames(demo_catalogue.generate(1500, seed=11))
    result, data = _fit(frame, genres)
    assert set(result.models) == set(demo_catalogue.BUCKETS)
    for assignment in result.assignments:
        model = result.models[assignment.bucket]
        rows = data.sound[assignment.rows]
        assert np.array_equal(model.predict(rows), model.pipeline.predict(rows))
        assert np.array_equal(model.predict(rows), assignment.cluster)
        for number in range(model.k):
            positions = np.sort(assignment.position[assignment.cluster == number])
            assert np.array_equal(positions, np.arange(model.sizes[number]))


# --- the service on both engines ---------------------------------------------------------------


async def _catalogue(db: Database, tracks: int = 900) -> demo_catalogue.DemoCatalogue:
    catalogue = demo_catalogue.generate(tracks, seed=3)
    await demo_catalogue.write(db, catalogue)
    return catalogue


def _settings(tmp_path: Path, keep: int = 3, seed: int = 42) -> service.TrainSettings:
    return service.TrainSettings(
        models_dir=tmp_path / "models",
        models_keep=keep,
        features=DEFAULT_FEATURES,
        seed=seed,
        k_max=8,
        curation=NO_FILTERS,
    )


async def _count(db: Database, table, version: str) -> int:
    async with db.connection() as conn:
        column = table.c.model_version
        return int(
            await conn.scalar(select(func.count()).select_from(table).where(column == version))
        )


async def test_train_writes_bundle_assignments_and_activates(
    db: Database, tmp_path: Path, worker
) -> None:
    await _catalogue(db)
    config = _settings(tmp_path)
    report = await service.train(db, config, executor=worker)
    assert report.activated and report.previous is None
    meta = bundles.read_meta(config.models_dir, report.version)
    assert meta["version"] == report.version and meta["fingerprint"]
    assert set(meta["buckets"]) == set(demo_catalogue.BUCKETS)
    assert meta["data"]["others_track_share"] > 0
    expected = sum(b["tracks"] for b in meta["buckets"].values())
    assert report.assignments == expected
    assert await _count(db, track_cluster, report.version) == expected
    async with db.connection() as conn:
        assert await model_versions.active_version(conn) == report.version
        row = await model_versions.get_model_version(conn, report.version)
        sizes = (await conn.execute(select(func.sum(cluster.c.size)))).scalar()
        mapped = (await conn.execute(select(func.count()).select_from(genre_bucket))).scalar()
    assert row["status"] == "ready" and row["meta"]
    assert sizes == expected
    assert mapped > 0


async def test_failure_mid_training_leaves_the_old_version_serving(
    db: Database, tmp_path: Path, worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalogue = await _catalogue(db)
    config = _settings(tmp_path)
    old = (await service.train(db, config, executor=worker)).version

    calls = {"n": 0}
    real_write = model_versions.write_assignments

    async def failing_write(conn, rows):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full (simulated)")
        return await real_write(conn, rows)

    monkeypatch.setattr(model_versions, "write_assignments", failing_write)
    with pytest.raises(RuntimeError, match="simulated"):
        await service.train(db, _settings(tmp_path, seed=7), executor=worker)
    monkeypatch.undo()
    assert calls["n"] == 3  # it did fail half-way through the writes

    async with db.connection() as conn:
        assert await model_versions.active_version(conn) == old
        rows = await model_versions.list_model_versions(conn)
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 1 and "simulated" in failed[0]["error"]
    assert await _count(db, track_cluster, failed[0]["version"]) == 0
    assert await _count(db, cluster, failed[0]["version"]) == 0
    assert bundles.on_disk(config.models_dir) == [old]

    recommender = Recommender(config.models_dir)
    async with db.connection() as conn:
        result = await recommender.recommend(
            conn, catalogue.tracks[0]["track_id"], Options(n=3), rng=np.random.default_rng(0)
        )
    assert result.version == old and result.picks


async def test_rollback_and_pruning(db: Database, tmp_path: Path, worker) -> None:
    await _catalogue(db)
    config = _settings(tmp_path, keep=2)
    first = (await service.train(db, config, executor=worker)).version
    second = (await service.train(db, config, activate=False, executor=worker)).version
    async with db.connection() as conn:
        assert await model_versions.active_version(conn) == first  # --no-activate kept it
    switched = await service.activate(db, config.models_dir, second)
    assert (switched.version, switched.previous) == (second, first)
    rolled = await service.activate(db, config.models_dir, first)
    assert rolled.version == first

    third = await service.train(db, config, executor=worker)
    assert third.pruned == [first]  # the two newest ready versions stay
    assert bundles.on_disk(config.models_dir) == sorted([second, third.version])
    assert await _count(db, track_cluster, first) == 0
    async with db.connection() as conn:
        status = (
            await conn.execute(
                select(model_version.c.status).where(model_version.c.version == first)
            )
        ).scalar()
    assert status == "pruned"
    with pytest.raises(VersionError, match="pruned"):
        await service.activate(db, config.models_dir, first)
    with pytest.raises(VersionError, match="no model version"):
        await service.activate(db, config.models_dir, "nope")


async def test_training_an_empty_catalogue_fails_in_one_line(db: Database, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="catalogue is empty") as raised:
        await service.train(db, _settings(tmp_path))
    assert "\n" not in str(raised.value)
