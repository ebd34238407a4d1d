"""Concurrent /recommend through Discord: acknowledgement and completion times.

Runs the real bot (unmodified discord.py) against the loopback Discord emulator with a
trained demo catalogue, dispatches N /recommend interactions at once, and records for
each the time to the first callback (Discord's 3-second rule) and to the finished
answer. Baseline in the same run: the same N recommendations through the service alone
(no Discord), concurrently, so the ratio shows what the Discord layer adds.

    python benchmarks/bot_interactions.py                  # 50 concurrent, SQLite
    python benchmarks/bot_interactions.py --concurrent 100 --database mysql+aiomysql://root@127.0.0.1:3306/tc_bench
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.services.recommend import RecommendSettings, recommend
from bot.settings import load_settings
from recommender.serving import Recommender
from sql.database import Database
from tests.bot_world import running_bot, trained_demo
from tests.fakes.discord_emulator import DiscordEmulator, GuildSpec, UserSpec


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


async def service_baseline(url: str, models_dir: Path, tracks: list[str]) -> list[float]:
    db = Database(url)
    recommender = Recommender(models_dir)
    config = RecommendSettings.from_settings(load_settings(models_dir=models_dir))

    async def one(track: str) -> float:
        started = time.perf_counter()
        await recommend(db, recommender, track, config, n=1, log=False)
        return time.perf_counter() - started

    try:
        await one(tracks[0])  # load the bundle once, as the bot has by then
        return list(await asyncio.gather(*(one(t) for t in tracks)))
    finally:
        await db.dispose()


async def through_discord(
    url: str, models_dir: Path, tracks: list[str]
) -> tuple[list[float], list[float], int]:
    guild = GuildSpec("Bench")
    async with (
        DiscordEmulator(guilds=[guild], interaction_deadline=3.0) as emu,
        running_bot(
            emu,
            database_url=url,
            models_dir=models_dir,
            dev_guild_id=guild.id,
            recommend_cooldown_seconds=0,
            run_jobs=False,  # the background jobs have tests of their own
        ),
    ):
        warm = await emu.send_command("recommend", {"track": tracks[0], "count": 1})
        await warm.wait_done(timeout=30)
        users = [UserSpec(f"member{i}") for i in range(len(tracks))]
        sent = await asyncio.gather(
            *(
                emu.send_command("recommend", {"track": t, "count": 1}, user=u)
                for t, u in zip(tracks, users, strict=True)
            )
        )
        await asyncio.gather(*(ix.wait_done(timeout=120) for ix in sent))
        acks = [ix.callback_at - ix.dispatched_at for ix in sent]
        done = [ix.done_at - ix.dispatched_at for ix in sent]
        late = sum(1 for ix in sent if ix.expired)
        return acks, done, late


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--tracks", type=int, default=3000, help="demo catalogue size")
    parser.add_argument("--database", help="a database URL (default: a fresh SQLite file)")
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/bot_interactions.json")
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite+aiosqlite:///{tmp}/bench.db"
        models_dir = Path(tmp) / "models"
        catalogue = await trained_demo(url, models_dir, tracks=args.tracks, seed=5)
        asked = catalogue[1 : args.concurrent + 1]
        baseline = await service_baseline(url, models_dir, asked)
        acks, done, late = await through_discord(url, models_dir, asked)

    report = {
        "benchmark": "bot_interactions",
        "command": " ".join(sys.argv),
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "engine": url.split(":")[0],
        "catalogue_tracks": args.tracks,
        "concurrent": args.concurrent,
        "acknowledged_within_3s": sum(1 for a in acks if a < 3.0),
        "expired": late,
        "ack": summary(acks),
        "done": summary(done),
        "service_alone": summary(baseline),
        "done_p50_over_service_p50": round(
            statistics.median(done) / statistics.median(baseline), 2
        ),
    }
    print(json.dumps(report, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
