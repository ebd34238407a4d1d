"""Serving benchmark: pick and recommend latency in process, on MariaDB and SQLite, at two
catalogue sizes measured in the same run (interleaved, so machine noise hits both).

For every engine and size a generated catalogue is built and trained (curation off, so
every track is in the model), then:

- pick: one `cluster-random` seek (`sql.picks.seek`, a random position of a random
  cluster) and one `cluster-nearest` cell read (`sql.picks.position_ranges`), alone;
- recommend: `Recommender.recommend` for a trained catalogue track, n = 5, every
  registered strategy (the generated catalogue has playlists, so `hybrid` has partners): active-version lookup, the input's details and genres, cluster
  prediction, the picks, candidate details, exclusions and explanations.

Targets: recommend p50 < 10 ms and p99 < 50 ms; the pick at the large size within 1.5×
of the small size. With --real, the same recommend figures on MusicOSet + TidyTuesday.

    python benchmarks/serve.py                                   # 10k and 1M, both engines
    python benchmarks/serve.py --sizes 10000,100000 --engines sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.services import train as train_service  # noqa: E402
from bot.settings import Settings  # noqa: E402
from pipeline.curation import CurationFilters  # noqa: E402
from pipeline.importers import import_dataset  # noqa: E402
from recommender import demo_catalogue, strategies  # noqa: E402
from recommender.serving import Options, Recommender  # noqa: E402
from sql import model_versions, picks  # noqa: E402
from sql.database import Database  # noqa: E402
from sql.migrate import init_schema  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "serve.json"
MYSQL_BASE = os.environ.get(
    "TUNECLUSTER_TEST_MYSQL_URL", "mysql+aiomysql://root@127.0.0.1:3306/tunecluster_test"
)
NO_FILTERS = CurationFilters(
    year_min=None, year_max=None, min_popularity=None, duration_quantile=None
)
ROUNDS = 10
PER_ROUND = 40
# Full scans that bring a catalogue's tables and the indexes serving uses into the
# engine's cache, as on a server that has been answering for a while.
WARM_UP = (
    "SELECT COUNT(*), SUM(position) FROM track_cluster",
    "SELECT COUNT(*), SUM(LENGTH(name)) FROM track",
    "SELECT COUNT(*), SUM(release_year) FROM album",
    "SELECT COUNT(*), SUM(energy) FROM audio_features",
    "SELECT COUNT(*) FROM artist_track WHERE track_id > ''",
    "SELECT COUNT(*), SUM(LENGTH(name)) FROM artist",
    "SELECT COUNT(*) FROM artist_genre WHERE artist_id > ''",
    "SELECT COUNT(*) FROM track_genre WHERE track_id > ''",
)


@dataclass
class Target:
    engine: str
    label: str
    url: str
    models_dir: Path
    db: Database | None = None
    version: str = ""
    clusters: list[tuple[str, int, int]] | None = None  # bucket, cluster, size
    seeds: list[str] | None = None
    recommender: Recommender | None = None


def _url(engine: str, label: str, folder: Path) -> str:
    if engine == "sqlite":
        return f"sqlite+aiosqlite:///{folder / f'serve-{label}.db'}"
    base = make_url(MYSQL_BASE)
    return base.set(database=f"tunecluster_bench_serve_{label}").render_as_string(
        hide_password=False
    )


def _build(url: str, tracks: int) -> None:
    """Generate and load in a worker process (keeps the generator's memory out)."""

    async def load() -> None:
        db = Database(url)
        try:
            await _fresh_schema(db)
            # playlists too (one per 6 tracks, ~30 entries): the hybrid's partners
            catalogue = demo_catalogue.generate(tracks, seed=2)
            await demo_catalogue.write(db, catalogue, chunk=50_000)
        finally:
            await db.dispose()

    asyncio.run(load())


async def _fresh_schema(db: Database) -> None:
    if db.dialect == "mysql":
        await _drop(db)
    await init_schema(db)


async def _drop(db: Database) -> None:
    if db.dialect != "mysql":
        return
    server = Database(db.url.set(database="mysql"))
    try:
        async with server.transaction() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS `{db.url.database}`"))
    finally:
        await server.dispose()


async def prepare(target: Target, tracks: int | None, pool: ProcessPoolExecutor) -> dict:
    started = time.perf_counter()
    if tracks is not None:
        await asyncio.get_running_loop().run_in_executor(pool, _build, target.url, tracks)
        target.db = Database(target.url)
        curation = NO_FILTERS
    else:  # the real catalogue
        target.db = Database(target.url)
        await _fresh_schema(target.db)
        for fmt, path in (
            ("musicoset", SHARED / "musicoset"),
            ("tidytuesday", SHARED / "tidytuesday"),
        ):
            await import_dataset(target.db, fmt, path)
        curation = CurationFilters()
    built = time.perf_counter() - started
    config = replace(
        train_service.TrainSettings.from_settings(Settings(models_dir=target.models_dir)),
        curation=curation,
    )
    started = time.perf_counter()
    report = await train_service.train(target.db, config, executor=pool)
    trained = time.perf_counter() - started
    target.version = report.version
    target.clusters = [
        (b, c, size)
        for b, meta in report.meta["buckets"].items()
        for c, size in enumerate(meta["cluster_sizes"])
        if size > 0
    ]
    async with target.db.connection() as conn:
        ids = sorted({t for t, _, _ in await model_versions.assignments(conn, report.version)})
    rng = np.random.default_rng(3)
    target.seeds = [ids[i] for i in rng.choice(len(ids), size=min(400, len(ids)), replace=False)]
    target.recommender = Recommender(target.models_dir)
    return {
        "build_seconds": round(built, 1),
        "train_seconds": round(trained, 1),
        "trained_tracks": report.meta["data"]["trained_tracks"],
        "assignments": report.assignments,
        "largest_cluster": max(s for _, _, s in target.clusters),
    }


async def time_picks(
    target: Target, rng: np.random.Generator, count: int
) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"seek": [], "cells": []}
    async with target.db.connection() as conn:
        for _ in range(count):
            bucket, number, size = target.clusters[int(rng.integers(len(target.clusters)))]
            start = int(rng.integers(size))
            began = time.perf_counter()
            await picks.seek(conn, target.version, [(bucket, number, start)], 4)
            out["seek"].append(time.perf_counter() - began)
            began = time.perf_counter()
            await picks.position_ranges(conn, target.version, [(bucket, number, start, start + 24)])
            out["cells"].append(time.perf_counter() - began)
    return out


async def time_recommend(
    target: Target, rng: np.random.Generator, count: int
) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {name: [] for name in strategies.names()}
    for strategy in out:
        for _ in range(count):
            seed = target.seeds[int(rng.integers(len(target.seeds)))]
            began = time.perf_counter()
            async with target.db.connection() as conn:
                await target.recommender.recommend(
                    conn, seed, Options(n=5, strategy=strategy), rng=rng
                )
            out[strategy].append(time.perf_counter() - began)
    return out


def summary(samples: list[float]) -> dict[str, float]:
    ms = np.array(samples) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
    }


async def run_engine(engine: str, sizes: list[int], with_real: bool, folder: Path) -> dict:
    labels = [f"{s // 1000}k" for s in sizes]
    targets = [
        Target(engine, label, _url(engine, label, folder), folder / f"models-{engine}-{label}")
        for label in labels
    ]
    real = (
        Target(engine, "real", _url(engine, "real", folder), folder / f"models-{engine}-real")
        if with_real
        else None
    )
    result: dict = {"sizes": {}}
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        for target, size in zip(targets, sizes, strict=True):
            result["sizes"][target.label] = await prepare(target, size, pool)
            print(f"{engine} {target.label}: {result['sizes'][target.label]}", flush=True)
        if real is not None:
            result["real"] = await prepare(real, None, pool)
    try:
        everything = [*targets, *([real] if real else [])]
        for target in everything:
            async with target.db.connection() as conn:
                for query in WARM_UP:
                    await conn.execute(text(query))
        for target in everything:  # warm up: bundle load, caches, compiled statements
            await time_picks(target, np.random.default_rng(0), 20)
            await time_recommend(target, np.random.default_rng(0), 10)
        pick_samples = {t.label: {"seek": [], "cells": []} for t in everything}
        rec_samples = {t.label: {n: [] for n in strategies.names()} for t in everything}
        rng = np.random.default_rng(1)
        for _ in range(ROUNDS):  # interleaved: noise lands on every size alike
            for target in everything:
                for key, values in (await time_picks(target, rng, PER_ROUND)).items():
                    pick_samples[target.label][key] += values
                for key, values in (await time_recommend(target, rng, PER_ROUND // 4)).items():
                    rec_samples[target.label][key] += values
        for target in everything:
            entry = result["real"] if target is real else result["sizes"][target.label]
            entry["pick"] = {k: summary(v) for k, v in pick_samples[target.label].items()}
            entry["recommend"] = {k: summary(v) for k, v in rec_samples[target.label].items()}
        small, large = labels[0], labels[-1]
        result["pick_ratio_large_to_small"] = {
            key: round(
                result["sizes"][large]["pick"][key]["p50_ms"]
                / result["sizes"][small]["pick"][key]["p50_ms"],
                2,
            )
            for key in ("seek", "cells")
        }
        result["recommend_ratio_large_to_small"] = {
            key: round(
                result["sizes"][large]["recommend"][key]["p50_ms"]
                / result["sizes"][small]["recommend"][key]["p50_ms"],
                2,
            )
            for key in strategies.names()
        }
    finally:
        for target in [*targets, *([real] if real else [])]:
            if target.db is not None:
                await target.db.dispose()
                await _drop(target.db)
    return result


async def buffer_pool(mb: int | None) -> int:
    """MariaDB's buffer pool size in bytes before the change (set it when `mb` is given)."""
    server = Database(make_url(MYSQL_BASE).set(database="mysql"))
    try:
        async with server.transaction() as conn:
            before = int(await conn.scalar(text("SELECT @@innodb_buffer_pool_size")))
            if mb:
                await conn.execute(text(f"SET GLOBAL innodb_buffer_pool_size = {mb << 20}"))
        return before
    finally:
        await server.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--engines", default="sqlite,mysql")
    parser.add_argument(
        "--real", action="store_true", help="also the MusicOSet + TidyTuesday catalogue"
    )
    parser.add_argument(
        "--buffer-pool-mb",
        type=int,
        default=None,
        help="set MariaDB's innodb_buffer_pool_size for the run (restored afterwards)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict = {
        "machine": f"{platform.node()} {platform.machine()}, {multiprocessing.cpu_count()} cores",
        "python": platform.python_version(),
        "rounds": ROUNDS,
        "per_round": PER_ROUND,
    }
    original_pool = await buffer_pool(args.buffer_pool_mb) if "mysql" in args.engines else None
    try:
        if original_pool is not None:
            results["innodb_buffer_pool_mb"] = (await buffer_pool(None)) >> 20
        with tempfile.TemporaryDirectory(prefix="tunecluster-serve-") as tmp:
            for engine in args.engines.split(","):
                results[engine] = await run_engine(engine, sizes, args.real, Path(tmp))
                print(engine, json.dumps(results[engine], indent=2), flush=True)
    finally:
        if args.buffer_pool_mb and original_pool is not None:
            await buffer_pool(original_pool >> 20)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    asyncio.run(main())
