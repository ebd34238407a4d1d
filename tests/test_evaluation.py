"""Offline evaluation: the metrics on generated playlists, the leakage warning, and the
must-show figure on TidyTuesday (the default strategy ≥ 2.5× random-in-bucket)."""

from __future__ import annotations

import multiprocessing
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from bot.services import train as train_service
from bot.settings import DEFAULT_FEATURES, Settings
from pipeline.curation import CurationFilters
from pipeline.importers import import_dataset
from recommender import demo_catalogue
from recommender.evaluation import BASELINES, EvalConfig, evaluate
from recommender.serving import STRATEGIES, Recommender
from sql import catalogue as store
from sql.database import Database
from sql.errors import TuneclusterError
from sql.migrate import init_schema

NO_FILTERS = CurationFilters(
    year_min=None, year_max=None, min_popularity=None, duration_quantile=None
)


async def _trained(folder: Path, *, playlists: bool = True) -> tuple[Database, Path]:
    db = Database(f"sqlite+aiosqlite:///{folder / 'eval.db'}")
    await init_schema(db)
    catalogue = demo_catalogue.generate(1500, seed=5, playlists=None if playlists else 0)
    await demo_catalogue.write(db, catalogue)
    config = train_service.TrainSettings(
        models_dir=folder / "models", features=DEFAULT_FEATURES, curation=NO_FILTERS
    )
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        await train_service.train(db, config, executor=pool)
    return db, folder / "models"


@pytest.fixture(scope="module")
async def generated(tmp_path_factory) -> AsyncIterator[tuple[Database, Path]]:
    db, models_dir = await _trained(tmp_path_factory.mktemp("evaluation"))
    try:
        yield db, models_dir
    finally:
        await db.dispose()


async def test_metrics_on_generated_playlists(generated) -> None:
    db, models_dir = generated
    config = EvalConfig(seeds=120, repeat_seeds=40)
    result = await evaluate(db, Recommender(models_dir), config)
    assert set(result["methods"]) == {*STRATEGIES, *BASELINES}
    assert result["seeds"] == 120 and result["k"] == 10
    assert result["warnings"] == []  # generated genres do not come from playlists
    for metrics in result["methods"].values():
        assert metrics["picks_per_seed"] == 10
        for key in (
            "hit_rate_at_1",
            "hit_rate_at_k",
            "coverage",
            "same_artist_rate",
            "repeat_rate",
        ):
            assert 0 <= metrics[key] <= 1
        assert (
            metrics["hit_rate_at_1"] <= metrics["hit_rate_at_k"] <= metrics["artist_hit_rate_at_k"]
        )
    methods = result["methods"]
    assert methods["popular-in-bucket"]["repeat_rate"] == 1.0  # deterministic baseline
    assert methods["popular-in-bucket"]["coverage"] < methods["random-in-bucket"]["coverage"]
    assert (
        methods["cluster-nearest"]["hit_rate_at_k"] > methods["random-in-bucket"]["hit_rate_at_k"]
    )
    assert methods["random-in-bucket"]["hit_rate_at_k"] > methods["random-global"]["hit_rate_at_k"]
    assert (
        methods["cluster-nearest"]["mean_feature_distance"]
        < methods["random-in-bucket"]["mean_feature_distance"]
    )
    again = await evaluate(db, Recommender(models_dir), config)
    assert again["methods"] == result["methods"]  # seeded: the same table every run


async def test_playlist_derived_genres_raise_the_leakage_warning(generated) -> None:
    db, models_dir = generated
    async with db.transaction() as conn:
        artist_id = demo_catalogue.demo_id("a", 0)
        await store.upsert_artist_genres(
            conn, [{"artist_id": artist_id, "genre": "dance pop", "source": "playlist-subgenre"}]
        )
    result = await evaluate(db, Recommender(models_dir), EvalConfig(seeds=20, repeat_seeds=0))
    assert len(result["warnings"]) == 1 and "leakage" in result["warnings"][0]


async def test_no_playlists_is_a_clear_error(tmp_path: Path) -> None:
    db, models_dir = await _trained(tmp_path, playlists=False)
    try:
        with pytest.raises(TuneclusterError, match="needs playlists"):
            await evaluate(db, Recommender(models_dir), EvalConfig(seeds=10))
    finally:
        await db.dispose()


@pytest.mark.slow
async def test_tidytuesday_default_strategy_beats_the_baselines(
    shared_data: Path, tmp_path: Path
) -> None:
    """The issue's must-show, with the default settings (curation included)."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'tidytuesday.db'}")
    try:
        await init_schema(db)
        await import_dataset(db, "tidytuesday", shared_data / "tidytuesday")
        defaults = Settings(models_dir=tmp_path / "models")
        config = train_service.TrainSettings.from_settings(defaults)
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            await train_service.train(db, config, executor=pool)
        result = await evaluate(
            db, Recommender(config.models_dir), EvalConfig(seeds=250, repeat_seeds=20)
        )
    finally:
        await db.dispose()
    methods = result["methods"]
    default = methods[defaults.strategy]
    assert default["hit_rate_at_k"] >= 2.5 * methods["random-in-bucket"]["hit_rate_at_k"]
    assert default["hit_rate_at_k"] > methods["popular-in-bucket"]["hit_rate_at_k"]
    assert any("leakage" in w for w in result["warnings"])
