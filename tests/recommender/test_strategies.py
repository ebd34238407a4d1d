"""The strategy registry, the hybrid strategy, artist variety, popularity-free operation
and answers that say why they are short."""

from __future__ import annotations

import multiprocessing
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from bot.services import train as train_service
from bot.settings import DEFAULT_FEATURES, ConfigError, load_settings
from pipeline.curation import CurationFilters
from recommender import demo_catalogue, evaluation, strategies
from recommender.picking import PLAYED_TOGETHER, SOUND
from recommender.serving import Options, Recommender
from sql import model_versions
from sql.database import Database
from sql.migrate import init_schema
from tests.support.cli import run_cli, settings_env
from tests.support.environment import ROOT

NO_FILTERS = CurationFilters(
    year_min=None, year_max=None, min_popularity=None, duration_quantile=None
)


@dataclass
class World:
    db: Database
    models_dir: Path
    catalogue: demo_catalogue.DemoCatalogue
    version: str
    hidden: str  # a version trained with popularity hidden


@pytest.fixture(scope="module")
async def world(tmp_path_factory) -> AsyncIterator[World]:
    folder = tmp_path_factory.mktemp("strategies")
    db = Database(f"sqlite+aiosqlite:///{folder / 'strategies.db'}")
    await init_schema(db)
    catalogue = demo_catalogue.generate(1500, seed=5)
    await demo_catalogue.write(db, catalogue)
    config = train_service.TrainSettings(
        models_dir=folder / "models", features=DEFAULT_FEATURES, curation=NO_FILTERS
    )
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        trained = await train_service.train(db, config, executor=pool)
        hidden = await train_service.train(
            db, replace(config, hide_popularity=True), executor=pool, activate=False
        )
    try:
        yield World(db, config.models_dir, catalogue, trained.version, hidden.version)
    finally:
        await db.dispose()


async def _recommend(world: World, track_id: str, version: str | None = None, **options):
    async with world.db.connection() as conn:
        return await Recommender(world.models_dir).recommend(
            conn, track_id, Options(**options), rng=np.random.default_rng(0), version=version
        )


def _seeds(world: World, count: int) -> list[str]:
    return world.catalogue.truth["track_id"].iloc[:: len(world.catalogue.truth) // count].tolist()


def _primary_artist(world: World) -> dict[str, str]:
    return {
        link["track_id"]: link["artist_id"]
        for link in world.catalogue.artist_tracks
        if link.get("position", 0) == 0
    }


# --- the registry ---------------------------------------------------------------------------


def test_the_registry_drives_settings_cli_and_evaluation() -> None:
    names = strategies.names()
    assert strategies.available() == names  # each module is named like its strategy
    assert names[0] == strategies.DEFAULT == "hybrid"
    assert {"cluster-nearest", "cluster-random"} <= set(names)
    assert all(strategies.described()[n] for n in names)  # every strategy has its help
    for name in names:
        assert load_settings(strategy=name).strategy == name
    with pytest.raises(ConfigError, match=r"TUNECLUSTER_STRATEGY.*one of: hybrid"):
        load_settings(strategy="magic")
    assert evaluation.EvalConfig().methods()[: len(names)] == names
    shown = run_cli("recommend", "--help", env={**settings_env(), "COLUMNS": "200"}, cwd=ROOT)
    assert shown.returncode == 0, shown.stderr
    assert "|".join(names) in shown.stdout
    docs = (ROOT / "docs" / "recommender.md").read_text()
    assert all(f"`{name}`" in docs for name in names)


def test_a_strategy_registers_once() -> None:
    @strategies.register
    class Probe(strategies.Strategy):
        name = "probe-test-only"
        help = "a probe"

        async def rounds(self, picker):  # pragma: no cover - never served
            yield

    try:
        assert strategies.get("probe-test-only") is not None
        with pytest.raises(ValueError, match="registered twice"):
            strategies.register(Probe)
    finally:
        strategies._REGISTRY.pop("probe-test-only")


# --- the hybrid strategy and variety -----------------------------------------------------------


async def test_hybrid_rests_on_playlists_and_says_so(world: World) -> None:
    bundle = Recommender(world.models_dir).bundle(world.version)
    assert bundle.association is not None and bundle.layout is not None
    warm = [s for s in _seeds(world, 40) if bundle.association.has_history(s)]
    assert len(warm) >= 15
    together = 0
    for seed in warm:
        result = await _recommend(world, seed, n=5)
        assert len(result.picks) == 5 and result.short_reason is None
        buckets = set(result.track.buckets)
        for pick in result.picks:
            assert pick.bucket in buckets  # candidates come from the seed's buckets
            assert pick.basis in (PLAYED_TOGETHER, SOUND)
            if pick.basis == PLAYED_TOGETHER:
                together += 1
                assert pick.shared_playlists >= 1
            else:
                assert pick.shared_playlists == 0
    assert together >= 2 * len(warm)  # most picks rest on what people play together


async def test_at_most_one_pick_per_artist_and_the_inputs_artist_last(world: World) -> None:
    artist_of = _primary_artist(world)
    repeated = 0
    for seed in _seeds(world, 30):
        for strategy in strategies.names():
            result = await _recommend(world, seed, n=8, strategy=strategy)
            artists = [artist_of[p.track_id] for p in result.picks]
            assert len(artists) == len(set(artists)), (strategy, seed)
            assert artist_of[seed] not in artists  # plenty of other artists fit
        loose = await _recommend(world, seed, n=8, strategy="cluster-nearest", max_per_artist=0)
        artists = [artist_of[p.track_id] for p in loose.picks]
        repeated += len(artists) != len(set(artists))
    assert repeated > 0  # the control: without the rule, artists do repeat


def _details(name: str, artist: str) -> dict:
    return {"name": name, "artists": [{"artist_id": artist, "name": artist}], "has_features": True}


async def _choose(n: int, cap: int, candidates: list[tuple[str, str]]) -> list[str]:
    """Picker.choose on one round of (track, artist) candidates; the input is by `me`."""
    from types import SimpleNamespace

    from recommender.picking import Candidate, Picker, Placement, Round

    placed = SimpleNamespace(
        bundle=SimpleNamespace(version="v"),
        details=_details("Input", "me"),
        info=SimpleNamespace(track_id="input"),
    )
    picker = Picker(None, placed, Options(n=n, max_per_artist=cap), np.random.default_rng(0))
    place = Placement("rock", 0, 10)
    known = {t: _details(f"Song {t}", a) for t, a in candidates}

    async def rounds():
        yield Round([Candidate(t, place) for t, _ in candidates], known)

    return [c.track_id for c in await picker.choose(rounds())]


async def test_the_inputs_artist_only_where_nothing_else_fits() -> None:
    ranked = [("m1", "me"), ("b1", "b"), ("b2", "b"), ("c1", "c"), ("m2", "me")]
    assert await _choose(2, 1, ranked) == ["b1", "c1"]
    assert await _choose(3, 1, ranked) == ["b1", "c1", "m1"]  # nothing else fits: m1 after all
    assert await _choose(5, 1, ranked) == ["b1", "c1", "m1"]  # still one per artist
    assert await _choose(5, 2, ranked) == ["b1", "b2", "c1", "m1", "m2"]
    assert await _choose(3, 0, ranked) == ["m1", "b1", "b2"]  # 0: no variety rule


async def test_works_without_any_popularity(world: World) -> None:
    """As a 2026 development-mode app: no popularity on any track."""
    bundle = Recommender(world.models_dir).bundle(world.hidden)
    assert bundle.meta["curation"]["rows_out"] > 0
    for seed in _seeds(world, 15):
        for strategy in strategies.names():
            result = await _recommend(world, seed, version=world.hidden, n=5, strategy=strategy)
            assert len(result.picks) == 5
    async with world.db.connection() as conn:
        assert await model_versions.active_version(conn) == world.version  # untouched


async def test_an_exhausted_neighbourhood_widens_then_says_why(world: World) -> None:
    bundle = Recommender(world.models_dir).bundle(world.version)
    for seed in _seeds(world, 60):  # a seed whose cluster holds fewer than 50 tracks
        filed = await _recommend(world, seed, n=1)
        place = min(filed.placements, key=lambda p: p.cluster_size)
        n = min(50, int(bundle.models[place.bucket].sizes.sum()) - 1)
        if place.cluster_size < n:
            break
    else:
        pytest.fail("no seed with a small cluster")
    wide = await _recommend(world, seed, n=n, bucket=place.bucket, max_per_artist=0)
    assert len(wide.picks) == n  # widened to the bucket's other clusters
    assert {p.cluster for p in wide.picks} - {place.cluster}
    varied = await _recommend(world, seed, n=50)
    assert 0 < len(varied.picks) < 50  # one per artist: its buckets hold fewer artists
    assert "by artists already picked" in varied.short_reason
    rows = [
        {"guild_id": 9, "pick_track_id": t, "input_track_id": seed}
        for t in world.catalogue.truth["track_id"]
    ]
    async with world.db.transaction() as conn:
        await model_versions.log_recommendations(conn, rows)
    short = await _recommend(world, seed, n=5, guild_id=9)
    assert short.picks == []
    assert "recently recommended" in short.short_reason
