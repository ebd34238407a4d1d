"""Generated playlist corpus: build a catalogue (tracks, artists with genres, albums,
audio features, playlists) of a chosen size, and how long that takes.

The corpus is `pipeline/mpd/corpus.py` (latent styles, MPD-like skew); it goes into the
database through `pipeline/mpd/corpus_load.py` (the data layer's batch upserts). The
baseline, in the same run and at the same number of tracks, is the project's other
generated catalogue, `recommender/demo_catalogue.py` (one dict per row through the
`sql.catalogue` functions, playlists of 20-40 tracks): rows per second are compared.

    python benchmarks/corpus.py                                  # 10k and 100k tracks, SQLite
    python benchmarks/corpus.py --sizes 2500000:1000000 --skip-baseline
    python benchmarks/corpus.py --engine mysql --buffer-pool-mb 2048
    # the usual load against the fresh one (load_corpus(fresh=True)), same run:
    python benchmarks/corpus.py --sizes 100000:40000,500000:200000 --skip-baseline --fresh \
        --out benchmarks/results/corpus_fresh.json
    # keep one for `tunecluster evaluate` / `train` (TUNECLUSTER_DATABASE_URL=...):
    python benchmarks/corpus.py --sizes 100000:40000 --skip-baseline \
        --database sqlite+aiosqlite:///data/corpus-100k.db

A size is TRACKS:PLAYLISTS (the tracks are the universe drawn from; the MPD's 1,000,000
playlists use 2,500,000 of which ~2.2 M end up in a playlist).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.mpd.corpus import Corpus, CorpusConfig  # noqa: E402
from pipeline.mpd.corpus_load import load_corpus  # noqa: E402
from recommender import demo_catalogue  # noqa: E402
from sql import catalogue  # noqa: E402
from sql.database import Database  # noqa: E402
from sql.migrate import init_schema  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "corpus.json"
MYSQL = os.environ.get("TUNECLUSTER_TEST_MYSQL_URL", "mysql+aiomysql://root@127.0.0.1:3306/x")
TABLES = (
    "artist",
    "artist_genre",
    "album",
    "track",
    "audio_features",
    "playlist",
    "playlist_track",
)


def size(text: str) -> tuple[int, int]:
    tracks, _, playlists = text.partition(":")
    return int(tracks), int(playlists or int(tracks) * 2 // 5)


async def fresh(url: str) -> Database:
    """A database with the schema and no rows (MySQL: dropped and created again)."""
    db = Database(url)
    if db.dialect == "mysql":
        from sqlalchemy import text

        server = Database(db.url.set(database="mysql"))
        async with server.transaction() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS `{db.url.database}`"))
        await server.dispose()
        await db.create_database_if_missing()
    await init_schema(db)
    return db


async def stored(db: Database) -> dict[str, int]:
    async with db.connection() as conn:
        return await catalogue.counts(conn, TABLES)


async def corpus_run(url: str, tracks: int, playlists: int, seed: int, quick: bool = False) -> dict:
    db = await fresh(url)
    try:
        started = time.perf_counter()
        corpus = Corpus(CorpusConfig(tracks=tracks, playlists=playlists, seed=seed))
        structure = time.perf_counter() - started
        report = await load_corpus(db, corpus, fresh=quick)
        total = time.perf_counter() - started
        rows = await stored(db)
    finally:
        await db.dispose()
    return {
        "loader": "fresh" if quick else "usual",
        "tracks": tracks,
        "playlists": playlists,
        "styles": corpus.config.style_count,
        "artists": corpus.artists,
        "albums": corpus.albums,
        "structure_seconds": round(structure, 2),
        "load": report.to_dict(),
        "seconds": round(total, 1),
        "stored": rows,
        "rows_per_second": round(sum(rows.values()) / total),
        "entries_per_playlist": round(rows["playlist_track"] / max(rows["playlist"], 1), 1),
    }


async def baseline_run(url: str, tracks: int, seed: int) -> dict:
    db = await fresh(url)
    try:
        started = time.perf_counter()
        generated = demo_catalogue.generate(tracks, seed=seed)
        made = time.perf_counter() - started
        await demo_catalogue.write(db, generated, chunk=50_000)
        total = time.perf_counter() - started
        rows = await stored(db)
    finally:
        await db.dispose()
    return {
        "tracks": tracks,
        "generate_seconds": round(made, 1),
        "seconds": round(total, 1),
        "stored": rows,
        "rows_per_second": round(sum(rows.values()) / total),
    }


async def buffer_pool(url: str, mb: int | None) -> int:
    """MariaDB's buffer pool in bytes before the change (set it when `mb` is given)."""
    from sqlalchemy import text

    server = Database(Database(url).url.set(database="mysql"))
    try:
        async with server.transaction() as conn:
            before = int(await conn.scalar(text("SELECT @@innodb_buffer_pool_size")))
            if mb is not None:
                await conn.execute(text(f"SET GLOBAL innodb_buffer_pool_size = {mb << 20}"))
        return before
    finally:
        await server.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000:4000,100000:40000", help="TRACKS:PLAYLISTS,...")
    parser.add_argument("--engine", choices=("sqlite", "mysql"), default="sqlite")
    parser.add_argument("--database", help="build (and keep) the catalogue at this URL")
    parser.add_argument("--buffer-pool-mb", type=int, help="MariaDB only; restored afterwards")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="also load each size with load_corpus(fresh=True) and compare (same run)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    sizes = [size(s) for s in args.sizes.split(",")]
    results: dict = {
        "machine": f"{platform.node()} {platform.machine()}, {multiprocessing.cpu_count()} cores",
        "python": platform.python_version(),
        "engine": args.engine,
        "command": "python " + " ".join(sys.argv),
        "load_average_before": os.getloadavg(),
        "runs": [],
    }
    pool = None
    with tempfile.TemporaryDirectory(prefix="tunecluster-corpus-") as tmp:

        def url(name: str) -> str:
            if args.database:
                return args.database
            if args.engine == "mysql":
                return str(Database(MYSQL).url.set(database=f"tunecluster_bench_{name}"))
            return f"sqlite+aiosqlite:///{Path(tmp) / name}.db"

        if args.engine == "mysql" and args.buffer_pool_mb:
            pool = await buffer_pool(url("corpus"), args.buffer_pool_mb)
        try:
            for tracks, playlists in sizes:
                run = {"corpus": await corpus_run(url("corpus"), tracks, playlists, args.seed)}
                print(json.dumps(run["corpus"], indent=2), flush=True)
                if args.fresh:
                    run["corpus_fresh"] = await corpus_run(
                        url("corpus"), tracks, playlists, args.seed, quick=True
                    )
                    if run["corpus_fresh"]["stored"] != run["corpus"]["stored"]:
                        raise SystemExit("the fresh load stored other rows")
                    run["fresh_over_usual"] = round(
                        run["corpus_fresh"]["rows_per_second"] / run["corpus"]["rows_per_second"], 2
                    )
                    print(json.dumps(run["corpus_fresh"], indent=2), flush=True)
                if not args.skip_baseline:
                    run["baseline_demo_catalogue"] = await baseline_run(
                        url("baseline"), tracks, args.seed
                    )
                    ratio = run["corpus"]["rows_per_second"] / max(
                        run["baseline_demo_catalogue"]["rows_per_second"], 1
                    )
                    run["rows_per_second_ratio"] = round(ratio, 2)
                    print(json.dumps(run["baseline_demo_catalogue"], indent=2), flush=True)
                results["runs"].append(run)
        finally:
            if pool is not None:
                await buffer_pool(url("corpus"), pool >> 20)
    results["load_average_after"] = os.getloadavg()
    results["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    asyncio.run(main())
