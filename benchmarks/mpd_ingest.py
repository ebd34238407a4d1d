"""MPD ingest: extraction throughput against the original approach, and a projection of
the whole dataset into MariaDB from a measured database load.

1. Generates realistic slices (`pipeline.mpd.synthetic`: 1,000 playlists of ~66 entries,
   ~32 MB per file pretty-printed like the MPD, MPD-like track popularity skew), once,
   into --data (reused by later runs).
2. Extraction, same files, same run:
   - baseline: the original project's approach — `json.load` of each file and a Python
     dict of every track (track id → names and bare ids), one core;
   - tunecluster: `pipeline.mpd.parse` in a process pool (one worker per core), the
     parsed slices delivered in order to the parent process, exactly as `ingest-mpd`
     runs it; again with the parent also turning each slice into the Python rows the
     writer gives the database driver; and on one core, file by file in turn with the
     baseline, to separate per-core gains from parallelism.
3. Database load: `ingest_mpd` of --slices slices (≥ 20) into a fresh MariaDB database,
   per-slice write time and rows, then a projection to the full dataset (1,000 slices
   of ~66,000 entries; 2.26 M tracks in all) from a straight-line fit of the write time
   per slice against the slice's position (later slices bring fewer new tracks but
   meet bigger tables), summed over 1,000 slices, plus the measured wait for parsing.

    python benchmarks/mpd_ingest.py                    # 24 slices, extraction on 12
    python benchmarks/mpd_ingest.py --slices 30 --extract-slices 16
    python benchmarks/mpd_ingest.py --skip-db          # extraction only
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from sqlalchemy import text

from pipeline.mpd.ingest import Written, ingest_mpd
from pipeline.mpd.parse import parse_slice, start_worker
from pipeline.mpd.slice_data import SliceData
from pipeline.mpd.synthetic import Universe, slice_name, write_slices
from sql.database import Database
from sql.migrate import init_schema

FULL = {
    "slices": 1000,
    "bytes": 33.4e9,
    "entries": 66_346_428,
    "playlists": 1_000_000,
    "tracks": 2_262_292,
    "artists": 295_860,
    "albums": 734_684,
}
RESULTS = Path(__file__).parent / "results" / "mpd_ingest.json"


def baseline_extract(path: Path) -> dict:
    """The original approach: json.load, then a dict of every track, on one core."""
    with path.open(encoding="utf-8") as handle:
        data = json.load(handle)
    tracks = {}
    for playlist in data["playlists"]:
        for track in playlist["tracks"]:
            tracks[track["track_uri"].split(":")[2]] = {
                "track_name": track["track_name"],
                "artist_name": track["artist_name"],
                "artist_uri": track["artist_uri"].split(":")[2],
                "album_name": track["album_name"],
                "album_uri": track["album_uri"].split(":")[2],
            }
    return tracks


def ensure_slices(folder: Path, count: int) -> list[Path]:
    wanted = [folder / slice_name(i) for i in range(count)]
    missing = [i for i, p in enumerate(wanted) if not p.exists()]
    if missing:
        print(f"generating {len(missing)} slice(s) into {folder} …", flush=True)
        universe = Universe()
        for i in missing:
            write_slices(folder, 1, first=i, universe=universe)
    return wanted


def measure_baseline(paths: list[Path]) -> tuple[float, int]:
    started = time.perf_counter()
    tracks = sum(len(baseline_extract(path)) for path in paths)
    return time.perf_counter() - started, tracks


def measure_interleaved(paths: list[Path]) -> tuple[float, float]:
    """Both contenders on one core, file by file in turn: load on the machine hits both
    alike, so this ratio is the per-core gain with the least noise."""
    start_worker()
    base = ours = 0.0
    for path in paths:
        started = time.perf_counter()
        baseline_extract(path)
        base += time.perf_counter() - started
        started = time.perf_counter()
        parse_slice(str(path))
        ours += time.perf_counter() - started
    return base, ours


def warm_pool(workers: int, paths: list[Path], warm_up: bool) -> ProcessPoolExecutor:
    """The pool `ingest-mpd` runs, started before any clock starts; with `warm_up`,
    each worker also parses one slice untimed, as it has long done in an ingest of
    hundreds of slices (a new process's first slice pays for its heap growing)."""
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=start_worker)
    list(pool.map(parse_slice if warm_up else len, [str(p) for p in paths[:workers]]))
    return pool


def measure_pool(
    pool: ProcessPoolExecutor, paths: list[Path], as_rows: bool = False
) -> tuple[float, list[SliceData]]:
    """Time from the first submit to the last parsed slice received, in file order.
    `as_rows` also does the writer's work before the database: each slice's new rows
    as the tuples the driver takes (part of the write time when ingesting; counted here
    to show its cost)."""
    started = time.perf_counter()
    futures = [pool.submit(parse_slice, str(p)) for p in paths]
    results = []
    written = Written()
    for future in futures:
        results.append(data := future.result())
        if as_rows:
            written.rows_to_write(data, with_playlists=True)
    return time.perf_counter() - started, results


def _rate(paths: list[Path], seconds: float, **extra: int) -> dict:
    size = sum(p.stat().st_size for p in paths)
    return {
        "files": len(paths),
        "megabytes": round(size / 1e6, 1),
        "seconds": round(seconds, 3),
        "mb_per_s": round(size / 1e6 / seconds, 1),
        **extra,
    }


async def measure_db(url: str, paths: list[Path], workers: int, pool_mb: int | None) -> dict:
    db = Database(url)
    original_pool = None
    try:
        await db.create_database_if_missing()
        if pool_mb:  # an operator sizes the buffer pool for a bulk load; restored below
            async with db.transaction() as conn:
                original_pool = await conn.scalar(text("SELECT @@innodb_buffer_pool_size"))
                await conn.execute(text(f"SET GLOBAL innodb_buffer_pool_size = {pool_mb << 20}"))
            await asyncio.sleep(3)  # the resize happens in the background
        async with db.transaction() as conn:
            name = db.url.database
            await conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
            await conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        await db.dispose()
        db = Database(url)
        await init_schema(db)
        async with db.connection() as conn:
            pool_bytes = await conn.scalar(text("SELECT @@innodb_buffer_pool_size"))
            version = await conn.scalar(text("SELECT VERSION()"))
        started = time.perf_counter()
        report = await ingest_mpd(db, paths, workers=workers)
        wall = time.perf_counter() - started
    finally:
        if original_pool is not None:
            async with db.transaction() as conn:
                await conn.execute(text(f"SET GLOBAL innodb_buffer_pool_size = {original_pool}"))
        await db.dispose()
    slices = report.slices
    write = np.array([s.write_seconds for s in slices])
    index = np.arange(len(slices), dtype=float)
    # Later slices bring fewer new tracks but meet bigger tables: fit the write time per
    # slice against the slice's position (a + b·i) and sum it over the 1,000 slices.
    growth, base = np.polyfit(index, write, 1)
    full = np.arange(FULL["slices"], dtype=float)
    projected_write = float(np.sum(np.maximum(base + growth * full, write.min())))
    projected_wait = float(np.mean([s.wait_seconds for s in slices])) * FULL["slices"]
    projected = projected_write + projected_wait
    rows = np.array(
        [s.entries + s.playlists + 2 * s.new_tracks + s.new_artists + s.new_albums for s in slices]
    )
    return {
        "server": version,
        "innodb_buffer_pool_mb": int(pool_bytes) // 2**20,
        "slices": len(slices),
        "megabytes": round(report.bytes / 1e6, 1),
        "wall_seconds": round(wall, 1),
        "write_seconds": round(float(write.sum()), 1),
        "wait_seconds": round(sum(s.wait_seconds for s in slices), 1),
        "entries": report.entries,
        "tracks": report.tracks_new,
        "artists": report.artists_new,
        "albums": report.albums_new,
        "entries_per_s": round(report.entries / wall),
        "rows_per_s_first_5_slices": round(float(rows[:5].sum() / write[:5].sum())),
        "rows_per_s_last_5_slices": round(float(rows[-5:].sum() / write[-5:].sum())),
        "fit_write_seconds_per_slice": [round(float(base), 3), round(float(growth), 4)],
        "per_slice": [
            {
                "entries": s.entries,
                "new_tracks": s.new_tracks,
                "new_artists": s.new_artists,
                "new_albums": s.new_albums,
                "write_s": round(s.write_seconds, 3),
                "wait_s": round(s.wait_seconds, 3),
            }
            for s in slices
        ],
        "projection_full_mpd_hours": round(projected / 3600, 2),
        "projection_flat_hours": round(wall / len(slices) * FULL["slices"] / 3600, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/tunecluster-mpd-bench"))
    parser.add_argument("--slices", type=int, default=24, help="slices loaded into MariaDB")
    parser.add_argument("--extract-slices", type=int, default=12)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--rounds", type=int, default=3, help="extraction rounds")
    parser.add_argument(
        "--mysql-url",
        default=os.environ.get(
            "TUNECLUSTER_BENCH_MYSQL_URL", "mysql+aiomysql://root@127.0.0.1:3306/tunecluster_bench"
        ),
    )
    parser.add_argument("--skip-db", action="store_true")
    parser.add_argument(
        "--no-warm-up", action="store_true", help="time each worker's first slice too"
    )
    parser.add_argument("--skip-extraction", action="store_true")
    parser.add_argument(
        "--buffer-pool-mb",
        type=int,
        help="set MariaDB's innodb_buffer_pool_size for the load (restored afterwards)",
    )
    args = parser.parse_args()

    paths = ensure_slices(args.data, max(args.slices, args.extract_slices))
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    command = " ".join(["python", *sys.argv])
    # Each section keeps the command and the load of the run that measured it.
    result = {
        "machine": f"{platform.node()}, {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}",
        "extraction": previous.get("extraction"),
    }
    if not args.skip_extraction:
        load_before = round(os.getloadavg()[0], 2)
        measured = extraction(
            paths[: args.extract_slices], args.workers, args.rounds, not args.no_warm_up
        )
        result["extraction"] = {
            "command": command,
            "load_average_before": load_before,
            "load_average_after": round(os.getloadavg()[0], 2),
            **measured,
        }
        print(json.dumps(result["extraction"], indent=2))
    result |= {k: v for k, v in previous.items() if k.startswith("mariadb_load_pool_")}
    if not args.skip_db:
        db = asyncio.run(
            measure_db(args.mysql_url, paths[: args.slices], args.workers, args.buffer_pool_mb)
        )
        result[f"mariadb_load_pool_{db['innodb_buffer_pool_mb']}mb"] = {"command": command, **db}
        summary = {k: v for k, v in db.items() if k != "per_slice"}
        print(json.dumps(summary, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {RESULTS}")


def extraction(paths: list[Path], workers: int, rounds: int, warm_up: bool) -> dict:
    """Rounds of: baseline on all files, the pool on all files (with and without the
    writer's conversion to Python rows), then both on one core file by file. Each
    contender's time is summed over the rounds, so load from other processes during
    the run hits both alike; per-round ratios show the spread."""
    for path in paths:  # warm the page cache for both contenders
        path.read_bytes()
    base = pool = pool_rows = base_one = ours_one = 0.0
    per_round = []
    workers_pool = warm_pool(workers, paths, warm_up)
    for _ in range(rounds):
        load = os.getloadavg()[0]
        b, base_tracks = measure_baseline(paths)
        p, results = measure_pool(workers_pool, paths)
        r, _ = measure_pool(workers_pool, paths, as_rows=True)
        b1, o1 = measure_interleaved(paths)
        base, pool, pool_rows = base + b, pool + p, pool_rows + r
        base_one, ours_one = base_one + b1, ours_one + o1
        per_round.append({"load_average": round(load, 2), "speedup": round(b / p, 2),
                          "speedup_with_rows": round(b / r, 2),
                          "speedup_one_core": round(b1 / o1, 2)})  # fmt: skip
        print(f"round: baseline {b:.2f} s, {workers} workers {p:.2f} s ({b / p:.2f}x), "
              f"with rows {r:.2f} s ({b / r:.2f}x); one core {b1:.2f} s vs {o1:.2f} s "
              f"({b1 / o1:.2f}x); load {load:.2f}", flush=True)  # fmt: skip
    workers_pool.shutdown()
    entries = sum(len(ids) // 22 for r in results for _, ids in r.entries)
    tracks = sum(r.distinct_tracks for r in results)
    if tracks != base_tracks:  # same work: both found the same distinct tracks per file
        raise SystemExit(f"track counts differ: baseline {base_tracks}, tunecluster {tracks}")
    return {
        "rounds": rounds,
        "per_round": per_round,
        "baseline_json_load_one_core": _rate(paths, base / rounds, tracks=tracks),
        f"tunecluster_{workers}_workers": _rate(
            paths, pool / rounds, entries=entries, tracks=tracks
        ),
        f"tunecluster_{workers}_workers_with_rows": _rate(paths, pool_rows / rounds),
        "interleaved_one_core": {
            "baseline_seconds": round(base_one / rounds, 3),
            "tunecluster_seconds": round(ours_one / rounds, 3),
            "speedup_per_core": round(base_one / ours_one, 2),
        },
        "speedup": round(base / pool, 2),
        "speedup_with_rows": round(base / pool_rows, 2),
        "workers_warmed_up": warm_up,
        "target": 4.0,
    }


if __name__ == "__main__":
    main()
