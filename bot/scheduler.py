"""The bot's background scheduler: APScheduler 3.11's AsyncIOScheduler on the bot's loop.

Jobs are built at start from the settings and the database:

- Global jobs: enrichment (`enrich_interval_minutes`), ingest of the watched folder
  (`watch_interval_minutes`, when `watch_dir` is set), retraining when the curated set
  changed (`retrain_interval_hours`). Their periods are aligned to the Unix epoch, so
  every process fires at the same instants, and one process runs them: the holder of
  the `scheduler` lease (a row with an expiry, renewed by a heartbeat every third of
  `lease_seconds`, taken over once its holder stops renewing). A run is recorded, and
  then runs, only if no run of that job started in the current period; that check, the
  lease renewal and the run's start row are one transaction. So each global job runs
  once per period, whichever processes are up.
- Discovery posts: one cron job per guild with posts on, in the guild's timezone, for
  the guilds on this process's shards (`TUNECLUSTER_SHARD_IDS`; every guild when the
  process runs all shards). Any process may fire one: the post first claims its slot
  (`bot.services.discovery`). A
  reconcile job rereads `guild_settings` every minute (changes made through another
  process); the process that handled `/discovery` updates its own jobs at once.

After a restart, a global job whose period boundary passed while the bot was down runs
once soon after start, and a discovery slot missed by less than the grace is posted
once. Every job has `max_instances=1`, `coalesce=True` and a misfire grace. CPU work
never runs on the loop (see `bot.services.jobs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import discord
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.discovery_messages import deliverer
from bot.embeds import train_embed
from bot.services.context import AppContext
from bot.services.discovery import (
    GRACE,
    Deliver,
    Schedule,
    due_slot_of,
    scheduled_post,
)
from bot.services.jobs import (
    Body,
    JobOutcome,
    enrich_catalogue,
    holder_id,
    ingest_watched,
    one_line,
    retrain_if_changed,
    run_recorded,
)
from bot.services.train import TrainSettings
from sql import clock, guilds, jobs, liveness
from sql.database import Database

log = logging.getLogger("tunecluster.scheduler")

LEASE = "scheduler"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
GLOBAL_GRACE_SECONDS = 300
RECONCILE_SECONDS = 60.0
STARTUP_DELAY_SECONDS = 5.0
STOP_TIMEOUT_SECONDS = 15.0

Report = Callable[[JobOutcome], Awaitable[None]]
Disabled = Callable[[int, str], Awaitable[None]]


@dataclass(frozen=True)
class GlobalJob:
    """A job one process runs for everyone, once per `period` seconds."""

    name: str
    period: float
    body: Body
    report: Report | None = None

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=self.period)


def period_start(now: datetime, interval: timedelta) -> datetime:
    """The start of the epoch-aligned period holding `now` (exact, in microseconds)."""
    return EPOCH + ((now - EPOCH) // interval) * interval


class BotScheduler:
    """Owns the AsyncIOScheduler; `start` inside the running loop, `shutdown` before the
    database closes."""

    def __init__(
        self,
        db: Database,
        *,
        holder: str,
        lease_seconds: float,
        global_jobs: Sequence[GlobalJob] = (),
        deliver: Deliver | None = None,
        no_repeat_days: float = 7.0,
        on_disabled: Disabled | None = None,
        runs_guild: Callable[[int], bool] | None = None,
        reconcile_seconds: float = RECONCILE_SECONDS,
        startup_delay: float = STARTUP_DELAY_SECONDS,
    ) -> None:
        self.db = db
        self.holder = holder
        self.lease_seconds = lease_seconds
        self.global_jobs = list(global_jobs)
        self.deliver = deliver
        self.no_repeat_days = no_repeat_days
        self.on_disabled = on_disabled
        self.runs_guild = runs_guild or (lambda _guild_id: True)  # its shards' guilds only
        self.reconcile_seconds = reconcile_seconds
        self.startup_delay = startup_delay
        self.leader = False
        self.aps = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={
                "max_instances": 1,
                "coalesce": True,
                "misfire_grace_time": GLOBAL_GRACE_SECONDS,
            },
        )
        self._tasks: set[asyncio.Task] = set()
        self._schedules: dict[int, Schedule] = {}
        # A heartbeat in flight at shutdown must not take the lease back after it was
        # released (the next process would wait out the lease, and skip a catch-up run).
        self._lease_lock = asyncio.Lock()
        self._stopping = False

    # --- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self.aps.start()
        await self.heartbeat()
        now = clock.aware_now()
        for job in self.global_jobs:
            seconds = job.interval.total_seconds()
            scheduled = self.aps.add_job(
                self._run_global,
                IntervalTrigger(seconds=seconds, start_date=EPOCH, timezone=UTC),
                args=[job],
                id=f"global:{job.name}",
                name=job.name,
                replace_existing=True,
                misfire_grace_time=max(1, int(min(GLOBAL_GRACE_SECONDS, seconds))),
            )
            if await self._missed(job, now):
                log.info("job %s missed its period while the bot was down: running it", job.name)
                scheduled.modify(next_run_time=now + timedelta(seconds=self.startup_delay))
        self.aps.add_job(
            self.heartbeat,
            IntervalTrigger(seconds=self.lease_seconds / 3, timezone=UTC),
            id="heartbeat",
            name="lease heartbeat",
            replace_existing=True,
        )
        if self.deliver is not None:
            self.aps.add_job(
                self.reload_guilds,
                IntervalTrigger(seconds=self.reconcile_seconds, timezone=UTC),
                id="reconcile",
                name="discovery schedules",
                replace_existing=True,
            )
            await self.reload_guilds()
        log.info(
            "scheduler started as %s (%s): %s",
            self.holder,
            "running the global jobs" if self.leader else "standing by for the global jobs",
            ", ".join(f"{j.name} every {j.period:g} s" for j in self.global_jobs)
            or "no global jobs",
        )

    async def shutdown(self) -> None:
        """Stop firing, cancel the runs in flight (they record themselves as cancelled),
        and hand the lease over at once."""
        self._stopping = True
        if self.aps.running:
            self.aps.pause()
        running = [t for t in self._tasks if not t.done()]
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=STOP_TIMEOUT_SECONDS)
        try:  # runs that could not record their end in time are closed here
            async with self.db.transaction() as conn:
                await jobs.abandon_runs(conn, self.holder, "the process stopped", "cancelled")
        except Exception as error:
            log.warning("could not close this process's runs: %s", one_line(error))
        if self.aps.running:
            self.aps.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the next loop turn
        async with self._lease_lock:  # after any heartbeat in flight
            await self._release()

    async def _release(self) -> None:
        if self.leader:
            try:
                async with self.db.transaction() as conn:
                    await jobs.release_lease(conn, LEASE, self.holder)
            except Exception as error:
                log.warning("could not release the scheduler lease: %s", one_line(error))
            self.leader = False

    @contextlib.contextmanager
    def _tracked(self) -> Iterator[None]:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._tasks.discard(task)

    # --- the lease ------------------------------------------------------------------------------

    async def heartbeat(self) -> bool:
        """Take or renew the lease; close the runs a stopped holder left open."""
        async with self._lease_lock:
            if self._stopping:
                return False
            return await self._beat()

    async def _beat(self) -> bool:
        try:
            async with self.db.transaction() as conn:
                before = await jobs.lease_holder(conn, LEASE)
                taken = await jobs.take_lease(conn, LEASE, self.holder, self.lease_seconds)
                if taken and before and before[0] != self.holder:
                    closed = await jobs.abandon_runs(
                        conn, before[0], f"abandoned: {before[0]} stopped (lease taken over)"
                    )
                    log.info("took the lease over from %s (%d runs closed)", before[0], closed)
                if taken:  # runs whose process was killed (any holder, the command line too)
                    closed = await liveness.abandon_dead_runs(conn)
                    if closed:
                        log.info("closed %d runs whose process had stopped", closed)
        except asyncio.CancelledError:  # the bot stopping mid-beat: not an error to log
            log.info("lease heartbeat stopped with the bot")
            return self.leader
        except Exception as error:
            log.warning("lease heartbeat failed: %s", one_line(error))
            taken = False
        if taken != self.leader:
            log.info(
                "%s %s the global jobs", self.holder, "now runs" if taken else "stopped running"
            )
        self.leader = taken
        return taken

    async def _renew(self, conn: AsyncConnection) -> bool:
        self.leader = await jobs.take_lease(conn, LEASE, self.holder, self.lease_seconds)
        return self.leader

    # --- global jobs ------------------------------------------------------------------------------

    async def _missed(self, job: GlobalJob, now: datetime) -> bool:
        """The job ran before, but not in the current period: its boundary passed while
        no process was up."""
        try:
            async with self.db.connection() as conn:
                last = await jobs.runs(conn, job.name, limit=1)
        except Exception as error:
            log.warning("could not read the runs of %s: %s", job.name, one_line(error))
            return False
        return bool(last) and last[0]["started_at"] < clock.to_naive(
            period_start(now, job.interval)
        )

    async def _run_global(self, job: GlobalJob) -> None:
        with self._tracked():
            since = clock.to_naive(period_start(clock.aware_now(), job.interval))

            async def gate(conn: AsyncConnection) -> bool:
                if not await self._renew(conn):
                    return False  # another process runs the global jobs
                return not await jobs.started_since(conn, job.name, since)

            try:
                outcome = await run_recorded(self.db, job.name, self.holder, job.body, gate=gate)
            except asyncio.CancelledError:  # stopping: the run recorded itself as cancelled
                log.info("job %s cancelled: the scheduler is stopping", job.name)
                return
            except Exception as error:  # the database is down: try again next period
                log.warning("job %s could not start: %s", job.name, one_line(error))
                return
            if outcome is not None and job.report is not None:
                try:
                    await job.report(outcome)
                except Exception as error:
                    log.warning("could not report job %s: %s", job.name, one_line(error))

    # --- discovery posts ----------------------------------------------------------------------

    @staticmethod
    def discovery_job_id(guild_id: int) -> str:
        return f"discovery:{guild_id}"

    def next_post(self, guild_id: int) -> datetime | None:
        job = self.aps.get_job(self.discovery_job_id(guild_id))
        return job.next_run_time if job else None

    def schedule_guild(
        self, row: dict[str, Any], *, now: datetime | None = None
    ) -> datetime | None:
        """(Re)schedule one guild's posts from its settings row; runs a due, unclaimed slot
        at once. Returns the next run time (None: no posts scheduled)."""
        guild_id = int(row["guild_id"])
        schedule = Schedule.from_row(row) if row.get("enabled") else None
        if schedule is None or self.deliver is None or not self.runs_guild(guild_id):
            self.unschedule_guild(guild_id)
            return None
        job_id = self.discovery_job_id(guild_id)
        if self._schedules.get(guild_id) != schedule or self.aps.get_job(job_id) is None:
            self.aps.add_job(
                self._run_discovery,
                schedule.trigger(),
                args=[guild_id],
                id=job_id,
                name=f"discovery posts for guild {guild_id}",
                replace_existing=True,
                misfire_grace_time=int(GRACE.total_seconds()),
            )
            self._schedules[guild_id] = schedule
            log.info("discovery for guild %s: %s", guild_id, schedule.describe())
        now = now or clock.aware_now()
        if due_slot_of(row, now) is not None:
            self.aps.modify_job(job_id, next_run_time=now)
        return self.next_post(guild_id)

    def unschedule_guild(self, guild_id: int) -> None:
        self._schedules.pop(guild_id, None)
        with contextlib.suppress(Exception):  # JobLookupError: nothing was scheduled
            self.aps.remove_job(self.discovery_job_id(guild_id))

    async def reload_guilds(self) -> None:
        """Match the discovery jobs to `guild_settings` (changes from other processes,
        slots missed while the bot was down)."""
        try:
            async with self.db.connection() as conn:
                rows = await guilds.discovery_guilds(conn)
        except Exception as error:
            log.warning("could not read the discovery schedules: %s", one_line(error))
            return
        rows = [r for r in rows if self.runs_guild(int(r["guild_id"]))]
        wanted = {int(r["guild_id"]) for r in rows}
        for guild_id in set(self._schedules) - wanted:
            self.unschedule_guild(guild_id)
        for row in rows:
            self.schedule_guild(row)

    async def _run_discovery(self, guild_id: int) -> None:
        if self.deliver is None:
            return
        with self._tracked():
            try:
                outcome = await scheduled_post(
                    self.db, guild_id, self.deliver, self.holder, no_repeat_days=self.no_repeat_days
                )
            except asyncio.CancelledError:
                log.info("discovery post for guild %s cancelled: stopping", guild_id)
                return
            except Exception as error:
                log.warning("discovery post for guild %s failed: %s", guild_id, one_line(error))
                return
            if outcome is not None and outcome.counts.get("disabled"):
                self.unschedule_guild(guild_id)
                if self.on_disabled is not None:
                    with contextlib.suppress(Exception):
                        await self.on_disabled(guild_id, outcome.error or "")


# --- the bot's scheduler -----------------------------------------------------------------------


async def to_log_channel(
    client: discord.Client,
    channel_id: int | None,
    content: str | None = None,
    embed: discord.Embed | None = None,
) -> None:
    """Tell the operators' channel (when configured); a failure only goes to the log."""
    if channel_id is None:
        return
    try:
        await client.get_partial_messageable(channel_id).send(content=content, embed=embed)
    except discord.HTTPException as error:
        log.warning("could not post to the log channel %s: %s", channel_id, error)


async def _report_retrain(client: discord.Client, channel: int | None, outcome: JobOutcome) -> None:
    if outcome.outcome == "ok" and outcome.detail is not None:
        text = "Scheduled retraining: the catalogue changed since the serving model."
        await to_log_channel(client, channel, text, train_embed(outcome.detail.to_dict()))
    elif outcome.outcome == "failed":
        text = f"Scheduled retraining failed: {outcome.error} The previous model keeps serving."
        await to_log_channel(client, channel, text)


async def _report_disabled(
    client: discord.Client, channel: int | None, guild_id: int, reason: str
) -> None:
    await to_log_channel(client, channel, f"Discovery posts off: {reason}")


def build_scheduler(client: discord.Client, app: AppContext) -> BotScheduler | None:
    """The jobs the settings ask for, bound to the bot's shared resources (`app`); the
    operators' channel and the discovery posts go through `client`. The bot builds its
    scheduler; the scheduler knows only a discord.py client (imports run one way)."""
    settings = app.settings
    if not settings.run_jobs:
        log.info("TUNECLUSTER_RUN_JOBS is off: no background jobs in this process")
        return None
    global_jobs = [
        GlobalJob(
            "enrich",
            settings.enrich_interval_minutes * 60,
            partial(enrich_catalogue, app.db, spotify=app.spotify, reccobeats=app.reccobeats),
        ),
        GlobalJob(
            "retrain",
            settings.retrain_interval_hours * 3600,
            partial(
                retrain_if_changed,
                app.db,
                TrainSettings.from_settings(settings),
                start=app.retrainer.run,
            ),
            report=partial(_report_retrain, client, settings.log_channel_id),
        ),
    ]
    if settings.watch_dir is not None:
        global_jobs.insert(
            1,
            GlobalJob(
                "ingest",
                settings.watch_interval_minutes * 60,
                partial(ingest_watched, app.db, settings.watch_dir),
            ),
        )
    return BotScheduler(
        app.db,
        holder=holder_id("bot"),
        lease_seconds=settings.lease_seconds,
        global_jobs=global_jobs,
        deliver=deliverer(client, app.db, settings),
        no_repeat_days=settings.no_repeat_days,
        on_disabled=partial(_report_disabled, client, settings.log_channel_id),
        runs_guild=settings.runs_guild,
    )
