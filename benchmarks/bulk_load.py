"""Bulk load: the data layer's batch upserts against a plain-driver baseline, in one run.

Upserts N generated tracks with their artists, albums, artist links and audio features
into MariaDB and SQLite through `sql.catalogue`, then loads the same rows with a plain
`executemany` of INSERTs straight on the driver (aiomysql; sqlite3 for SQLite) into an
emptied schema. Reports rows per second for each and the ratio data layer / baseline.

    python benchmarks/bulk_load.py                       # 100,000 tracks, both engines
    python benchmarks/bulk_load.py --tracks 20000 --engines sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import sqlite3
import string
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import aiomysql
from sqlalchemy import text

from pipeline.mpd.corpus import WORDS as CORPUS_WORDS
from sql import catalogue
from sql.database import Database
from sql.migrate import init_schema
from sql.normalize import norm_name
from sql.schema import FEATURE_COLUMNS, metadata

BATCH = 20_000
ALPHABET = string.ascii_letters + string.digits
WORDS = CORPUS_WORDS[:14]  # plain English ones: the generated corpus's first words


def spotify_id(rng: random.Random) -> str:
    return "".join(rng.choices(ALPHABET, k=22))


# How a feature is drawn, in FEATURE_COLUMNS order; the others are uniform in [0, 1).
_DRAWS: dict[str, Callable[[random.Random], float | int]] = {
    "key": lambda rng: rng.randint(0, 11),
    "loudness": lambda rng: -rng.random() * 30,
    "mode": lambda rng: rng.randint(0, 1),
    "tempo": lambda rng: 60 + rng.random() * 140,
    "time_signature": lambda rng: 4,
}


def generate(n_tracks: int, seed: int = 1) -> dict[str, list[dict]]:
    """A catalogue shaped like real data: ~5 tracks per album, ~2.5 albums per artist."""
    rng = random.Random(seed)
    artists = [
        {
            "artist_id": spotify_id(rng),
            "name": f"{rng.choice(WORDS).title()} {i}",
            "source": "bench",
            "popularity": rng.randint(0, 100),
        }
        for i in range(max(1, n_tracks // 12))
    ]
    albums = [
        {
            "album_id": spotify_id(rng),
            "name": f"{rng.choice(WORDS).title()} Album {i}",
            "release_date": f"{rng.randint(1960, 2024)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
            "release_date_precision": "day",
            "source": "bench",
        }
        for i in range(max(1, n_tracks // 5))
    ]
    album_artist = {a["album_id"]: rng.choice(artists)["artist_id"] for a in albums}
    tracks, features, links = [], [], []
    for i in range(n_tracks):
        album = albums[i % len(albums)]
        track_id = spotify_id(rng)
        tracks.append(
            {
                "track_id": track_id,
                "name": f"{' '.join(rng.choices(WORDS, k=3)).title()} 💿 {i}",
                "album_id": album["album_id"],
                "duration_ms": rng.randint(90_000, 400_000),
                "popularity": rng.randint(0, 100),
                "source": "bench",
            }
        )
        links.append(
            {"artist_id": album_artist[album["album_id"]], "track_id": track_id, "position": 0}
        )
        values = {f: _DRAWS.get(f, random.Random.random)(rng) for f in FEATURE_COLUMNS}
        features.append({"track_id": track_id, **values, "source": "bench"})
    album_links = [{"artist_id": a, "album_id": b} for b, a in album_artist.items()]
    return {
        "artist": artists,
        "album": albums,
        "artist_album": album_links,
        "track": tracks,
        "artist_track": links,
        "audio_features": features,
    }


def total_rows(data: dict[str, list[dict]]) -> int:
    return sum(len(rows) for rows in data.values())


def batches(data: dict[str, list[dict]]):
    """(table, slice) in dependency order, BATCH rows at a time: each one transaction."""
    for name, rows in data.items():
        for start in range(0, len(rows), BATCH):
            yield name, slice(start, start + BATCH)


UPSERTS = {
    "artist": catalogue.upsert_artists,
    "album": catalogue.upsert_albums,
    "artist_album": catalogue.link_artist_albums,
    "track": catalogue.upsert_tracks,
    "artist_track": catalogue.link_artist_tracks,
    "audio_features": catalogue.upsert_audio_features,
}


async def data_layer_load(db: Database, data: dict[str, list[dict]]) -> float:
    started = time.perf_counter()
    for name, cut in batches(data):
        async with db.transaction() as conn:
            await UPSERTS[name](conn, data[name][cut])
    return time.perf_counter() - started


def plain_rows(data: dict[str, list[dict]]) -> dict[str, tuple[list[str], list[tuple]]]:
    """The same rows as the driver's tuples, with the derived columns the layer adds."""
    out = {}
    for name, rows in data.items():
        shaped = []
        for row in rows:
            row = dict(row)
            if "name" in row and name in ("artist", "track"):
                row["name_norm"] = norm_name(row["name"])
            if name == "album":
                row["release_year"] = int(row["release_date"][:4])
            shaped.append(row)
        columns = list(shaped[0])
        out[name] = (columns, [tuple(r[c] for c in columns) for r in shaped])
    return out


async def mysql_baseline(url: str, data: dict[str, list[dict]]) -> float:
    db = Database(url)
    rows = plain_rows(data)
    conn = await aiomysql.connect(
        host=db.url.host,
        port=db.url.port or 3306,
        user=db.url.username,
        password=db.url.password or "",
        db=db.url.database,
        charset="utf8mb4",
    )
    await db.dispose()
    started = time.perf_counter()
    for name, cut in batches(data):
        columns, values = rows[name]
        marks = ", ".join(["%s"] * len(columns))
        async with conn.cursor() as cur:
            await cur.executemany(
                f"INSERT INTO {name} ({', '.join(f'`{c}`' for c in columns)}) VALUES ({marks})",
                values[cut],
            )
        await conn.commit()
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def sqlite_baseline(path: Path, data: dict[str, list[dict]]) -> float:
    rows = plain_rows(data)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA cache_size=-65536")  # as the data layer's engine sets it
    started = time.perf_counter()
    for name, cut in batches(data):
        columns, values = rows[name]
        marks = ", ".join(["?"] * len(columns))
        with conn:
            conn.executemany(
                f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})", values[cut]
            )
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


async def empty(db: Database) -> None:
    async with db.transaction() as conn:
        if db.dialect == "mysql":
            await conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for table in reversed(metadata.sorted_tables):
            await conn.execute(table.delete())
        if db.dialect == "mysql":
            await conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))


async def bench_engine(
    engine: str, url: str, data: dict[str, list[dict]], sqlite_path: Path | None
):
    db = Database(url)
    try:
        await init_schema(db)
        await empty(db)
        rows = total_rows(data)
        insert_s = await data_layer_load(db, data)
        update_s = await data_layer_load(db, data)  # the same rows again: the update path
        await empty(db)
        if engine == "mysql":
            baseline_s = await mysql_baseline(url, data)
        else:
            await db.dispose()
            baseline_s = sqlite_baseline(sqlite_path, data)
        await empty(db)
        return {
            "engine": engine,
            "rows": rows,
            "data_layer_rows_per_s": round(rows / insert_s),
            "data_layer_update_rows_per_s": round(rows / update_s),
            "plain_driver_rows_per_s": round(rows / baseline_s),
            "ratio_to_plain_driver": round(baseline_s / insert_s, 2),
        }
    finally:
        await db.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--engines", default="mysql,sqlite")
    parser.add_argument(
        "--mysql-url", default="mysql+aiomysql://root@127.0.0.1:3306/tunecluster_bench"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/bulk_load.json"))
    args = parser.parse_args()

    data = generate(args.tracks)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_path = Path(tmp) / "bench.db"
        for engine in args.engines.split(","):
            url = args.mysql_url if engine == "mysql" else f"sqlite+aiosqlite:///{sqlite_path}"
            result = await bench_engine(engine, url, data, sqlite_path)
            results.append(result)
            print(json.dumps(result))
    report = {
        "benchmark": "bulk_load",
        "tracks": args.tracks,
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, "
        f"Python {platform.python_version()}",
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
