"""/recommend through Discord: acknowledgement under a burst, memory over a long run.

The bot runs as `tunecluster run` in its own process (so its memory is its own), logged
into the loopback Discord emulator in this process, against a trained demo catalogue,
with `TUNECLUSTER_METRICS_PORT` on.

- `--mode burst` (default): N members send /recommend at the same moment while
  `/metrics` is scraped every 100 ms; records each interaction's time to the first
  callback (Discord's 3-second rule) and to the answer, and the scrape times. Baseline
  in the same run: the same N recommendations through the service alone, concurrently.
- `--mode memory`: N sequential /recommend (a new member each, one guild), the bot's
  resident memory (its own `process_resident_memory_bytes`) and the median answer time
  per window. Baseline: the first window after warm-up; target: flat within 10 %.

    python benchmarks/bot_interactions.py --concurrent 200
    python benchmarks/bot_interactions.py --mode memory --answers 10000
    python benchmarks/bot_interactions.py --database mysql+aiomysql://root@127.0.0.1:3306/tc_bench
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.services.recommend import RecommendSettings, recommend
from bot.settings import load_settings
from recommender.serving import Recommender
from sql.database import Database
from tests.fakes.discord_emulator import DiscordEmulator, GuildSpec, UserSpec
from tests.support.bot_world import running_bot, trained_demo

ROOT = Path(__file__).resolve().parents[1]


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


class BotProcess:
    """`python -m bot run` against the emulator, with metrics on a free port."""

    def __init__(self, emu: DiscordEmulator, url: str, models_dir: Path, guild: GuildSpec):
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TUNECLUSTER_")}
        settings = {
            "DATABASE_URL": url,
            "MODELS_DIR": str(models_dir),
            "DISCORD_TOKEN": emu.token,
            "DISCORD_API_URL": emu.api_url,
            "DISCORD_GATEWAY_URL": emu.gateway_url,
            "DEV_GUILD_ID": str(guild.id),
            "RECCOBEATS_URL": "http://127.0.0.1:9",
            "RECOMMEND_COOLDOWN_SECONDS": "0",
            "RUN_JOBS": "false",  # the background jobs have tests of their own
            # every answer holds a pick (no-repeat would exhaust one guild's catalogue)
            "NO_REPEAT_DAYS": "0",
            "METRICS_PORT": str(self.port),
            "LOG_LEVEL": "WARNING",
            "CONFIG": "/nonexistent.toml",
        }
        env.update({f"TUNECLUSTER_{k}": v for k, v in settings.items()})
        env["PYTHONPATH"] = str(ROOT)
        self.env = env
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> BotProcess:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=self.env, cwd=ROOT
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.process.wait(), 60)
            except TimeoutError:
                print("the bot did not stop within 60 s of SIGINT: killed", file=sys.stderr)
                self.process.kill()
                await self.process.wait()

    async def metric(self, http: aiohttp.ClientSession, name: str) -> float:
        async with http.get(f"http://127.0.0.1:{self.port}/metrics") as response:
            for line in (await response.text()).splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
        raise KeyError(name)


async def ready(emu: DiscordEmulator, guild: GuildSpec, track: str) -> None:
    """Identified, commands synced to the guild, model loaded (one answer)."""
    await emu.wait_identified(timeout=120)
    deadline = time.monotonic() + 120
    while not emu.synced_commands(guild.id):
        if time.monotonic() > deadline:
            raise TimeoutError("the bot never synced its commands")
        await asyncio.sleep(0.1)
    warm = await emu.send_command("recommend", {"track": track, "count": 1})
    await warm.wait_done(timeout=60)


async def burst(emu, bot: BotProcess, tracks: list[str]) -> dict:
    scrapes: list[float] = []
    stop = asyncio.Event()

    async def scrape(http: aiohttp.ClientSession) -> None:
        while not stop.is_set():
            started = time.perf_counter()
            await bot.metric(http, "process_resident_memory_bytes")
            scrapes.append(time.perf_counter() - started)
            await asyncio.sleep(0.1)

    users = [UserSpec(f"member{i}") for i in range(len(tracks))]
    async with aiohttp.ClientSession() as http:
        scraper = asyncio.create_task(scrape(http))
        sent = await asyncio.gather(
            *(
                emu.send_command("recommend", {"track": t, "count": 1}, user=u)
                for t, u in zip(tracks, users, strict=True)
            )
        )
        await asyncio.gather(*(ix.wait_done(timeout=180) for ix in sent))
        stop.set()
        await scraper
    acks = [ix.callback_at - ix.dispatched_at for ix in sent]
    done = [ix.done_at - ix.dispatched_at for ix in sent]
    return {
        "acknowledged_within_3s": sum(1 for a in acks if a < 3.0),
        "expired": sum(1 for ix in sent if ix.expired),
        "ephemeral_answers": sum(1 for ix in sent if ix.ephemeral),
        "ack": summary(acks),
        "done": summary(done),
        "metrics_scrapes": len(scrapes),
        "scrape": summary(scrapes),
    }


def own_rss() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def memory(emu, bot: BotProcess | None, tracks: list[str], answers: int, window: int) -> dict:
    """`bot=None`: the bot runs in this process (`--in-process`), whose memory is read."""
    rows = []
    async with aiohttp.ClientSession() as http:
        for start in range(0, answers, window):
            times = []
            for k in range(start, min(answers, start + window)):
                ix = await emu.send_command(
                    "recommend",
                    {"track": tracks[k % len(tracks)], "count": 1},
                    user=UserSpec(f"m{k}"),
                )
                await ix.wait_done(timeout=60)
                times.append(ix.done_at - ix.dispatched_at)
            rss = await bot.metric(http, "process_resident_memory_bytes") if bot else own_rss()
            rows.append(
                {
                    "answers": start + len(times),
                    "rss_mb": round(rss / 1e6, 1),
                    "answer_p50_ms": round(statistics.median(times) * 1000, 1),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    first, last = rows[0], rows[-1]
    return {
        "windows": rows,
        "rss_last_over_first": round(last["rss_mb"] / first["rss_mb"], 3),
        "rss_max_over_first": round(max(r["rss_mb"] for r in rows) / first["rss_mb"], 3),
        "p50_last_over_first": round(last["answer_p50_ms"] / first["answer_p50_ms"], 2),
    }


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["burst", "memory"], default="burst")
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--answers", type=int, default=10_000)
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--tracks", type=int, default=3000, help="demo catalogue size")
    parser.add_argument("--database", help="a database URL (default: a fresh SQLite file)")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="memory mode: the bot in this process, with the emulator (as the tests run it)",
    )
    parser.add_argument(
        "--history", type=int, help="the emulator keeps only this many records (--in-process)"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    suffix = "_in_process" if args.in_process else ""
    out = args.out or Path(f"benchmarks/results/bot_interactions_{args.mode}{suffix}.json")

    load_before = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite+aiosqlite:///{tmp}/bench.db"
        models_dir = Path(tmp) / "models"
        catalogue = await trained_demo(url, models_dir, tracks=args.tracks, seed=5)
        guild = GuildSpec("Bench")
        report: dict = {}
        if args.mode == "burst":
            asked = catalogue[1 : args.concurrent + 1]
            baseline = await service_baseline(url, models_dir, asked)
            report["service_alone"] = summary(baseline)
        if args.in_process:  # as the tests run it: the emulator's records count too
            async with (
                DiscordEmulator(guilds=[guild], history=args.history) as emu,
                running_bot(
                    emu, database_url=url, models_dir=models_dir, dev_guild_id=guild.id,
                    recommend_cooldown_seconds=0, run_jobs=False, no_repeat_days=0,
                ),
            ):  # fmt: skip
                await ready(emu, guild, catalogue[0])
                report.update(await memory(emu, None, catalogue, args.answers, args.window))
                report["emulator_history"] = args.history
        else:
            async with (
                DiscordEmulator(guilds=[guild], interaction_deadline=3.0) as emu,
                BotProcess(emu, url, models_dir, guild) as bot,
            ):
                await ready(emu, guild, catalogue[0])
                if args.mode == "burst":
                    report.update(await burst(emu, bot, asked))
                    report["done_p50_over_service_p50"] = round(
                        report["done"]["p50_ms"] / report["service_alone"]["p50_ms"], 2
                    )
                else:
                    report.update(await memory(emu, bot, catalogue, args.answers, args.window))

    write(args, url, load_before, out, report)


def write(args, url: str, load_before: list[float], out: Path, report: dict) -> None:
    report = {
        "benchmark": f"bot_interactions ({args.mode}{', in process' if args.in_process else ''})",
        "command": " ".join(["python", *sys.argv]),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_average_before_after": [load_before, load_average()],
        "engine": url.split(":")[0],
        "catalogue_tracks": args.tracks,
        "concurrent" if args.mode == "burst" else "answers": (
            args.concurrent if args.mode == "burst" else args.answers
        ),
        **report,
    }
    print(json.dumps(report, indent=2))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
