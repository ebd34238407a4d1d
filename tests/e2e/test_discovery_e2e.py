"""End to end: discovery posts and background jobs in tunecluster's real bot, logged into
the loopback Discord emulator, with a trained demo catalogue in SQLite.

The schedules are short (a slot a few seconds ahead, `HH:MM:SS`); the posts are read
back from the emulator's `POST /channels/{id}/messages`. The bot is restarted on the
same database to show that schedules survive and that a slot is never posted twice.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import discord
import pytest
from sqlalchemy import select, update

from bot.app import TuneclusterBot
from sql import guilds, model_versions
from sql.database import Database
from sql.schema import audio_features, recommendation_log
from tests.fakes.discord_emulator import (
    ChannelSpec,
    DiscordEmulator,
    GuildSpec,
    MemberSpec,
    RoleSpec,
    UserSpec,
)
from tests.support.bot_world import running_bot, trained_demo
from tests.support.cli import loopback_settings, run_cli_async, settings_env
from tests.support.jobs import recorded_runs, until

EPHEMERAL = 64
MANAGE_GUILD = discord.Permissions(manage_guild=True).value
ADMINISTRATOR = discord.Permissions(administrator=True).value
DJ_ROLE = RoleSpec("DJs", permissions=MANAGE_GUILD)
ADMIN_ROLE = RoleSpec("Admins", permissions=ADMINISTRATOR)
OWNER, LISTENER, DJ, ADMIN = (UserSpec(n) for n in ("owner", "listener", "dj", "admin"))
GENERAL, POSTS, LOG = ChannelSpec("general"), ChannelSpec("discoveries"), ChannelSpec("bot-log")
GUILD = GuildSpec(
    "Music",
    channels=[GENERAL, POSTS, LOG],
    roles=[DJ_ROLE, ADMIN_ROLE],
    members=[
        LISTENER,
        MemberSpec(DJ, roles=[DJ_ROLE.id]),
        MemberSpec(ADMIN, roles=[ADMIN_ROLE.id]),
    ],
    owner_id=OWNER.id,
)
ZONE = "Asia/Kolkata"  # UTC+05:30: the schedule is local time, the slot UTC


@dataclass
class World:
    emu: DiscordEmulator
    db: Database
    tmp: Path
    settings: dict[str, Any]
    first_track: str
    stack: AsyncExitStack | None = None
    bot: TuneclusterBot | None = None
    posted: list[str] = field(default_factory=list)  # track ids posted so far

    async def start(self, **overrides: Any) -> TuneclusterBot:
        self.stack = AsyncExitStack()
        config = {**self.settings, **overrides}
        self.bot = await self.stack.enter_async_context(running_bot(self.emu, **config))
        return self.bot

    async def stop(self) -> None:
        if self.stack is not None:
            await self.stack.aclose()
        self.stack, self.bot = None, None

    async def restart(self, **overrides: Any) -> TuneclusterBot:
        await self.stop()
        return await self.start(**overrides)


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    tmp = tmp_path_factory.mktemp("discovery")
    url = f"sqlite+aiosqlite:///{tmp / 'bot.db'}"
    ids = await trained_demo(url, tmp / "models", tracks=450, seed=21)
    (tmp / "genres.toml").write_text("# no changes to the default genre rules\n")
    settings = {
        "database_url": url,
        "models_dir": tmp / "models",
        "dev_guild_id": GUILD.id,
        "recommend_cooldown_seconds": 0,
        "log_channel_id": LOG.id,
        "genre_map_file": tmp / "genres.toml",
        "reccobeats_url": "http://127.0.0.1:9",  # nothing leaves the machine
        "http_max_attempts": 1,
        "enrich_interval_minutes": 10**6,  # out of the way, except where a test wants them
        "retrain_interval_hours": 10**5,
        "k_max": 8,
    }
    db = Database(url)
    async with DiscordEmulator(guilds=[GUILD], owner=OWNER, interaction_deadline=3.0) as emu:
        world = World(emu, db, tmp, settings, ids[0])
        await world.start()
        try:
            yield world
        finally:
            await world.stop()
    await db.dispose()


# --- helpers -------------------------------------------------------------------------------------


def _resolved(channel: ChannelSpec) -> dict:
    """What Discord sends along with a channel option."""
    data = {**channel.payload(GUILD.id), "permissions": str(discord.Permissions.all().value)}
    return {"channels": {str(channel.id): data}}


def _slot(seconds: float = 3.0) -> datetime:
    """A whole second at least `seconds` ahead, in UTC."""
    return (datetime.now(UTC) + timedelta(seconds=seconds + 1)).replace(microsecond=0)


def _local(slot: datetime) -> str:
    return f"{slot.astimezone(ZoneInfo(ZONE)):%H:%M:%S}"


async def _set(world: World, slot: datetime, **options: Any):
    values = {"channel": str(POSTS.id), "every": "daily", "at": _local(slot), "timezone": ZONE}
    values.update(options)
    ix = await world.emu.send_command("discovery set", values, user=DJ, resolved=_resolved(POSTS))
    await ix.wait_done(timeout=10)
    return ix


def _answer(ix) -> dict:
    return ix.followups[0] if ix.followups else ix.callback["data"]


def _tracks(message: dict) -> list[str]:
    return [re.sub(r".*/track/", "", e["url"]) for e in message["embeds"]]


def _fields(embed: dict) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


async def _row(world: World) -> dict:
    async with world.db.connection() as conn:
        row = await guilds.get_guild(conn, GUILD.id)
    assert row is not None
    return row


async def _quiet(world: World, channel: ChannelSpec, seconds: float) -> None:
    """No new message in `channel` for `seconds`."""
    before = len(world.emu.channel_messages(channel.id))
    await asyncio.sleep(seconds)
    assert len(world.emu.channel_messages(channel.id)) == before


# --- the commands ----------------------------------------------------------------------------------


async def test_the_discovery_group_is_synced_for_managers(world: World) -> None:
    command = next(c for c in world.emu.synced_commands(GUILD.id) if c["name"] == "discovery")
    assert str(command["default_member_permissions"]) == str(MANAGE_GUILD)
    assert command.get("dm_permission") is False or command.get("contexts") == [0]
    subcommands = {o["name"]: o for o in command["options"]}
    assert set(subcommands) == {"set", "off", "now", "show"}
    assert all(o["type"] == 1 for o in subcommands.values())
    options = {o["name"]: o for o in subcommands["set"]["options"]}
    assert options["channel"]["type"] == 7 and options["channel"]["required"]
    assert set(options["channel"]["channel_types"]) == {0, 5}
    assert [c["value"] for c in options["every"]["choices"]] == ["daily", "weekly"]
    assert options["at"]["type"] == 3 and options["at"]["max_length"] == 8
    assert options["timezone"]["autocomplete"] and options["buckets"]["autocomplete"]
    assert len(options["weekday"]["choices"]) == 7


async def test_members_without_manage_server_are_refused(world: World) -> None:
    ix = await world.emu.send_command("discovery show", user=LISTENER)
    await ix.wait_done(timeout=5)
    assert ix.ephemeral and "Manage Server" in _answer(ix)["content"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"at": "25:61"}, "HH:MM"),
        ({"timezone": "Mars/Olympus"}, "IANA"),
        ({"buckets": "rock, polka"}, "unknown genre 'polka'"),
    ],
)
async def test_bad_values_are_one_ephemeral_line(
    world: World, options: dict, expected: str
) -> None:
    ix = await _set(world, _slot(), **options)
    answer = _answer(ix)
    assert answer["flags"] & EPHEMERAL and expected in answer["content"]
    assert "\n" not in answer["content"] and "Traceback" not in answer["content"]


async def test_timezones_and_genres_autocomplete(world: World) -> None:
    ix = await world.emu.send_autocomplete(
        "discovery set", {"timezone": "europe/pa"}, focused="timezone", user=DJ
    )
    await ix.wait_done(timeout=5)
    assert "Europe/Paris" in [c["value"] for c in ix.choices]
    ix = await world.emu.send_autocomplete(
        "discovery set", {"buckets": "Rock, hi"}, focused="buckets", user=DJ
    )
    await ix.wait_done(timeout=5)
    assert [c["value"] for c in ix.choices] == ["Rock, hip hop"]


# --- scheduled posts -----------------------------------------------------------------------------


async def test_a_scheduled_post_arrives_at_its_time(world: World) -> None:
    slot = _slot()
    waiting = asyncio.create_task(world.emu.wait_channel_message(POSTS.id, timeout=20))
    ix = await _set(world, slot, buckets="Rock, pop")
    answer = _answer(ix)
    assert answer["flags"] & EPHEMERAL, answer.get("content")
    shown = _fields(answer["embeds"][0])
    assert shown["Next post"] == f"<t:{int(slot.timestamp())}:F>"
    assert shown["When"] == f"daily at {_local(slot)} ({ZONE})"
    message = await waiting
    assert datetime.fromisoformat(message["timestamp"]) >= slot  # not before its time
    assert "Discovery" in message["content"]
    genres = [_fields(e)["Genre"] for e in message["embeds"]]
    assert genres == ["rock", "pop"]
    assert all(e["url"].startswith("https://open.spotify.com/track/") for e in message["embeds"])
    assert all("similar-sounding" in _fields(e)["Why"] for e in message["embeds"])
    buttons = [c for row in message["components"] for c in row["components"]]
    links = [b for b in buttons if b["style"] == 5]
    assert len(links) == 2 and all(b["url"] for b in links)
    assert len(message["components"]) == 2  # one row per pick: ▶ link, 👍, 👎, More like this
    assert sum(b.get("custom_id", "").startswith("tc:") for b in buttons) == 2 * 3
    world.posted += _tracks(message)
    async with world.db.connection() as conn:
        logged = (
            await conn.execute(
                select(recommendation_log.c.pick_track_id).where(
                    recommendation_log.c.guild_id == GUILD.id,
                    recommendation_log.c.strategy == "discovery",
                )
            )
        ).scalars()
        assert sorted(logged) == sorted(world.posted)
    await until(lambda: _ran(world, "discovery", "ok"), 60, "the recorded run")


async def _ran(world: World, job: str, outcome: str) -> bool:
    runs = await recorded_runs(world.db, job)
    return bool(runs) and runs[-1]["outcome"] == outcome


async def test_the_schedule_changes_live_and_posts_never_repeat(world: World) -> None:
    slot = _slot()
    waiting = asyncio.create_task(world.emu.wait_channel_message(POSTS.id, timeout=20))
    await _set(world, slot, buckets="rock, pop")
    assert world.bot is not None and world.bot.scheduler is not None
    assert world.bot.scheduler.next_post(GUILD.id) == slot  # no restart needed
    second = _tracks(await waiting)
    ix = await world.emu.send_command("discovery now", user=DJ)
    await ix.wait_done(timeout=10)
    assert ix.ephemeral and "Posted in" in _answer(ix)["content"]
    third = _tracks(world.emu.channel_messages(POSTS.id)[-1])
    assert len(second) == len(third) == 2
    assert len(set(world.posted + second + third)) == len(world.posted) + 4  # no repeat
    world.posted += second + third


async def test_a_restart_keeps_the_schedule_and_does_not_post_twice(world: World) -> None:
    slot = _slot()
    waiting = asyncio.create_task(world.emu.wait_channel_message(POSTS.id, timeout=20))
    await _set(world, slot, buckets="jazz")
    await waiting
    bot = await world.restart()  # within the grace of the slot it just posted
    assert bot.scheduler is not None
    assert bot.scheduler.next_post(GUILD.id) == slot + timedelta(days=1)  # read back from the db
    await _quiet(world, POSTS, 2.0)


async def test_a_slot_missed_while_down_is_posted_once(world: World) -> None:
    slot = _slot(2)
    await _set(world, slot, buckets="folk")
    await world.stop()
    count = len(world.emu.channel_messages(POSTS.id))
    await asyncio.sleep(max(0.0, (slot - datetime.now(UTC)).total_seconds()) + 1)
    assert len(world.emu.channel_messages(POSTS.id)) == count  # nobody was up
    waiting = asyncio.create_task(world.emu.wait_channel_message(POSTS.id, timeout=20))
    await world.start()
    message = await waiting  # caught up at start
    assert [_fields(e)["Genre"] for e in message["embeds"]] == ["folk"]
    await world.restart()
    await _quiet(world, POSTS, 2.0)
    assert len(world.emu.channel_messages(POSTS.id)) == count + 1
    assert (await _row(world))["last_slot"] == slot.replace(tzinfo=None)


# --- lost channels ---------------------------------------------------------------------------------


async def test_a_403_turns_discovery_off_with_the_reason(world: World) -> None:
    world.emu.set_channel_error(POSTS.id, 403)
    try:
        logged = asyncio.create_task(world.emu.wait_channel_message(LOG.id, timeout=20))
        before = len(world.emu.channel_messages(POSTS.id))
        await _set(world, _slot(2), buckets="rock")
        note = await logged
        assert "Discovery posts off" in note["content"] and "403" in note["content"]
        row = await _row(world)
        assert not row["enabled"] and "403" in row["disabled_reason"]
        assert world.bot is not None and world.bot.scheduler is not None
        assert world.bot.scheduler.next_post(GUILD.id) is None  # no retry at every slot
        assert len(world.emu.channel_messages(POSTS.id)) == before
        ix = await world.emu.send_command("discovery show", user=DJ)
        await ix.wait_done(timeout=10)
        state = _fields(_answer(ix)["embeds"][0])["State"]
        assert state.startswith("off") and "403" in state
        runs = await recorded_runs(world.db, "discovery")
        assert runs[-1]["outcome"] == "failed" and "403" in runs[-1]["error"]
    finally:
        world.emu.set_channel_error(POSTS.id, None)


async def test_posting_now_to_a_deleted_channel_turns_it_off(world: World) -> None:
    await _set(world, _slot(3600), buckets="rock")
    world.emu.set_channel_error(POSTS.id, 404)
    try:
        ix = await world.emu.send_command("discovery now", user=DJ)
        await ix.wait_done(timeout=10)
        answer = _answer(ix)["content"]
        assert ix.ephemeral and "no longer exists" in answer and "Discovery posts are off" in answer
        assert "\n" not in answer
        assert "404" in (await _row(world))["disabled_reason"]
    finally:
        world.emu.set_channel_error(POSTS.id, None)


async def test_off_and_show(world: World) -> None:
    await _set(world, _slot(3600))
    ix = await world.emu.send_command("discovery off", user=DJ)
    await ix.wait_done(timeout=10)
    assert _answer(ix)["content"] == "Discovery posts are off."
    ix = await world.emu.send_command("discovery show", user=DJ)
    await ix.wait_done(timeout=10)
    fields = _fields(_answer(ix)["embeds"][0])
    assert fields["State"].startswith("off — turned off by dj with /discovery off")
    assert fields["Channel"] == f"<#{POSTS.id}>"
    assert "rotation" in fields["Genres"]


# --- retraining ------------------------------------------------------------------------------------


async def test_a_failing_retrain_keeps_the_old_model_and_shows_in_status(world: World) -> None:
    async with world.db.connection() as conn:
        serving = await model_versions.active_version(conn)
    await _change_the_curated_set(world.db)
    (world.tmp / "genres.toml").write_text("this is = not [ valid toml\n")
    logged = asyncio.create_task(
        world.emu.wait_channel_message(
            LOG.id, timeout=60, predicate=lambda m: "retraining failed" in m["content"]
        )
    )
    await world.restart(retrain_interval_hours=4 / 3600)  # every 4 s
    note = await logged
    assert "not valid TOML" in note["content"] and "previous model keeps serving" in note["content"]
    runs = await recorded_runs(world.db, "retrain")
    assert runs[-1]["outcome"] == "failed" and "not valid TOML" in runs[-1]["error"]
    async with world.db.connection() as conn:
        assert await model_versions.active_version(conn) == serving
    ix = await world.emu.send_command("status", user=ADMIN)
    await ix.wait_done(timeout=10)
    lines = _fields(_answer(ix)["embeds"][0])["Background runs"]
    assert re.search(r"retrain: failed at .* UTC — genre map file .* is not valid TOML", lines)
    ix = await world.emu.send_command("recommend", {"track": world.first_track}, user=LISTENER)
    await ix.wait_done(timeout=20)
    assert len(_answer(ix)["embeds"]) > 1  # the old model still answers members
    ix = await world.emu.send_command("status", user=ADMIN)  # model ids: /status only
    await ix.wait_done(timeout=10)
    assert serving in _fields(_answer(ix)["embeds"][0])["Model"]

    # fixed: the next period retrains, reports to the log channel; then nothing to do
    served = asyncio.create_task(
        world.emu.wait_channel_message(
            LOG.id, timeout=90, predicate=lambda m: "Scheduled retraining:" in m["content"]
        )
    )
    (world.tmp / "genres.toml").write_text("# fixed\n")
    report = await served
    assert report["embeds"][0]["title"].endswith("is serving")
    async with world.db.connection() as conn:
        assert await model_versions.active_version(conn) != serving
    await until(lambda: _ran(world, "retrain", "skipped"), 30, "an unchanged period")
    await world.restart()


async def _change_the_curated_set(db: Database) -> None:
    async with db.transaction() as conn:
        track_id = await conn.scalar(select(audio_features.c.track_id).limit(1))
        await conn.execute(
            update(audio_features)
            .where(audio_features.c.track_id == track_id)
            .values(valence=audio_features.c.valence * 0.5 + 0.01)
        )


# --- the command line ------------------------------------------------------------------------------


async def _tunecluster(world: World, *args: str) -> tuple[int, str, str]:
    """`tunecluster ...` as an operator (or cron) runs it, on the world's database."""
    env = settings_env(
        **loopback_settings(world.emu),
        database_url=world.settings["database_url"],
        models_dir=world.settings["models_dir"],
        config=world.tmp / "none.toml",
        k_max=8,
    )
    return await run_cli_async(*args, env=env, cwd=world.tmp)


async def test_posting_from_the_command_line_needs_no_gateway(world: World) -> None:
    sessions = len(world.emu.sessions)
    waiting = asyncio.create_task(world.emu.wait_channel_message(POSTS.id, timeout=60))
    code, out, err = await _tunecluster(world, "discovery", "post", str(GUILD.id), "--json")
    assert code == 0, err
    (result,) = json.loads(out)
    message = await waiting
    assert _tracks(message) == [p["track_id"] for p in result["picks"]]
    assert len(world.emu.sessions) == sessions  # REST only
    code, out, err = await _tunecluster(world, "discovery", "post", "--due", "--json")
    assert (code, json.loads(out)) == (0, [])  # nothing is due (posts are off)


async def test_tunecluster_jobs_shows_runs_lease_and_schedules(world: World) -> None:
    code, out, err = await _tunecluster(world, "jobs", "--json")
    assert code == 0, err
    shown = json.loads(out)
    newest = {r["job"]: r for r in shown["runs"]}
    assert newest["retrain"]["outcome"] in ("ok", "skipped")
    assert newest["discovery"]["counts"]["guild_id"] == GUILD.id
    assert shown["lease"]["live"] and shown["lease"]["holder"].startswith("bot:")
    (schedule,) = shown["discovery"]
    assert schedule["guild_id"] == GUILD.id and not schedule["enabled"]
    assert schedule["disabled_reason"].startswith("turned off by dj")


async def test_jobs_run_by_hand_are_recorded(world: World) -> None:
    code, out, err = await _tunecluster(world, "jobs", "run", "retrain", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert (result["outcome"], result["error"]) == (
        "skipped",
        "the training set is unchanged since the model",
    )
    runs = await recorded_runs(world.db, "retrain")
    assert runs[-1]["holder"].startswith("cli:") and runs[-1]["outcome"] == "skipped"
