"""The scheduler and the job bodies (the lease between processes: test_lease.py): the
catch-up after a restart (once), discovery slots posted on time and once, schedules
changed without a restart, cancelled runs recorded, the watched folder, and retraining
only when the curated set changed (a failure leaves the old model serving, visible in
the status)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.scheduler import LEASE, BotScheduler, GlobalJob, period_start
from bot.services import discovery as service
from bot.services.discovery import ChannelLost
from bot.services.jobs import holder_id, ingest_watched, retrain_if_changed
from bot.services.status import status
from bot.services.train import TrainSettings, train
from bot.settings import load_settings
from pipeline.mpd.synthetic import write_slices
from recommender import demo_catalogue
from recommender.taxonomy import load
from sql import catalogue, jobs, model_versions
from sql.database import Database
from sql.errors import TuneclusterError
from sql.migrate import init_schema
from sql.schema import (
    artist_track,
    audio_features,
    guild_settings,
    job_run,
    model_version,
    track_cluster,
)
from tests.fixtures.datasets import TIDY_COLUMNS, tidy_row, write_csv
from tests.support.jobs import Recorder, build_model, recorded_runs, ticker, until

GUILD = 333
CHANNEL = 444
BUCKETS = load(None).all_buckets


def test_periods_are_aligned_to_the_epoch() -> None:
    interval = timedelta(seconds=2.5)
    now = datetime(2026, 1, 1, 0, 0, 3, 999_999, tzinfo=UTC)
    assert period_start(now, interval) == datetime(2026, 1, 1, 0, 0, 2, 500_000, tzinfo=UTC)
    boundary = datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)
    assert period_start(boundary, interval) == boundary
    hourly = timedelta(minutes=60)
    assert period_start(datetime(2026, 1, 1, 7, 59, tzinfo=UTC), hourly).hour == 7


def _scheduler(db: Database, jobs_: list[GlobalJob] | None = None, **options: Any) -> BotScheduler:
    options.setdefault("lease_seconds", 1.5)
    options.setdefault("startup_delay", 0.1)
    return BotScheduler(db, holder=holder_id("test"), global_jobs=jobs_ or [], **options)


@asynccontextmanager
async def _running(scheduler: BotScheduler) -> AsyncIterator[BotScheduler]:
    await scheduler.start()
    try:
        yield scheduler
    finally:
        await scheduler.shutdown()


# --- global jobs ---------------------------------------------------------------------------------


async def test_a_missed_period_runs_once_after_a_restart(db: Database) -> None:
    counts: dict[str, int] = {}
    job = GlobalJob("hourly", 3600, ticker(counts, "hourly"))
    async with _running(_scheduler(db, [job])):  # never ran: waits for its boundary
        await asyncio.sleep(0.5)
    assert counts == {}
    async with db.transaction() as conn:  # it ran two hours ago, then the bot was down
        await conn.execute(
            insert(job_run).values(
                job="hourly", holder="old", outcome="ok",
                started_at=datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=2),
            )
        )  # fmt: skip
    async with _running(_scheduler(db, [job])):
        await until(lambda: counts.get("hourly") == 1, 60, "the catch-up run")
        await until(partial(_finished, db, "hourly", 2), 60, "the run to be recorded")
    async with _running(_scheduler(db, [job])):  # restarted again: this period has its run
        await asyncio.sleep(0.6)
    assert counts == {"hourly": 1}
    assert len(await recorded_runs(db, "hourly")) == 2


async def _finished(db: Database, job: str, count: int) -> bool:
    runs = await recorded_runs(db, job)
    return len(runs) >= count and all(r["outcome"] != "running" for r in runs)


async def test_a_period_has_one_run_however_often_the_job_fires(db: Database) -> None:
    counts: dict[str, int] = {}
    job = GlobalJob("daily", 86400, ticker(counts, "daily"))
    scheduler = _scheduler(db, [job])
    await scheduler.start()
    try:
        for _ in range(3):  # a coalesced misfire, a restart's catch-up, a second process...
            await scheduler._run_global(job)
    finally:
        await scheduler.shutdown()
    assert counts == {"daily": 1}
    assert [r["outcome"] for r in await recorded_runs(db, "daily")] == ["ok"]


async def test_stopping_cancels_a_run_and_records_it(db: Database) -> None:
    counts: dict[str, int] = {}
    job = GlobalJob("slow", 3600, ticker(counts, "slow", seconds=30))
    async with db.transaction() as conn:
        await conn.execute(
            insert(job_run).values(
                job="slow", holder="old", outcome="ok",
                started_at=datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=2),
            )
        )  # fmt: skip
    scheduler = _scheduler(db, [job])
    await scheduler.start()
    await until(lambda: counts.get("slow") == 1, 60, "the slow run to start")
    await scheduler.shutdown()
    newest = (await recorded_runs(db, "slow"))[-1]
    assert newest["outcome"] == "cancelled" and newest["error"] == "the process stopped"
    async with db.connection() as conn:
        holder, expires = await jobs.lease_holder(conn, LEASE)
    assert holder == scheduler.holder and expires <= datetime.now(UTC).replace(tzinfo=None)


async def test_a_new_leader_closes_the_runs_a_dead_one_left_open(db: Database) -> None:
    async with db.transaction() as conn:
        await jobs.take_lease(conn, LEASE, "dead", 0.1)
        await jobs.start_run(conn, "enrich", "dead")
    await asyncio.sleep(0.2)
    async with _running(_scheduler(db)) as scheduler:
        assert scheduler.leader
    (run,) = await recorded_runs(db, "enrich")
    assert run["outcome"] == "abandoned" and "dead stopped" in run["error"]


# --- discovery posts -----------------------------------------------------------------------------


async def test_a_slot_missed_while_down_is_posted_once_after_restarts(db: Database) -> None:
    await build_model(db, {"jazz": [8]})
    now = datetime.now(UTC)
    await _configure(db, at=f"{now - timedelta(minutes=1):%H:%M}", set_at=now - timedelta(hours=1))
    deliver = Recorder()
    async with _running(_scheduler(db, deliver=deliver)):
        await until(lambda: len(deliver.posts) == 1, 60, "the catch-up post")
        await until(partial(_finished, db, "discovery", 1), 60, "the post to be recorded")
    async with _running(_scheduler(db, deliver=deliver)):
        await asyncio.sleep(0.8)
    assert len(deliver.posts) == 1


async def test_a_schedule_changes_without_a_restart(db: Database) -> None:
    await build_model(db, {"jazz": [8], "rock": [8]})
    deliver = Recorder()
    async with _running(_scheduler(db, deliver=deliver)) as scheduler:
        slot = _soon(1)
        row = await _configure(db, at=f"{slot:%H:%M:%S}")
        assert scheduler.schedule_guild(row) == slot
        await until(lambda: len(deliver.posts) == 1, 10, "the scheduled post")
        assert deliver.times[0] >= slot.astimezone().replace(tzinfo=None)
        assert deliver.posts[0].slot == slot
        # another process changes it: the reconcile pass picks it up
        later = _soon(1)
        await _configure(db, at=f"{later:%H:%M:%S}", buckets="rock")
        await scheduler.reload_guilds()
        assert scheduler.next_post(GUILD) == later
        await until(lambda: len(deliver.posts) == 2, 10, "the rescheduled post")
        assert [p.bucket for p in deliver.posts[1].picks] == ["rock"]
        assert set(deliver.tracks[:1]).isdisjoint(deliver.tracks[1:])
        # turned off elsewhere: unscheduled at the next pass
        async with db.transaction() as conn:
            await conn.execute(update(guild_settings).values(enabled=False))
        await scheduler.reload_guilds()
        assert scheduler.next_post(GUILD) is None


async def test_a_lost_channel_unschedules_the_guild(db: Database) -> None:
    await build_model(db, {"jazz": [8]})
    deliver = Recorder(
        error=ChannelLost(f"channel {CHANNEL} no longer exists (404 Unknown Channel)")
    )
    told: list[tuple[int, str]] = []

    async def on_disabled(guild_id: int, reason: str) -> None:
        told.append((guild_id, reason))

    async with _running(_scheduler(db, deliver=deliver, on_disabled=on_disabled)) as scheduler:
        slot = _soon(1)
        scheduler.schedule_guild(await _configure(db, at=f"{slot:%H:%M:%S}"))
        await until(lambda: told, 10, "the guild to be turned off")
        assert scheduler.next_post(GUILD) is None
    assert told[0][0] == GUILD and "404 Unknown Channel" in told[0][1]
    async with db.connection() as conn:
        row = (await conn.execute(select(guild_settings))).mappings().one()
    assert not row["enabled"] and "404" in row["disabled_reason"]


def _soon(seconds: int) -> datetime:
    """A whole second at least `seconds` ahead (schedules take HH:MM:SS)."""
    now = datetime.now(UTC)
    return (now + timedelta(seconds=seconds + 1)).replace(microsecond=0)


async def _configure(
    db: Database, *, at: str, buckets: str | None = None, set_at: datetime | None = None
) -> dict:
    row = await service.configure(
        db, GUILD, channel_id=CHANNEL, every="daily", at=at, timezone="UTC",
        buckets=buckets, weekday=None, known_buckets=BUCKETS,
    )  # fmt: skip
    if set_at is not None:
        async with db.transaction() as conn:
            await conn.execute(
                update(guild_settings).values(discovery_set_at=set_at.replace(tzinfo=None))
            )
    return row


# --- the watched folder ----------------------------------------------------------------------------


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}")
    await init_schema(db)
    try:
        yield db
    finally:
        await db.dispose()


def _age(path: Path, seconds: float = 60) -> None:
    for file in [path, *path.rglob("*")] if path.is_dir() else [path]:
        stamp = time.time() - seconds
        os.utime(file, (stamp, stamp))


async def test_the_watched_folder_is_taken_in_once(sqlite_db: Database, tmp_path: Path) -> None:
    watch = tmp_path / "watch"
    slices = write_slices(watch / "mpd", 2, playlists=20, mean_tracks=8)
    good = write_csv(watch / "tidytuesday" / "songs.csv", TIDY_COLUMNS,
                     [tidy_row(i, i % 2) for i in range(6)])  # fmt: skip
    bad = watch / "tidytuesday" / "broken.csv"
    bad.write_text("not,a,tidytuesday,file\n1,2,3,4\n")
    fresh = write_csv(watch / "tidytuesday" / "copying.csv", TIDY_COLUMNS, [tidy_row(9, 0)])
    for path in (*slices, good, bad):
        _age(path)
    (watch / "tidytuesday" / ".hidden.csv").write_text("ignored")

    first = await ingest_watched(sqlite_db, watch, settle=10, workers=0)
    assert first.outcome == "failed" and "broken.csv" in (first.error or "")
    assert (first.counts["slices"], first.counts["datasets"], first.counts["failed"]) == (2, 1, 1)
    assert first.counts["waiting"] == 1  # still being copied

    _age(fresh)
    second = await ingest_watched(sqlite_db, watch, settle=10, workers=0)
    assert (second.outcome, second.counts["datasets"], second.counts["slices"]) == ("ok", 1, 0)
    third = await ingest_watched(sqlite_db, watch, settle=10, workers=0)
    assert third.outcome == "skipped"  # nothing new; the broken file is not retried
    write_slices(watch / "mpd", 1, first=2, playlists=20, mean_tracks=8)
    _age(watch / "mpd")
    fourth = await ingest_watched(sqlite_db, watch, settle=10, workers=0)
    assert (fourth.outcome, fourth.counts["slices"]) == ("ok", 1)


async def test_a_missing_watched_folder_is_one_line(sqlite_db: Database, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="does not exist"):
        await ingest_watched(sqlite_db, tmp_path / "nowhere")


# --- retraining ------------------------------------------------------------------------------------


async def test_retraining_only_when_the_curated_set_changed(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = demo_catalogue.generate(tracks=300, seed=4)
    await demo_catalogue.write(sqlite_db, demo)
    config = TrainSettings.from_settings(load_settings(models_dir=tmp_path / "models", k_max=4))
    with ThreadPoolExecutor(1) as pool:
        start = partial(train, executor=pool)
        run = partial(retrain_if_changed, sqlite_db, config, start=start, executor=pool)
        first = await run()  # no model yet
        assert first.outcome == "ok" and first.counts["version"]
        unchanged = await run()
        assert (unchanged.outcome, unchanged.error) == (
            "skipped",
            "the training set is unchanged since the model",
        )
        async with sqlite_db.connection() as conn:
            serving = await model_versions.active_version(conn)
        await _nudge_a_feature(sqlite_db)

        async def broken(*args: Any, **kwargs: Any) -> int:
            raise RuntimeError("the disk is full")

        monkeypatch.setattr(model_versions, "write_assignments", broken)
        job = GlobalJob("retrain", 3600, run)
        async with sqlite_db.transaction() as conn:  # so that it catches up at start
            await conn.execute(
                insert(job_run).values(
                    job="retrain", holder="old", outcome="skipped",
                    started_at=datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=2),
                )
            )  # fmt: skip
        async with _running(_scheduler(sqlite_db, [job])):
            await until(partial(_finished, sqlite_db, "retrain", 2), 30, "the failing retrain")
        failed = (await recorded_runs(sqlite_db, "retrain"))[-1]
        assert failed["outcome"] == "failed" and failed["error"] == "RuntimeError: the disk is full"
        async with sqlite_db.connection() as conn:
            assert await model_versions.active_version(conn) == serving  # the old model serves
            statuses = (await conn.execute(select(model_version.c.status))).scalars().all()
        assert sorted(statuses) == ["failed", "ready"]
        shown = await status(sqlite_db, spotify_configured=False)
        line = next(j for j in shown.jobs if j["job"] == "retrain")
        assert line["outcome"] == "failed" and "disk is full" in line["error"]

        monkeypatch.undo()
        fixed = await run()
        assert fixed.outcome == "ok" and fixed.counts["version"] != serving


async def test_new_artist_genres_bring_a_retrain(sqlite_db: Database, tmp_path: Path) -> None:
    """The curated set (tracks, features) stays the same, but a genre learned for an
    artist moves its tracks into another bucket: the models no longer hold what the
    catalogue says, so the check retrains."""
    await demo_catalogue.write(sqlite_db, demo_catalogue.generate(tracks=300, seed=4))
    config = TrainSettings.from_settings(load_settings(models_dir=tmp_path / "models", k_max=4))
    with ThreadPoolExecutor(1) as pool:
        run = partial(
            retrain_if_changed,
            sqlite_db,
            config,
            start=partial(train, executor=pool),
            executor=pool,
        )
        assert (await run()).outcome == "ok"
        async with sqlite_db.connection() as conn:
            held = await conn.execute(
                select(track_cluster.c.bucket, artist_track.c.artist_id).join(
                    artist_track, artist_track.c.track_id == track_cluster.c.track_id
                )
            )
            buckets: dict[str, set[str]] = {}
            for bucket, artist_id in held:
                buckets.setdefault(artist_id, set()).add(bucket)
        artist_id = next(a for a, b in sorted(buckets.items()) if "metal" not in b)
        async with sqlite_db.transaction() as conn:
            await catalogue.upsert_artist_genres(
                conn, [{"artist_id": artist_id, "genre": "metalcore", "source": "test"}]
            )
        again = await run()
        assert again.outcome == "ok" and again.counts["version"]
        assert (await run()).outcome == "skipped"


async def _nudge_a_feature(db: Database) -> None:
    """Change one value of the curated set (as an enrichment would)."""
    async with db.transaction() as conn:
        track_id = await conn.scalar(select(audio_features.c.track_id).limit(1))
        await conn.execute(
            update(audio_features)
            .where(audio_features.c.track_id == track_id)
            .values(energy=audio_features.c.energy * 0.5 + 0.01)
        )


async def test_an_empty_catalogue_is_not_trained(sqlite_db: Database, tmp_path: Path) -> None:
    config = TrainSettings.from_settings(load_settings(models_dir=tmp_path / "models"))
    with ThreadPoolExecutor(1) as pool:
        outcome = await retrain_if_changed(
            sqlite_db, config, start=partial(train, executor=pool), executor=pool
        )
    assert (outcome.outcome, outcome.error) == ("skipped", "the catalogue is empty")


# --- the command line, in process --------------------------------------------------------------


def test_jobs_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "RECCOBEATS_URL": "http://127.0.0.1:9",
        "HTTP_MAX_ATTEMPTS": "1",
        "CONFIG": str(tmp_path / "none.toml"),
    }.items():
        monkeypatch.setenv(f"TUNECLUSTER_{name}", value)
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "init"]).exit_code == 0
    ran = runner.invoke(cli, ["jobs", "run", "enrich", "--json"])
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.output)["counts"]["requests"] == 0
    shown = runner.invoke(cli, ["jobs"])
    assert "enrich" in shown.output and "lease: nobody has run the global jobs yet" in shown.output
    history = json.loads(runner.invoke(cli, ["jobs", "--job", "enrich", "--json"]).output)
    assert [r["holder"].split(":")[0] for r in history["runs"]] == ["cli"]
    for args, message in [
        (["jobs", "run", "cleanup"], "unknown job 'cleanup' (one of: enrich, ingest, retrain)"),
        (["jobs", "run", "ingest"], "TUNECLUSTER_WATCH_DIR is not set"),
        (["discovery", "post"], "name a GUILD id to post now, or use --due for every due guild"),
        (["discovery", "post", "1"], "TUNECLUSTER_DISCORD_TOKEN is not set"),
    ]:
        result = runner.invoke(cli, args)
        assert isinstance(result.exception, TuneclusterError), (args, result.output)
        assert message in str(result.exception)
