"""Shard ranges across hosts: two `tunecluster run` processes, each with its own
TUNECLUSTER_MODELS_DIR and TUNECLUSTER_SHARD_IDS of TUNECLUSTER_SHARD_COUNT=2, on one
MariaDB database and the loopback Discord. Each identifies only its shard and answers
its guilds; killing either leaves the other serving; a retrain on one is served by the
other without a restart (that needs the shared model store)."""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import signal
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.scheduler import LEASE, BotScheduler
from bot.services import discovery
from bot.services.jobs import holder_id
from bot.settings import ConfigError, load_settings
from recommender import taxonomy
from sql import jobs, model_versions
from sql.database import Database
from sql.migrate import init_schema
from sql.schema import feedback_pick
from tests.fakes.discord_emulator import DiscordEmulator, GuildSpec, UserSpec, new_id
from tests.support.bot_world import trained_demo
from tests.support.cli import loopback_settings, settings_env
from tests.support.environment import ROOT
from tests.support.jobs import Recorder, until

SHARDS = 2
OWNER = UserSpec("owner")
HAS_MODEL_STORE = importlib.util.find_spec("recommender.store") is not None


def guild_on(shard: int, name: str) -> GuildSpec:
    """A guild whose id puts it on `shard` of SHARDS, as Discord's rule does."""
    guild_id = new_id()
    while (guild_id >> 22) % SHARDS != shard:
        guild_id += 1 << 22
    return GuildSpec(name, id=guild_id, owner_id=OWNER.id)


GUILDS = [guild_on(0, "Shard zero"), guild_on(1, "Shard one")]


class Host:
    """One `tunecluster run` process with its own models folder and shard."""

    def __init__(self, emu: DiscordEmulator, url: str, tmp: Path, shard: int) -> None:
        self.shard = shard
        self.models_dir = tmp / f"host{shard}" / "models"
        self.log = tmp / f"host{shard}.log"
        self.cwd = tmp
        self.process: asyncio.subprocess.Process | None = None
        env = settings_env(
            **loopback_settings(emu),
            database_url=url,
            models_dir=self.models_dir,
            shard_count=SHARDS,
            shard_ids=shard,
            recommend_cooldown_seconds=0,
            lease_seconds=3,
            k_max=8,
            config=tmp / "none.toml",
        )
        env["PYTHONPATH"] = str(ROOT)
        self.env = env

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run",
            env=self.env, cwd=self.cwd, stdout=self.log.open("ab"),
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)  # no goodbye
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
            await asyncio.wait_for(self.process.wait(), 30)


def _live_shards(emu: DiscordEmulator) -> set[tuple[int, int]]:
    return {s.shard for s in emu.sessions if s.conn is not None and not s.invalid and s.shard}


async def _answered(emu: DiscordEmulator, guild: GuildSpec, track: str) -> dict:
    ix = await emu.send_command(
        "recommend", {"track": track, "count": 1}, guild_id=guild.id, user=UserSpec("member")
    )
    await ix.wait_done(timeout=60)
    assert not ix.ephemeral, ix.messages
    return ix.followups[0]


async def _served_version(db: Database, message: dict) -> str:
    """The model version behind an answer: its feedback buttons name the answer, whose
    picks are recorded with their version (members see no model ids)."""
    ids = [
        c["custom_id"]
        for row in message.get("components", [])
        for c in row.get("components", [])
        if str(c.get("custom_id", "")).startswith("tc:")
    ]
    assert ids, message
    answer = int(ids[0].split(":")[2])
    async with db.connection() as conn:
        version = await conn.scalar(
            select(feedback_pick.c.model_version).where(feedback_pick.c.answer_id == answer)
        )
    assert version is not None
    return version


async def _prepare(mariadb: Database, tmp: Path) -> tuple[str, list[str], Path]:
    url = mariadb.url.render_as_string(hide_password=False)
    trainer_dir = tmp / "trainer" / "models"  # a third machine trained the first model
    tracks = await trained_demo(url, trainer_dir, tracks=900, seed=17)
    return url, tracks, trainer_dir


def _seed_cache_without_store(trainer_dir: Path, host: Host) -> None:
    """Before the shared model store, a host only serves bundles on its own disk: copy
    the first model there (with the store, hosts fetch it from the database)."""
    if not HAS_MODEL_STORE:
        shutil.copytree(trainer_dir, host.models_dir, dirs_exist_ok=True)


@pytest.mark.mysql
@pytest.mark.slow
async def test_two_hosts_each_run_their_shard_and_survive_the_other(
    mariadb: Database, tmp_path: Path
) -> None:
    url, tracks, trainer_dir = await _prepare(mariadb, tmp_path)
    async with DiscordEmulator(guilds=GUILDS, owner=OWNER, shard_count=SHARDS) as emu:
        hosts = [Host(emu, url, tmp_path, shard) for shard in range(SHARDS)]
        for host in hosts:
            _seed_cache_without_store(trainer_dir, host)
            await host.start()
        try:
            await emu.wait_identified(timeout=90, count=2)
            # each process identified exactly its own shard, and no other
            identified = sorted(s.identify["shard"] for s in emu.sessions)
            assert identified == [[0, SHARDS], [1, SHARDS]], identified
            for guild in GUILDS:
                await _answered(emu, guild, tracks[1])
            holder = await _lease_holder(mariadb)  # global jobs: one holder for both hosts
            assert sum(f":{h.process.pid}:" in holder for h in hosts if h.process) == 1

            await hosts[0].kill()
            await until(lambda: _live_shards(emu) == {(1, SHARDS)}, 30, "shard 0 gone")
            await _answered(emu, GUILDS[1], tracks[2])  # the other host keeps serving

            await hosts[0].start()  # back, then the other one dies
            await emu.wait_identified(timeout=90, count=3)
            await until(lambda: len(_live_shards(emu)) == SHARDS, 60, "shard 0 back")
            await hosts[1].kill()
            await until(lambda: _live_shards(emu) == {(0, SHARDS)}, 30, "shard 1 gone")
            await _answered(emu, GUILDS[0], tracks[3])
        finally:
            for host in hosts:
                await host.stop()
    output = "\n".join(h.log.read_text(errors="replace") for h in hosts)
    assert "Traceback" not in output, output[-3000:]


@pytest.mark.mysql
@pytest.mark.slow
@pytest.mark.skipif(
    not HAS_MODEL_STORE, reason="needs the shared model store (branch scaleout, issue #12)"
)
async def test_a_retrain_on_one_host_is_served_by_the_other_without_restart(
    mariadb: Database, tmp_path: Path
) -> None:
    url, tracks, _ = await _prepare(mariadb, tmp_path)
    async with mariadb.connection() as conn:
        first = await model_versions.active_version(conn)
    async with DiscordEmulator(guilds=GUILDS, owner=OWNER, shard_count=SHARDS) as emu:
        hosts = [Host(emu, url, tmp_path, shard) for shard in range(SHARDS)]
        for host in hosts:
            await host.start()
        try:
            await emu.wait_identified(timeout=90, count=2)
            assert (
                await _served_version(mariadb, await _answered(emu, GUILDS[1], tracks[1])) == first
            )
            # the owner retrains on host 0 (shard 0's guild) with another k range
            retrain = await emu.send_command("retrain", guild_id=GUILDS[0].id, user=OWNER)
            await retrain.wait_done(timeout=30)

            async def switched() -> bool:
                async with mariadb.connection() as conn:
                    return await model_versions.active_version(conn) not in (None, first)

            await until(switched, 180, "the retrained model to become active")
            async with mariadb.connection() as conn:
                second = await model_versions.active_version(conn)
            served: list[str] = []

            async def host1_serves_it() -> bool:
                served.append(
                    await _served_version(mariadb, await _answered(emu, GUILDS[1], tracks[2]))
                )
                return served[-1] == second

            await until(host1_serves_it, 120, "host 1 to serve the model host 0 trained")
            assert set(served) <= {first, second}  # the old one served meanwhile, no error
        finally:
            for host in hosts:
                await host.stop()
    output = "\n".join(h.log.read_text(errors="replace") for h in hosts)
    assert "Traceback" not in output, output[-3000:]


async def _lease_holder(db: Database) -> str:
    found: list[str] = []

    async def held() -> bool:
        async with db.connection() as conn:
            row = await jobs.lease_holder(conn, LEASE)
        found.extend([row[0]] if row else [])
        return bool(row)

    await until(held, 30, "a holder of the scheduler lease")
    return found[-1]


def test_shard_settings_pick_the_guilds_of_their_shards() -> None:
    config = load_settings(shard_count=SHARDS, shard_ids="1")
    assert config.shard_range == [1]
    assert not config.runs_guild(GUILDS[0].id) and config.runs_guild(GUILDS[1].id)
    assert load_settings().runs_guild(GUILDS[0].id)  # unsharded: every guild
    assert load_settings(shard_count=SHARDS).shard_range == [0, 1]


async def test_the_scheduler_posts_only_for_the_guilds_of_its_shards(sqlite_url: str) -> None:
    """Discovery schedules are per guild: a process keeps those of its own shards."""
    sqlite_db = Database(sqlite_url)
    await init_schema(sqlite_db)
    for guild in GUILDS:
        await discovery.configure(
            sqlite_db, guild.id, channel_id=1, every="daily", at="12:00", timezone="UTC",
            buckets=None, weekday=None, known_buckets=taxonomy.load(None).all_buckets,
        )  # fmt: skip
    mine = load_settings(shard_count=SHARDS, shard_ids="1")
    scheduler = BotScheduler(
        sqlite_db, holder=holder_id("test"), lease_seconds=60, deliver=Recorder(),
        runs_guild=mine.runs_guild,
    )  # fmt: skip
    await scheduler.start()
    try:
        assert scheduler.next_post(GUILDS[1].id) is not None
        assert scheduler.next_post(GUILDS[0].id) is None
    finally:
        await scheduler.shutdown()
        await sqlite_db.dispose()


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"shard_ids": "0,1"}, "TUNECLUSTER_SHARD_IDS needs TUNECLUSTER_SHARD_COUNT"),
        ({"shard_ids": "0,2", "shard_count": 2}, "TUNECLUSTER_SHARD_IDS: 2 not among the 2"),
        ({"shard_ids": "1,1", "shard_count": 2}, "TUNECLUSTER_SHARD_IDS lists a shard twice"),
        ({"shard_count": 0}, "invalid setting TUNECLUSTER_SHARD_COUNT"),
    ],
)
def test_a_shard_range_that_does_not_fit_is_one_line(settings: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(**settings)
    assert expected in str(refused.value) and "\n" not in str(refused.value)
