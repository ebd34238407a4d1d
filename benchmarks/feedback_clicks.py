"""200 feedback button clicks at once through Discord: acknowledged < 3 s, none lost.

The real bot (`tunecluster run`, unmodified discord.py) runs as its own process, as in
production, logged into the loopback Discord emulator, which runs in this process with
the click driver; the catalogue is a trained demo catalogue. First 40 members each get a
`/recommend` of 5 picks (200 picks with buttons); then every pick is clicked (👍 or 👎,
alternately) by its own member, all 200 component interactions (type 3) dispatched at
the same moment. Records for each click the time from dispatch to the callback (Discord
allows 3 s; the emulator answers a later one with 404 Unknown interaction, as Discord
does) and to the member's ephemeral answer, then counts the reactions stored. Baseline
in the same run: the same number of reactions through the feedback service alone (no
Discord), concurrently, on fresh picks.

    python benchmarks/feedback_clicks.py                 # SQLite
    python benchmarks/feedback_clicks.py --database mysql+aiomysql://root@127.0.0.1:3306/tunecluster_bench_feedback
"""

from __future__ import annotations

import argparse
import asyncio
import copy
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
from tests.fakes.discord_emulator import DiscordEmulator, GuildSpec, UserSpec
from tests.support.bot_world import trained_demo

ROOT = Path(__file__).resolve().parents[1]
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


def bot_env(emu: DiscordEmulator, url: str, tmp: Path, guild: GuildSpec) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNECLUSTER_")}
    settings = {
        "DATABASE_URL": url,
        "MODELS_DIR": str(tmp / "models"),
        "DISCORD_TOKEN": emu.token,
        "DISCORD_API_URL": emu.api_url,
        "DISCORD_GATEWAY_URL": emu.gateway_url,
        "DEV_GUILD_ID": str(guild.id),
        "RECCOBEATS_URL": "http://127.0.0.1:9",  # nothing leaves the machine
        "RECOMMEND_COOLDOWN_SECONDS": "0",
        "NO_REPEAT_DAYS": "0",
        "RUN_JOBS": "false",
        "LOG_LEVEL": "WARNING",
        "CONFIG": str(tmp / "none.toml"),
    }
    env.update({f"TUNECLUSTER_{k}": v for k, v in settings.items()})
    env["PYTHONPATH"] = str(ROOT)
    return env


async def through_discord(url: str, tmp: Path, tracks: list[str], clicks: int) -> dict:
    guild = GuildSpec("Bench")
    answers = clicks // PICKS
    async with DiscordEmulator(guilds=[guild], interaction_deadline=3.0) as emu:
        log = (tmp / "bot.log").open("wb")
        bot = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=bot_env(emu, url, tmp, guild), cwd=tmp,
            stdout=log, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            await emu.wait_identified(timeout=120)
            warm = await emu.send_command("recommend", {"track": tracks[-1], "count": 1})
            await warm.wait_done(timeout=120)  # the bot is ready and its bundle loaded
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
            # 1. cold: the first burst since the bot started; 2. the floor; 3. warm
            cold = await click_burst(emu, url, targets, "cold")
            floor = await malformed_burst(
                emu, targets, [UserSpec(f"m{i}") for i, _ in enumerate(targets)]
            )
            warm = await click_burst(emu, url, targets, "warm")
        finally:
            bot.terminate()
            await bot.wait()
            log.close()
    return {"cold": cold, "floor_ack": summary(floor), "warm": warm}


async def click_burst(
    emu: DiscordEmulator, url: str, targets: list[tuple[dict, str]], name: str
) -> dict:
    """Every target clicked at once, each by a member of its own."""
    clickers = [UserSpec(f"{name}{i}") for i in range(len(targets))]
    before = await stored(url)
    started = time.perf_counter()
    sent = await asyncio.gather(
        *(
            emu.send_component(message, custom_id, user=user)
            for (message, custom_id), user in zip(targets, clickers, strict=True)
        )
    )
    dispatched = time.perf_counter() - started  # the emulator's side: the frames out
    await asyncio.gather(*(ix.wait_settled(timeout=120) for ix in sent))
    wall = time.perf_counter() - started
    after = await stored(url)
    acks = [ix.latency if ix.latency is not None else float("inf") for ix in sent]
    done = [ix.done_at - ix.dispatched_at if ix.done_at else float("inf") for ix in sent]
    noted = sum(1 for ix in sent if ix.followups and "Noted" in ix.followups[0]["content"])
    return {
        "clicks": len(sent),
        "acknowledged_within_3s": sum(1 for a in acks if a < 3.0),
        "expired": sum(1 for ix in sent if ix.expired),
        "answered_noted": noted,
        "stored": after - before,
        "lost": len(sent) - (after - before),
        "ack": summary(acks),
        "done": summary(done),
        "wall_s": round(wall, 2),
        "emulator_dispatch_s": round(dispatched, 2),
    }


async def malformed_burst(
    emu: DiscordEmulator, targets: list[tuple[dict, str]], clickers: list[UserSpec]
) -> list[float]:
    """The floor: as many clicks at once on buttons whose custom_id does not parse, which
    the bot answers at once with one line (no defer, no database): what the emulator, the
    gateway and discord.py cost a burst of this size."""
    forged = []
    for index, (message, custom_id) in enumerate(targets):
        copied = copy.deepcopy(message)
        bad = f"tc:x:{index}"
        for row in copied["components"]:
            for button in row["components"]:
                if button.get("custom_id") == custom_id:
                    button["custom_id"] = bad
        copied["id"] = str(10**18 + index)  # not a stored message: the copy is used as is
        forged.append((copied, bad))
    sent = await asyncio.gather(
        *(
            emu.send_component(message, custom_id, user=user)
            for (message, custom_id), user in zip(forged, clickers, strict=True)
        )
    )
    await asyncio.gather(*(ix.wait_settled(timeout=120) for ix in sent))
    assert all(ix.expired or "not one of mine" in ix.callback["data"]["content"] for ix in sent)
    return [ix.latency if ix.latency is not None else float("inf") for ix in sent]


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
        clicks = await through_discord(url, Path(tmp), catalogue[1:], args.clicks)
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
        "warm_ack_p50_over_floor_p50": round(
            clicks["warm"]["ack"]["p50_ms"] / clicks["floor_ack"]["p50_ms"], 2
        ),
        "done_p50_over_service_p50": round(
            clicks["warm"]["done"]["p50_ms"] / summary(baseline)["p50_ms"], 2
        ),
    }
    print(json.dumps(report, indent=2))
    name = "feedback_clicks" if engine.startswith("sqlite") else "feedback_clicks_mysql"
    out = args.out or Path(f"benchmarks/results/{name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
