"""200 feedback button clicks at once through Discord: acknowledged < 3 s, none lost.

Runs the real bot (unmodified discord.py) against the loopback Discord emulator with a
trained demo catalogue. First 40 members each get a `/recommend` of 5 picks (200 picks
with buttons); then every pick is clicked (👍 or 👎, alternately) by its own member, all
200 component interactions dispatched at the same moment. Records for each click the
time to the callback (Discord allows 3 s; the emulator answers a later one with 404
Unknown interaction, as Discord does) and to the member's ephemeral answer, then counts
the reactions stored. Baseline in the same run: the same 200 reactions through the
feedback service alone (no Discord), concurrently, on fresh picks.

    python benchmarks/feedback_clicks.py                 # SQLite
    python benchmarks/feedback_clicks.py --database mysql+aiomysql://root@127.0.0.1:3306/tunecluster_bench_feedback
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select, text

from bot.services import feedback
from sql.database import Database
from sql.schema import reaction
from tests.bot_world import running_bot, trained_demo
from tests.fakes.discord_emulator import DiscordEmulator, GuildSpec, UserSpec

PICKS = 5


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


async def stored(url: str) -> int:
    db = Database(url)
    try:
        async with db.connection() as conn:
            return await conn.scalar(select(func.count()).select_from(reaction))
    finally:
        await db.dispose()


async def through_discord(url: str, models_dir: Path, tracks: list[str], clicks: int) -> dict:
    guild = GuildSpec("Bench")
    answers = clicks // PICKS
    async with (
        DiscordEmulator(guilds=[guild], interaction_deadline=3.0) as emu,
        running_bot(
            emu,
            database_url=url,
            models_dir=models_dir,
            dev_guild_id=guild.id,
            recommend_cooldown_seconds=0,
            no_repeat_days=0,
            run_jobs=False,
        ),
    ):
        askers = [UserSpec(f"asker{i}") for i in range(answers)]
        asked = [
            await emu.send_command("recommend", {"track": t, "count": PICKS}, user=u)
            for t, u in zip(tracks[:answers], askers, strict=True)
        ]
        await asyncio.gather(*(ix.wait_done(timeout=120) for ix in asked))
        targets = []
        for ix in asked:
            message = ix.followups[0]
            for row in message["components"]:
                ids = [b["custom_id"] for b in row["components"] if b.get("custom_id")]
                targets.append((message, ids[len(targets) % 2]))  # 👍, 👎 alternately
        clickers = [UserSpec(f"clicker{i}") for i in range(len(targets))]
        before = await stored(url)
        started = time.perf_counter()
        sent = await asyncio.gather(
            *(
                emu.send_component(message, custom_id, user=user)
                for (message, custom_id), user in zip(targets, clickers, strict=True)
            )
        )
        await asyncio.gather(*(ix.wait_done(timeout=120) for ix in sent))
        wall = time.perf_counter() - started
        after = await stored(url)
        acks = [ix.callback_at - ix.dispatched_at for ix in sent]
        done = [ix.done_at - ix.dispatched_at for ix in sent]
        answered = sum(1 for ix in sent if ix.followups and "Noted" in ix.followups[0]["content"])
        return {
            "clicks": len(sent),
            "acknowledged_within_3s": sum(1 for ix in sent if ix.latency < 3.0 and not ix.expired),
            "expired": sum(1 for ix in sent if ix.expired),
            "answered_noted": answered,
            "stored": after - before,
            "lost": len(sent) - (after - before),
            "ack": summary(acks),
            "done": summary(done),
            "wall_s": round(wall, 2),
        }


async def service_baseline(url: str, tracks: list[str], clicks: int) -> list[float]:
    """The same number of reactions through `feedback.react` alone, concurrently."""
    db = Database(url)
    try:
        shown = []
        for start in range(0, clicks, PICKS):
            answer = await feedback.record_shown(
                db, guild_id=1, user_id=None, source="bench", track_ids=tracks[start : start + PICKS],
                seed_track_id=None, strategy="cluster-nearest", arm="off", model_version=None,
            )  # fmt: skip
            shown.append(answer)

        async def one(index: int) -> float:
            answer = shown[index // PICKS]
            position = index % PICKS
            click = feedback.Click("like", answer.answer_id, position, answer.track_ids[position])
            begun = time.perf_counter()
            await feedback.react(db, click, guild_id=1, user_id=10_000 + index)
            return time.perf_counter() - begun

        return list(await asyncio.gather(*(one(i) for i in range(clicks))))
    finally:
        await db.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=200)
    parser.add_argument("--tracks", type=int, default=3000, help="demo catalogue size")
    parser.add_argument("--database", help="a database URL (default: a fresh SQLite file)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.clicks % PICKS:
        parser.error(f"--clicks must be a multiple of {PICKS}")

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite+aiosqlite:///{tmp}/bench.db"
        if args.database:  # start from an empty database of that name
            db = Database(url.rsplit("/", 1)[0] + "/mysql")
            async with db.transaction() as conn:
                await conn.execute(text(f"DROP DATABASE IF EXISTS `{url.rsplit('/', 1)[1]}`"))
            await db.dispose()
        models_dir = Path(tmp) / "models"
        catalogue = await trained_demo(url, models_dir, tracks=args.tracks, seed=5)
        clicks = await through_discord(url, models_dir, catalogue[1:], args.clicks)
        baseline = await service_baseline(url, catalogue[-args.clicks :], args.clicks)

    engine = url.split(":")[0]
    report = {
        "benchmark": "feedback_clicks",
        "command": " ".join(["python", *sys.argv]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_1min": round(os.getloadavg()[0], 2),
        "engine": engine,
        "catalogue_tracks": args.tracks,
        **clicks,
        "service_alone": summary(baseline),
        "done_p50_over_service_p50": round(
            clicks["done"]["p50_ms"] / summary(baseline)["p50_ms"], 2
        ),
    }
    print(json.dumps(report, indent=2))
    name = "feedback_clicks" if engine.startswith("sqlite") else "feedback_clicks_mysql"
    out = args.out or Path(f"benchmarks/results/{name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
