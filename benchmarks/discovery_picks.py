"""Discovery picks cost the same whatever a bucket's size.

A discovery post draws one random track per bucket that the guild has not seen within
the no-repeat window (`recommender.discovery.pick_unseen`: a cluster by size, a random
position, a bounded read through the `track_cluster` primary key). This script builds
one model whose buckets hold from a few thousand to hundreds of thousands of tracks,
with a no-repeat log already holding a share of each bucket, and times picks per
bucket. The baseline is the smallest bucket in the same run: the ratios are the result.

    python benchmarks/discovery_picks.py                       # SQLite, 2k / 20k / 200k
    python benchmarks/discovery_picks.py --sizes 2000 200000 --engine mysql
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import insert, text

from recommender.discovery import pick_unseen
from sql import model_versions
from sql.database import Database
from sql.migrate import init_schema
from sql.normalize import norm_name
from sql.schema import metadata, recommendation_log, track

RESULTS = Path(__file__).parent / "results"
GUILD = 1
VERSION = "bench"
CLUSTERS = 12
SEEN_SHARE = 0.3  # of each bucket already shown to the guild


def _id(bucket: int, i: int) -> str:
    return f"B{bucket:02d}{i:09d}".ljust(22, "x")


async def build(db: Database, sizes: list[int], rng: np.random.Generator) -> None:
    async with db.transaction() as conn:
        await model_versions.insert_model_version(conn, VERSION, fingerprint="-", path="-")
    for b, size in enumerate(sizes):
        bucket = f"bucket{b}"
        cluster = rng.integers(CLUSTERS, size=size)
        counts = np.bincount(cluster, minlength=CLUSTERS)
        position = np.zeros(size, dtype=np.int64)
        for c in range(CLUSTERS):
            members = np.flatnonzero(cluster == c)
            position[members] = rng.permutation(len(members))
        for start in range(0, size, 50_000):
            stop = min(size, start + 50_000)
            rows = [{"track_id": _id(b, i), "name": f"Track {i}", "name_norm": norm_name(f"Track {i}"),
                     "source": "bench"} for i in range(start, stop)]  # fmt: skip
            seen = rng.random(stop - start) < SEEN_SHARE
            log = [{"guild_id": GUILD, "pick_track_id": _id(b, start + i), "bucket": bucket,
                    "strategy": "discovery", "created_at": datetime(2030, 1, 1)}
                   for i in np.flatnonzero(seen)]  # fmt: skip
            async with db.transaction() as conn:
                await conn.execute(insert(track), rows)
                await model_versions.write_assignments(
                    conn,
                    [(VERSION, bucket, int(cluster[i]), int(position[i]), _id(b, i))
                     for i in range(start, stop)],
                )  # fmt: skip
                if log:
                    await conn.execute(insert(recommendation_log), log)
        async with db.transaction() as conn:
            await model_versions.write_clusters(
                conn, VERSION, [(bucket, c, int(n)) for c, n in enumerate(counts)]
            )
    async with db.transaction() as conn:
        await model_versions.finish_model_version(conn, VERSION, status="ready")
        await model_versions.set_active_version(conn, VERSION)


async def time_picks(db: Database, sizes: list[int], picks: int, rng) -> list[dict]:
    async with db.connection() as conn:
        rows = (await conn.execute(text("SELECT bucket, cluster, size FROM cluster"))).all()
    clusters: dict[str, list[tuple[int, int]]] = {}
    for bucket, number, size in rows:
        clusters.setdefault(bucket, []).append((int(number), int(size)))
    since = datetime(2029, 12, 25)  # the seen share falls within the window
    results = []
    for b, size in enumerate(sizes):
        bucket = f"bucket{b}"
        seconds = []
        async with db.connection() as conn:
            for _ in range(5):  # warm the statement caches
                await pick_unseen(
                    conn, VERSION, bucket, clusters[bucket], guild_id=GUILD, since=since, rng=rng
                )
            for _ in range(picks):
                clock = time.perf_counter()
                pick = await pick_unseen(
                    conn, VERSION, bucket, clusters[bucket], guild_id=GUILD, since=since, rng=rng
                )
                seconds.append(time.perf_counter() - clock)
                assert pick is not None
        results.append({"bucket_tracks": size, "median_ms": statistics.median(seconds) * 1000,
                         "p95_ms": float(np.percentile(seconds, 95)) * 1000})  # fmt: skip
    base = results[0]["median_ms"]
    for r in results:
        r["ratio_to_smallest"] = r["median_ms"] / base
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2_000, 20_000, 200_000])
    parser.add_argument("--picks", type=int, default=300)
    parser.add_argument("--engine", choices=["sqlite", "mysql"], default="sqlite")
    parser.add_argument(
        "--mysql-url", default="mysql+aiomysql://root@127.0.0.1:3306/tunecluster_bench_discovery"
    )
    args = parser.parse_args()
    rng = np.random.default_rng(5)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db" if args.engine == "sqlite" else args.mysql_url
        db = Database(url)
        try:
            await init_schema(db)
            if args.engine == "mysql":
                async with db.transaction() as conn:
                    for table in reversed(metadata.sorted_tables):
                        await conn.execute(table.delete())
            clock = time.perf_counter()
            await build(db, args.sizes, rng)
            built = time.perf_counter() - clock
            results = await time_picks(db, args.sizes, args.picks, rng)
        finally:
            if args.engine == "mysql":
                async with db.transaction() as conn:
                    await conn.execute(text(f"DROP DATABASE IF EXISTS `{db.url.database}`"))
            await db.dispose()
    report = {
        "engine": args.engine,
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "seen_share": SEEN_SHARE,
        "picks_per_bucket": args.picks,
        "build_seconds": round(built, 1),
        "results": results,
        "at": datetime.now().isoformat(timespec="seconds"),
    }
    print(f"{'bucket tracks':>14} {'median ms':>10} {'p95 ms':>8} {'× smallest':>11}")
    for r in results:
        print(
            f"{r['bucket_tracks']:>14,} {r['median_ms']:>10.2f} {r['p95_ms']:>8.2f} {r['ratio_to_smallest']:>11.2f}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"discovery_picks_{args.engine}.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
