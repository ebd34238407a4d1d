"""Model store benchmark: the bundle of a 1,000,000-track model, its size, and how long
a host takes to put it into the store and to fetch (and check) it into its cache.

One generated catalogue (the demo generator, curation off, so every track is trained)
in SQLite is trained once, which writes the bundle to the SQLite database store. Then
the same folder goes through each backend:

- SQLite database store (the training database itself);
- MariaDB database store (a fresh database on TUNECLUSTER_BENCH_MYSQL_URL);
- S3 (the loopback fake of tests/fakes/s3.py, in this process: its server shares the
  event loop with the client, so this is an upper bound on the client's cost).

Baseline in the same run: copying the same files from the local folder into a fresh
folder with the same SHA-256 check (what a fetch does, minus the store) — the ratio is
what the store costs on top of the bytes themselves.

    python benchmarks/model_store.py                    # 1,000,000 tracks
    python benchmarks/model_store.py --tracks 100000
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import os
import platform
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.train import NO_FILTERS, build_catalogue  # noqa: E402
from bot.services import train as train_service  # noqa: E402
from bot.settings import Settings  # noqa: E402
from recommender.store import CHUNK, DatabaseStore, StoreConfig, open_store  # noqa: E402
from sql.database import Database  # noqa: E402
from sql.migrate import init_schema  # noqa: E402
from tests.fakes.s3 import ACCESS_KEY, SECRET_KEY, FakeS3  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "model_store.json"
MYSQL_URL = os.environ.get(
    "TUNECLUSTER_BENCH_MYSQL_URL", "mysql+aiomysql://root@127.0.0.1:3306/tunecluster_bench_store"
)


def local_copy(folder: Path, target: Path) -> float:
    """The baseline: every file read, hashed and written to a fresh folder."""
    started = time.perf_counter()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        out = target / path.relative_to(folder)
        out.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with path.open("rb") as src, out.open("wb") as dst:
            while block := src.read(CHUNK):
                digest.update(block)
                dst.write(block)
        digest.hexdigest()
    return time.perf_counter() - started


async def through(store, version: str, folder: Path, scratch: Path, baseline: float) -> dict:
    started = time.perf_counter()
    await store.put(version, folder)
    put = time.perf_counter() - started
    shutil.rmtree(scratch, ignore_errors=True)
    started = time.perf_counter()
    await store.fetch(version, scratch)
    fetch = time.perf_counter() - started
    await store.delete(version)
    return {
        "put_seconds": round(put, 2),
        "fetch_seconds": round(fetch, 2),
        "fetch_ratio_to_local_copy": round(fetch / baseline, 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    results: dict = {
        "machine": f"{platform.node()} {platform.machine()}, {multiprocessing.cpu_count()} cores",
        "python": platform.python_version(),
        "tracks": args.tracks,
        "load_before": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory(prefix="tunecluster-store-") as tmp:
        folder = Path(tmp)
        url = f"sqlite+aiosqlite:///{folder / 'generated.db'}"
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            await asyncio.get_running_loop().run_in_executor(
                pool, build_catalogue, url, args.tracks
            )
        db = Database(url)
        config = replace(
            train_service.TrainSettings.from_settings(Settings(models_dir=folder / "models")),
            curation=NO_FILTERS,
        )
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            report = await train_service.train(db, config, executor=pool)
        version = report.version
        bundle = folder / "models" / version
        files = {
            p.relative_to(bundle).as_posix(): p.stat().st_size
            for p in bundle.rglob("*")
            if p.is_file()
        }
        results["bundle_files"] = files
        results["bundle_mib"] = round(sum(files.values()) / 2**20, 1)
        results["train_store_seconds_sqlite"] = round(report.seconds.get("store", 0), 2)

        baseline = local_copy(bundle, folder / "copy")
        results["baseline_local_copy_seconds"] = round(baseline, 2)

        sqlite_store = DatabaseStore(db)
        results["sqlite"] = await through(
            sqlite_store, version + "-b", bundle, folder / "c1", baseline
        )
        await db.dispose()

        mysql = Database(MYSQL_URL)
        try:
            await init_schema(mysql)
            results["mariadb"] = await through(
                DatabaseStore(mysql), version, bundle, folder / "c2", baseline
            )
        finally:
            async with mysql.transaction() as conn:
                from sqlalchemy import text

                await conn.execute(text(f"DROP DATABASE IF EXISTS `{mysql.url.database}`"))
            await mysql.dispose()

        async with FakeS3() as s3:
            store = open_store(
                StoreConfig(
                    kind="s3",
                    s3_bucket="models",
                    s3_prefix="bench/",
                    s3_endpoint_url=s3.url,
                    s3_access_key_id=ACCESS_KEY,
                    s3_secret_access_key=SECRET_KEY,
                ),
                None,  # type: ignore[arg-type]
            )
            results["s3_loopback_fake"] = await through(
                store, version, bundle, folder / "c3", baseline
            )
    results["load_after"] = os.getloadavg()
    print(json.dumps(results, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    asyncio.run(main())
