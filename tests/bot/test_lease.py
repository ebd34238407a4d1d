"""One process runs the global jobs: the lease in the database, and each global job once
per period whatever the number of processes.

First two schedulers in this loop (each with its own connection pool and holder) on
both engines; then two real bot processes (`python -m bot run`, logged into the Discord
emulator) on one MariaDB database, the leader killed without warning half-way.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import datetime
from functools import partial
from pathlib import Path

import pytest

from bot.scheduler import LEASE, BotScheduler, GlobalJob
from bot.services.jobs import holder_id
from sql import clock, jobs
from sql.database import Database
from tests.fakes.discord_emulator import DiscordEmulator, GuildSpec
from tests.support.cli import loopback_settings, settings_env
from tests.support.environment import ROOT
from tests.support.jobs import per_period, recorded_runs, ticker, until


def _scheduler(db: Database, *global_jobs: GlobalJob, lease: float = 1.0) -> BotScheduler:
    return BotScheduler(
        db, holder=holder_id("test"), lease_seconds=lease, global_jobs=global_jobs,
        startup_delay=0.1,
    )  # fmt: skip


async def test_two_schedulers_run_a_global_job_once_per_period(db: Database) -> None:
    other = Database(db.url)  # a second pool, as a second process would have
    counts: dict[str, int] = {}
    period = 0.5
    first = _scheduler(db, GlobalJob("tick", period, ticker(counts, "first")))
    second = _scheduler(other, GlobalJob("tick", period, ticker(counts, "second")))
    try:
        await first.start()
        await second.start()
        assert first.leader and not second.leader
        await until(lambda: _runs_by(db, first.holder, 2), 60, "two runs by the leader")
        before = await recorded_runs(db, "tick")
        assert {r["holder"] for r in before} == {first.holder}
        # the leader dies without a word: its lease expires and the other takes over
        first.aps.shutdown(wait=False)
        first.leader = False
        await until(lambda: _runs_by(db, second.holder, 2), 60, "two runs by the other")
        second.aps.pause()  # no new run; then the ones in flight end and are counted
        await until(lambda: _none_running(db), 60, "the runs in flight to end")
        runs = await recorded_runs(db, "tick")
        assert second.leader
        assert max(per_period(runs, period).values()) == 1  # never twice in a period
        # every body ran inside a recorded run; the leader's shutdown may cancel a run
        # before or after its body, so only the `ok` runs are sure to have run one
        ran = counts.get("first", 0) + counts.get("second", 0)
        assert sum(r["outcome"] == "ok" for r in runs) <= ran <= len(runs), (counts, runs)
    finally:
        await first.shutdown()
        await second.shutdown()
        await other.dispose()


async def _runs_by(db: Database, holder: str, at_least: int) -> bool:
    return sum(r["holder"] == holder for r in await recorded_runs(db, "tick")) >= at_least


async def _none_running(db: Database) -> bool:
    return all(r["finished_at"] is not None for r in await recorded_runs(db, "tick"))


async def test_a_stopping_leader_hands_over_at_once(db: Database) -> None:
    first, second = _scheduler(db, lease=60), _scheduler(db, lease=60)
    await first.start()
    await second.start()
    assert first.leader and not second.leader
    assert not await second.heartbeat()
    await first.shutdown()  # releases the lease
    assert await second.heartbeat()
    await second.shutdown()


# --- two bot processes ---------------------------------------------------------------------------

ENRICH, INGEST, RETRAIN = 3.0, 3.0, 3.6  # seconds per period (exact in the settings' units)
LEASE_SECONDS = 2.0


def _env(emu: DiscordEmulator, url: str, tmp: Path) -> dict[str, str]:
    env = settings_env(
        **loopback_settings(emu),
        database_url=url,
        models_dir=tmp / "models",
        enrich_interval_minutes=ENRICH / 60,
        watch_dir=tmp / "watch",
        watch_interval_minutes=INGEST / 60,
        retrain_interval_hours=RETRAIN / 3600,
        lease_seconds=LEASE_SECONDS,
        log_level="INFO",
        config=tmp / "none.toml",
    )
    env["PYTHONPATH"] = str(ROOT)
    return env


async def _bot_process(env: dict[str, str], cwd: Path, log: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run",
        env=env, cwd=cwd, stdout=log.open("wb"), stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # a group of its own, killed whole
    )  # fmt: skip


@pytest.mark.slow
async def test_two_bot_processes_run_each_global_job_once_per_period(
    mariadb: Database, tmp_path: Path
) -> None:
    (tmp_path / "watch").mkdir()
    async with DiscordEmulator(guilds=[GuildSpec("Music")]) as emu:
        env = _env(emu, mariadb.url.render_as_string(hide_password=False), tmp_path)
        logs = [tmp_path / "bot-a.log", tmp_path / "bot-b.log"]
        bots = [await _bot_process(env, tmp_path, log) for log in logs]
        try:
            await emu.wait_identified(timeout=60, count=2)
            await until(lambda: _lease(mariadb), 60, "a lease holder")
            await until(lambda: _each_job_ran(mariadb), 120, "a run of every global job")
            holder = await _lease(mariadb)
            leader = next(b for b in bots if f":{b.pid}:" in holder)
            survivor = next(b for b in bots if b is not leader)
            # no goodbye: the lease must expire. The whole process group, as when a host
            # dies: a training worker being spawned would otherwise outlive its parent and
            # print its own traceback into the log
            os.killpg(leader.pid, signal.SIGKILL)
            await leader.wait()
            killed_at = clock.naive_now()
            survivor_ran = partial(_each_job_ran, mariadb, f":{survivor.pid}:", killed_at)
            await until(survivor_ran, 120, "a run of every global job by the survivor")
        finally:
            for bot in bots:
                if bot.returncode is None:
                    bot.send_signal(signal.SIGINT)  # a clean stop (releases the lease)
            for bot in bots:
                await asyncio.wait_for(bot.wait(), 30)
        output = "\n".join(log.read_text(errors="replace") for log in logs)

    for job, period in (("enrich", ENRICH), ("ingest", INGEST), ("retrain", RETRAIN)):
        runs = await recorded_runs(mariadb, job)
        assert runs, f"{job} never ran:\n{output[-3000:]}"
        assert max(per_period(runs, period).values()) == 1, (job, runs)
        before = [r for r in runs if r["started_at"] < killed_at]
        after = [r for r in runs if r["started_at"] >= killed_at]
        assert {r["holder"] for r in before} == {holder}, (job, before)
        assert after and all(f":{survivor.pid}:" in r["holder"] for r in after), (job, after)
        # nothing left `running`: a killed holder's runs are abandoned, a stopped one's
        # cancelled
        assert all(
            r["outcome"] in ("ok", "skipped", "failed", "abandoned", "cancelled") for r in runs
        ), runs
    assert "Traceback" not in output, output[-3000:]


async def _each_job_ran(db: Database, holder: str = "", since: datetime | None = None) -> bool:
    """Every global job has a run (by a holder containing `holder`, since `since`)."""
    for job in ("enrich", "ingest", "retrain"):
        runs = await recorded_runs(db, job)
        if not any(
            holder in r["holder"] and (since is None or r["started_at"] >= since) for r in runs
        ):
            return False
    return True


async def _lease(db: Database) -> str | None:
    async with db.connection() as conn:
        found = await jobs.lease_holder(conn, LEASE)
    return found[0] if found else None
