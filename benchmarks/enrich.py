"""Enrichment throughput against the loopback Spotify with its rate limit set.

The fake enforces `--rate` requests per second over a sliding `--window` (answering 429
with Retry-After when exceeded, as Spotify does) and the client is configured with the
same rate. Development tier, so every track costs one request: the run is bounded by
the limiter, and the number to trust is achieved rate / allowed rate (target ≥ 0.90)
with zero 429s caused by the client. Two baselines are measured in the same run: the
allowed rate itself, and the unlimited ceiling (no limit on either side) that shows the
machine is not what bounds the limited run.

    python benchmarks/enrich.py                          # 2,000 tracks at 100 req/s
    python benchmarks/enrich.py --rate 50 --tracks 1000 --window 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline import reccobeats  # noqa: E402
from pipeline.enrichment import enrich  # noqa: E402
from pipeline.reccobeats import ReccoBeatsClient  # noqa: E402
from pipeline.spotify import client as spotify_client  # noqa: E402
from pipeline.spotify.client import SpotifyClient  # noqa: E402
from pipeline.webapi import DatabaseState  # noqa: E402
from sql import catalogue  # noqa: E402
from sql.database import Database  # noqa: E402
from sql.migrate import init_schema  # noqa: E402
from tests.fakes.reccobeats import FakeReccoBeats  # noqa: E402
from tests.fakes.spotify import (  # noqa: E402
    CLIENT_ID,
    CLIENT_SECRET,
    FakeSpotify,
    catalogue_rows,
    make_universe,
)


async def one_run(tracks: int, rate: float | None, window: float, concurrency: int) -> dict:
    u = make_universe(tracks, n_artists=max(1, tracks // 10), n_albums=max(1, tracks // 8), seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        await init_schema(db)
        rows = catalogue_rows(u)
        async with db.transaction() as conn:
            await catalogue.upsert_artists(conn, rows["artists"])
            await catalogue.upsert_albums(conn, rows["albums"])
            await catalogue.upsert_tracks(conn, rows["tracks"])
            await catalogue.link_artist_tracks(conn, rows["artist_tracks"])
        async with (
            FakeSpotify(u, tier="development", rate=rate, window=window) as fake,
            FakeReccoBeats(u) as rb,
            SpotifyClient(
                replace(
                    spotify_client.API,
                    base_url=fake.api_url,
                    requests_per_second=rate or 100_000.0,
                    concurrency=concurrency,
                ),
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                accounts_url=fake.accounts_url,
                state=DatabaseState(db, "spotify"),
            ) as spotify,
            ReccoBeatsClient(
                replace(reccobeats.API, base_url=rb.url, requests_per_second=100_000.0)
            ) as recco,
        ):
            started = time.monotonic()
            summary = await enrich(db, spotify=spotify, reccobeats=recco, types=["tracks"])
            elapsed = time.monotonic() - started
            arrivals = fake.watch.arrivals
            busy = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else elapsed
            result = {
                "tracks": tracks,
                "allowed_rate": rate,
                "window_seconds": window,
                "requests": fake.requests,
                "elapsed_seconds": round(elapsed, 3),
                "achieved_rate": round((fake.requests - 1) / busy, 2) if busy else None,
                "tracks_per_second": round(summary.types["tracks"].done / elapsed, 2),
                "client_caused_429": fake.watch.over_limit,
                "sent_during_cooldown": fake.watch.during_cooldown,
                "max_in_window": fake.watch.max_in_window(window),
                "allowed_in_window": fake.watch.allowed,
            }
        await db.dispose()
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--window", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "enrich.json")
    args = parser.parse_args()

    ceiling = await one_run(args.tracks, None, args.window, args.concurrency)
    limited = await one_run(args.tracks, args.rate, args.window, args.concurrency)
    ratio = limited["achieved_rate"] / args.rate
    report = {
        "machine": f"{platform.node()} {platform.machine()} {platform.python_version()}",
        "command": " ".join(["python", "benchmarks/enrich.py", *sys.argv[1:]]),
        "limited": limited,
        "unlimited_ceiling": ceiling,
        "achieved_over_allowed": round(ratio, 4),
        "ceiling_over_allowed": round(ceiling["achieved_rate"] / args.rate, 2),
        "target": "achieved/allowed >= 0.90 with no client-caused 429",
        "met": ratio >= 0.90 and limited["client_caused_429"] == 0,
    }
    print(json.dumps(report, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
