"""Training benchmark: the full `train` (k scan per bucket, cells, assignments written)
against a plain one-shot K-Means baseline measured in the same run.

Two catalogues, each in a fresh SQLite file:

- real: MusicOSet + TidyTuesday imported from ../shared/data, default settings
  (curation included) — target < 60 s;
- generated: N tracks (default 1,000,000) of the demo generator, curation off so every
  track is trained — target < 10 min, peak memory recorded (main process and the
  training worker).

The baseline is what the original project did per catalogue: one K-Means with a fixed
k = 10 on the same curated feature matrix (no scan, no cells, nothing written); the
ratio says what choosing k, building cells and writing every assignment cost on top.

A third section times the association phase alone at Million Playlist Dataset scale
(`benchmarks/association.py`, in its own processes): 1,000,000 generated playlists,
66 M entries, ~2.2 M tracks, targets < 20 min and < 8 GB peak.

    python benchmarks/train.py                      # all three
    python benchmarks/train.py --tracks 100000 --skip-real --skip-association
    python benchmarks/train.py --skip-real --skip-generated   # the association phase only
    python benchmarks/train.py --skip-real --skip-generated --playlists 100000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import platform
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import association  # noqa: E402
from bot.services import train as train_service  # noqa: E402
from bot.settings import Settings  # noqa: E402
from pipeline.curation import CurationFilters  # noqa: E402
from pipeline.importers import import_dataset  # noqa: E402
from recommender import demo_catalogue  # noqa: E402
from sql import frames  # noqa: E402
from sql.database import Database  # noqa: E402
from sql.migrate import init_schema  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "train.json"
NO_FILTERS = CurationFilters(
    year_min=None, year_max=None, min_popularity=None, duration_quantile=None
)


def peak_mb(who: int) -> float:
    """Peak resident memory in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(who).ru_maxrss / 1024


def baseline_fit(matrix: np.ndarray, seed: int) -> float:
    """The original approach: one K-Means, fixed k = 10, on the scaled matrix."""
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    started = time.perf_counter()
    scaled = StandardScaler().fit_transform(matrix)
    KMeans(n_clusters=10, n_init=1, random_state=seed).fit(scaled)
    return time.perf_counter() - started


def baseline_in_worker(matrix: np.ndarray, seed: int) -> float:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(baseline_fit, matrix, seed).result()


async def curated_matrix(db: Database, config: train_service.TrainSettings) -> np.ndarray:
    """The feature matrix the baseline fits: the same curated tracks, complete features."""
    from pipeline.curation import curate
    from recommender.features import matrix, plan_features

    async with db.connection() as conn:
        tracks = await frames.track_frame(conn)
    plan = plan_features(tracks, config.features)
    curated = curate(tracks, replace(config.curation, features=plan.required)).frame
    values = matrix(curated, plan.sound)
    return values[~np.isnan(values).any(axis=1)]


async def measure(db: Database, config: train_service.TrainSettings) -> dict:
    context = multiprocessing.get_context("spawn")
    started = time.perf_counter()
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        report = await train_service.train(db, config, executor=pool)
    seconds = time.perf_counter() - started
    buckets = report.meta["buckets"]
    return {
        "train_seconds": round(seconds, 1),
        "phases": {k: round(v, 1) for k, v in report.seconds.items()},
        "assignments": report.assignments,
        "trained_tracks": report.meta["data"]["trained_tracks"],
        "buckets": {b: {"tracks": m["tracks"], "k": m["k"]} for b, m in buckets.items()},
        "others_genre_share": report.meta["data"]["others_genre_share"],
        "others_track_share": report.meta["data"]["others_track_share"],
        "k_scan_seconds": round(sum(m["seconds"]["k_scan"] for m in buckets.values()), 1),
        "training_worker_peak_mb": report.meta["training"]["worker_peak_mb"],
    }


async def real(folder: Path) -> dict:
    db = Database(f"sqlite+aiosqlite:///{folder / 'real.db'}")
    try:
        await init_schema(db)
        started = time.perf_counter()
        for fmt, path in (
            ("musicoset", SHARED / "musicoset"),
            ("tidytuesday", SHARED / "tidytuesday"),
        ):
            await import_dataset(db, fmt, path)
        imported = time.perf_counter() - started
        config = train_service.TrainSettings.from_settings(
            Settings(models_dir=folder / "models-real")
        )
        result = await measure(db, config)
        values = await curated_matrix(db, config)
        result["baseline_seconds"] = round(baseline_in_worker(values, config.seed), 1)
        result["import_seconds"] = round(imported, 1)
        result["curated_rows"] = len(values)
    finally:
        await db.dispose()
    result["ratio_to_baseline"] = round(result["train_seconds"] / result["baseline_seconds"], 1)
    return result


def build_catalogue(url: str, tracks: int) -> None:
    """Generate and load in a worker process, so the main process's peak memory is the
    training's, not the generator's."""

    async def load() -> None:
        db = Database(url)
        try:
            await init_schema(db)
            catalogue = demo_catalogue.generate(tracks, seed=1, playlists=0)
            await demo_catalogue.write(db, catalogue, chunk=50_000)
        finally:
            await db.dispose()

    asyncio.run(load())


async def generated(folder: Path, tracks: int) -> dict:
    url = f"sqlite+aiosqlite:///{folder / 'generated.db'}"
    started = time.perf_counter()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        await asyncio.get_running_loop().run_in_executor(pool, build_catalogue, url, tracks)
    built = time.perf_counter() - started
    db = Database(url)
    try:
        config = replace(
            train_service.TrainSettings.from_settings(Settings(models_dir=folder / "models-gen")),
            curation=NO_FILTERS,
        )
        result = await measure(db, config)
        values = await curated_matrix(db, config)
        result["baseline_seconds"] = round(baseline_in_worker(values, config.seed), 1)
    finally:
        await db.dispose()
    result["generate_and_load_seconds"] = round(built, 1)
    result["main_peak_mb"] = round(peak_mb(resource.RUSAGE_SELF))
    result["ratio_to_baseline"] = round(result["train_seconds"] / result["baseline_seconds"], 1)
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=1_000_000)
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--skip-generated", action="store_true")
    parser.add_argument("--skip-association", action="store_true")
    association.add_arguments(parser)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    results: dict = {
        "machine": f"{platform.node()} {platform.machine()}, {multiprocessing.cpu_count()} cores",
        "python": platform.python_version(),
    }
    with tempfile.TemporaryDirectory(prefix="tunecluster-train-") as tmp:
        folder = Path(tmp)
        if not args.skip_real:
            if not (SHARED / "README.md").exists():
                raise SystemExit(f"the shared data is missing at {SHARED}")
            results["real"] = await real(folder)
            print(
                "real (MusicOSet + TidyTuesday):", json.dumps(results["real"], indent=2), flush=True
            )
        if not args.skip_generated:
            results["generated"] = await generated(folder, args.tracks)
            results["generated"]["tracks"] = args.tracks
            print("generated:", json.dumps(results["generated"], indent=2), flush=True)
    if not args.skip_association:
        results["association"] = association.run(args)
        print("association:", json.dumps(results["association"], indent=2), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.out.exists():  # sections not rerun keep their recorded results
        results = {**json.loads(args.out.read_text()), **results}
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    asyncio.run(main())
