"""Track genres and MPD counts: what the two changes cost, against the code before them,
in the same run (interleaved rounds, so machine noise hits both).

1. Serving's input statement (`sql.picks.input_track`): the track's details, credits and
   the genres it is filed by — now its own (`track_genre`) else its artists', tagged,
   in one flat UNION ALL of three index lookups — against the statement before track genres (artists' genres
   only), on a generated catalogue (`recommender.demo_catalogue`) where half the tracks
   also carry two genres of their own. Latency per call, p50 and p99.
2. The MPD writer (`pipeline.mpd.ingest._write_catalogue`): now `sql.upsert.insert_new`
   (the engine's count of inserted rows: SQLite's changes, MySQL's affected rows of an
   INSERT IGNORE), so "new" counts rows inserted; the baseline sends the same rows to
   the insert-or-ignore upsert and reports rows sent. Generated slices (1,000 playlists of
   ~66 entries, MPD-like skew) ingested into a fresh database by each, alternately.

    python benchmarks/track_genres.py                       # both engines
    python benchmarks/track_genres.py --engines sqlite --tracks 50000 --slices 4
    python benchmarks/track_genres.py --parts mpd             # the writer only
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import bindparam, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.mpd import ingest as ingest_module  # noqa: E402
from pipeline.mpd.synthetic import write_slices  # noqa: E402
from recommender import demo_catalogue  # noqa: E402
from sql import catalogue, picks  # noqa: E402
from sql.database import Database  # noqa: E402
from sql.migrate import init_schema  # noqa: E402
from sql.normalize import clip_name, norm_name  # noqa: E402
from sql.schema import album, artist, artist_genre, artist_track, track  # noqa: E402
from sql.upsert import upsert  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "track_genres.json"
MYSQL_BASE = os.environ.get(
    "TUNECLUSTER_TEST_MYSQL_URL", "mysql+aiomysql://root@127.0.0.1:3306/tunecluster_test"
)


def _url(engine: str, name: str, folder: Path) -> str:
    if engine == "sqlite":
        return f"sqlite+aiosqlite:///{folder / f'{name}.db'}"
    return (
        make_url(MYSQL_BASE)
        .set(database=f"tunecluster_bench_{name}")
        .render_as_string(hide_password=False)
    )


async def _fresh(url: str) -> Database:
    db = Database(url)
    if db.dialect == "sqlite":
        await asyncio.to_thread(Path(db.url.database).unlink, missing_ok=True)
    if db.dialect == "mysql":
        server = Database(db.url.set(database="mysql"))
        async with server.transaction() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS `{db.url.database}`"))
        await server.dispose()
    await init_schema(db)
    return db


# --- 1. the serving input statement -----------------------------------------------------------


def _old_input(_: int, __: str):
    """The statement before track genres: the artists' genres only."""
    return (
        select(picks._active_value(), *picks._details_columns(), artist_genre.c.genre)
        .select_from(
            picks._details_from(track).outerjoin(
                artist_genre, artist_genre.c.artist_id == artist_track.c.artist_id
            )
        )
        .where(track.c.track_id == bindparam("track_id"))
    )


async def _old_input_track(conn, track_id: str):
    rows = await picks._run(conn, "old_input", 1, {"track_id": track_id})
    found = picks._Tracks()
    genres: dict[str, None] = {}
    for row in rows:
        found.add(row[1:-1])
        if row[-1] is not None:
            genres[row[-1]] = None
    return rows[0][0], found.done()[track_id], sorted(genres)


picks._BUILDERS["old_input"] = _old_input


async def bench_input(engine: str, folder: Path, tracks: int, calls: int, rounds: int) -> dict:
    db = await _fresh(_url(engine, "track_genres_input", folder))
    generated = demo_catalogue.generate(tracks, seed=5, playlists=0)
    await demo_catalogue.write(db, generated, chunk=50_000)
    ids = [t["track_id"] for t in generated.tracks]
    own = [
        {"track_id": t, "genre": g, "source": "bench"}
        for t in ids[::2]
        for g in ("dance pop", "k-pop")
    ]
    for start in range(0, len(own), 50_000):
        async with db.transaction() as conn:
            await catalogue.upsert_track_genres(conn, own[start : start + 50_000])
    rng = np.random.default_rng(3)
    timings: dict[str, list[float]] = {"before": [], "now": []}
    async with db.connection() as conn:
        for name in ("track", "artist_track", "artist_genre", "track_genre", "album"):
            await conn.execute(text(f"SELECT COUNT(*) FROM {name}"))  # warm the cache
        for round_ in range(rounds):
            sample = [ids[i] for i in rng.integers(len(ids), size=calls)]
            order = (("before", _old_input_track), ("now", picks.input_track))
            for name, call in order if round_ % 2 == 0 else order[::-1]:
                for track_id in sample:
                    started = time.perf_counter()
                    await call(conn, track_id)
                    timings[name].append(time.perf_counter() - started)
    await db.dispose()
    return {
        name: {
            "p50_ms": round(float(np.percentile(v, 50)) * 1e3, 3),
            "p99_ms": round(float(np.percentile(v, 99)) * 1e3, 3),
            "calls": len(v),
        }
        for name, v in timings.items()
    } | {"tracks": tracks, "own_genres_on": "every other track"}


# --- 2. the MPD writer ------------------------------------------------------------------------


async def _old_write_catalogue(conn, tracks, artists, albums):
    """The writer before: every first-seen row sent, "new" = rows sent."""
    rows = [(a, (c := clip_name(n)), norm_name(c), False, "mpd") for a, n in artists]
    await upsert(
        conn,
        artist,
        rows,
        columns=("artist_id", "name", "name_norm", "name_keyed", "source"),
        merge="ignore",
    )
    rows = [(a, clip_name(n) if n else None, "mpd") for a, n in albums]
    await upsert(conn, album, rows, columns=("album_id", "name", "source"), merge="ignore")
    rows = [(t, (c := clip_name(n)), norm_name(c), al, d, "mpd") for t, n, al, d, _ in tracks]
    await upsert(
        conn,
        track,
        rows,
        columns=("track_id", "name", "name_norm", "album_id", "duration_ms", "source"),
        merge="ignore",
    )
    links = [(t[4], t[0], 0) for t in tracks if t[4] is not None]
    await upsert(
        conn, artist_track, links, columns=("artist_id", "track_id", "position"), merge="ignore"
    )
    return ingest_module.Inserted(len(tracks), len(artists), len(albums), 0)


async def bench_mpd(engine: str, folder: Path, slices: list[Path], rounds: int) -> dict:
    real = ingest_module._write_catalogue
    writers = {"before": _old_write_catalogue, "now": real}
    seconds: dict[str, list[float]] = {"before": [], "now": []}
    try:
        for round_ in range(rounds):
            names = ("before", "now") if round_ % 2 == 0 else ("now", "before")
            for name in names:
                db = await _fresh(_url(engine, f"track_genres_mpd_{name}", folder))
                ingest_module._write_catalogue = writers[name]
                report = await ingest_module.ingest_mpd(db, slices, workers=0)
                seconds[name].append(sum(s.write_seconds for s in report.slices))
                await db.dispose()
    finally:
        ingest_module._write_catalogue = real
    best = {name: min(v) for name, v in seconds.items()}
    return {
        "slices": len(slices),
        "write_seconds": {k: [round(x, 2) for x in v] for k, v in seconds.items()},
        "now_over_before": round(best["now"] / best["before"], 3),
    }


async def main_async(args: argparse.Namespace) -> dict:
    results: dict = {
        "command": " ".join(sys.argv),
        "machine": f"{platform.node()}, {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}",
        "load_before": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        slices = write_slices(folder / "slices", args.slices) if args.slices else []
        for engine in args.engines.split(","):
            if "input" in args.parts:
                results[f"input_{engine}"] = await bench_input(
                    engine, folder, args.tracks, args.calls, args.rounds
                )
                print(engine, "input", results[f"input_{engine}"], flush=True)
            if slices and "mpd" in args.parts:
                results[f"mpd_{engine}"] = await bench_mpd(engine, folder, slices, args.rounds)
                print(engine, "mpd", results[f"mpd_{engine}"], flush=True)
    results["load_after"] = os.getloadavg()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,mysql")
    parser.add_argument("--parts", default="input,mpd")
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=300, help="input calls per round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--slices", type=int, default=6)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
