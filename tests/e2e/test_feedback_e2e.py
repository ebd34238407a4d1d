"""End to end: the feedback buttons through unmodified discord.py and the loopback Discord
emulator (component interactions, type 3, as Discord delivers them), on a trained demo
catalogue in SQLite.

The no-repeat window is 0 here, so a pick can come back unless the member's 👎 keeps it
out: that is what the 👎 test relies on.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import pytest
from sqlalchemy import delete, func, select

from bot.app import TuneclusterBot
from recommender.strategies import DEFAULT as DEFAULT_STRATEGY
from sql.database import Database
from sql.schema import artist_track, audio_features, feedback_pick, reaction, track
from tests.fakes.discord_emulator import (
    ChannelSpec,
    DiscordEmulator,
    GuildSpec,
    InteractionRecord,
    MemberSpec,
    RoleSpec,
    UserSpec,
)
from tests.support.bot_world import running_bot, trained_demo

EPHEMERAL = 64
ADMIN_ROLE = RoleSpec("Admins", permissions=1 << 3)
OWNER, LISTENER, OTHER, ADMIN = (UserSpec(n) for n in ("owner", "listener", "other", "admin"))
GUILD = GuildSpec(
    "Music",
    channels=[ChannelSpec("general")],
    roles=[ADMIN_ROLE],
    members=[LISTENER, OTHER, MemberSpec(ADMIN, roles=[ADMIN_ROLE.id])],
    owner_id=OWNER.id,
)
ELSEWHERE = GuildSpec("Elsewhere", channels=[ChannelSpec("lobby")], members=[OTHER])


@dataclass
class World:
    emu: DiscordEmulator
    bot: TuneclusterBot
    db: Database
    tracks: list[str]
    settings: dict[str, Any]


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    tmp: Path = tmp_path_factory.mktemp("feedback")
    url = f"sqlite+aiosqlite:///{tmp / 'bot.db'}"
    tracks = await trained_demo(url, tmp / "models", tracks=900, seed=11)
    settings = {
        "database_url": url,
        "models_dir": tmp / "models",
        "dev_guild_id": GUILD.id,
        "recommend_cooldown_seconds": 0,
        "no_repeat_days": 0,
        "run_jobs": False,
        "k_max": 8,
    }
    db = Database(url)
    async with (
        DiscordEmulator(guilds=[GUILD, ELSEWHERE], owner=OWNER, interaction_deadline=3.0) as emu,
        running_bot(emu, **settings) as bot,
    ):
        yield World(emu, bot, db, tracks, settings)
    await db.dispose()


# --- helpers -----------------------------------------------------------------------------------


async def _recommend(world: World, user: UserSpec, **options: Any) -> dict:
    ix = await world.emu.send_command("recommend", options, user=user)
    await ix.wait_done(timeout=20)
    assert ix.callback_type == 5 and not ix.expired
    return ix.followups[0]


def _buttons(message: dict) -> list[dict]:
    return [c for row in message.get("components", []) for c in row["components"]]


def _feedback_ids(message: dict, action: str) -> list[str]:
    return [
        b["custom_id"]
        for b in _buttons(message)
        if b.get("custom_id", "").startswith(f"tc:{action[0]}:")
    ]


def _pick_tracks(message: dict) -> list[str]:
    return [cid.rsplit(":", 1)[1] for cid in _feedback_ids(message, "like")]


async def _click(
    world: World, message: dict, custom_id: str, user: UserSpec, *, followups: int = 1
) -> InteractionRecord:
    ix = await world.emu.send_component(message, custom_id, user=user)
    await ix.wait_followups(followups, timeout=20)
    assert ix.callback_type == 5 and not ix.expired  # acknowledged within Discord's 3 s
    return ix


async def _reactions(world: World, user: UserSpec) -> list[dict]:
    async with world.db.connection() as conn:
        rows = await conn.execute(
            select(reaction).where(reaction.c.user_id == user.id).order_by(reaction.c.position)
        )
        return [dict(r) for r in rows.mappings()]


async def _count(world: World, table) -> int:
    async with world.db.connection() as conn:
        return await conn.scalar(select(func.count()).select_from(table))


# --- tests ---------------------------------------------------------------------------------------


async def test_every_pick_carries_the_three_buttons(world: World) -> None:
    message = await _recommend(world, LISTENER, track=world.tracks[0], count=3)
    rows = message["components"]
    assert len(rows) == 3  # one row per pick
    for row, embed in zip(rows, message["embeds"][1:], strict=True):
        styles = [b["style"] for b in row["components"]]
        assert styles[0] == 5 and row["components"][0]["url"] == embed["url"]  # ▶ link first
        ids = [b["custom_id"] for b in row["components"][1:]]
        assert [i.split(":")[1] for i in ids] == ["l", "d", "m"]
        assert all(len(i) <= 100 for i in ids)
        labels = [b.get("label") for b in row["components"][1:]]
        assert labels[1:] == ["Not for me", "More like this"]
    async with world.db.connection() as conn:
        shown = (await conn.execute(select(feedback_pick))).mappings().all()
    assert {r["track_id"] for r in shown} >= set(_pick_tracks(message))
    assert {r["seed_track_id"] for r in shown} == {world.tracks[0]}
    assert {r["arm"] for r in shown} == {"off"}
    assert all(r["model_version"] and r["strategy"] == DEFAULT_STRATEGY for r in shown)


async def test_like_and_dislike_are_acknowledged_stored_and_changed(world: World) -> None:
    member = UserSpec("clicker")
    message = await _recommend(world, member, track=world.tracks[1], count=3)
    likes, dislikes = _feedback_ids(message, "like"), _feedback_ids(message, "dislike")
    liked = await _click(world, message, likes[0], member)
    assert liked.ephemeral and liked.followups[0]["content"].startswith("👍 Noted")
    disliked = await _click(world, message, dislikes[1], member)
    assert disliked.followups[0]["content"].startswith("👎 Noted")
    again = await _click(world, message, likes[0], member)
    assert again.followups[0]["content"].startswith("Already noted")
    changed = await _click(world, message, dislikes[0], member)
    assert "(changed)" in changed.followups[0]["content"]
    rows = await _reactions(world, member)
    assert [(r["position"], r["verdict"]) for r in rows] == [(0, "dislike"), (1, "dislike")]
    first = rows[0]
    assert first["guild_id"] == GUILD.id and first["seed_track_id"] == world.tracks[1]
    assert first["track_id"] == _pick_tracks(message)[0]
    assert first["strategy"] == DEFAULT_STRATEGY and first["model_version"]
    assert first["artist_id"]


async def test_a_disliked_track_never_comes_back_for_that_member(world: World) -> None:
    member = UserSpec("picky")
    seed = world.tracks[2]
    message = await _recommend(world, member, track=seed, count=5)
    gone = _pick_tracks(message)[0]
    await _click(world, message, _feedback_ids(message, "dislike")[0], member)
    seen_by_member: set[str] = set()
    for _ in range(8):
        seen_by_member |= set(_pick_tracks(await _recommend(world, member, track=seed, count=5)))
    assert gone not in seen_by_member
    assert seen_by_member  # the member still gets picks


async def test_more_like_this_answers_with_picks_for_that_track(world: World) -> None:
    member = UserSpec("curious")
    message = await _recommend(world, member, track=world.tracks[3], count=2)
    clicked = _pick_tracks(message)[1]
    ix = await _click(world, message, _feedback_ids(message, "more")[1], member)
    answer = ix.followups[0]
    assert answer["flags"] & EPHEMERAL  # TUNECLUSTER_MORE_LIKE_THIS_PUBLIC is off
    async with world.db.connection() as conn:
        name = await conn.scalar(select(track.c.name).where(track.c.track_id == clicked))
    assert name in answer["embeds"][0]["title"]  # "Because you like <the clicked track>"
    assert len(answer["embeds"]) > 1 and clicked not in _pick_tracks(answer)
    assert len(_feedback_ids(answer, "more")) == len(answer["embeds"]) - 1  # buttons again
    rows = await _reactions(world, member)
    assert [(r["position"], r["more"], r["verdict"]) for r in rows] == [(1, True, None)]


async def test_a_button_still_works_after_a_restart(world: World) -> None:
    member = UserSpec("faithful")
    async with running_bot(world.emu, **world.settings):
        message = await _recommend(world, member, track=world.tracks[4], count=2)
    # that bot is gone; a new process never saw the message
    async with running_bot(world.emu, **world.settings) as fresh:
        assert fresh.is_ready()
        ix = await _click(world, message, _feedback_ids(message, "like")[1], member)
        assert ix.followups[0]["content"].startswith("👍 Noted")
    assert [r["verdict"] for r in await _reactions(world, member)] == ["like"]


async def test_recommend_without_a_track_uses_the_members_likes_and_taste_reset(
    world: World,
) -> None:
    member = UserSpec("fan")
    refused = await world.emu.send_command("recommend", {}, user=member)
    await refused.wait_done(timeout=20)
    assert refused.followups[0]["flags"] & EPHEMERAL
    assert "don't know your taste yet" in refused.followups[0]["content"]

    message = await _recommend(world, member, track=world.tracks[5], count=2)
    liked = _pick_tracks(message)[0]
    await _click(world, message, _feedback_ids(message, "like")[0], member)
    await _click(world, message, _feedback_ids(message, "dislike")[1], member)
    for_me = await _recommend(world, member)
    async with world.db.connection() as conn:
        name = await conn.scalar(select(track.c.name).where(track.c.track_id == liked))
    assert name in for_me["embeds"][0]["title"]

    shown = await world.emu.send_command("taste show", user=member)
    await shown.wait_done(timeout=10)
    embed = shown.followups[0]["embeds"][0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert shown.followups[0]["flags"] & EPHEMERAL
    assert name in fields["👍 Liked (1)"] and "👎 Not for you (1)" in fields

    reset = await world.emu.send_command("taste reset", user=member)
    await reset.wait_done(timeout=10)
    assert "Forgotten: 2 reactions" in reset.followups[0]["content"]
    assert await _reactions(world, member) == []
    again = await world.emu.send_command("recommend", {}, user=member)
    await again.wait_done(timeout=20)
    assert "don't know your taste yet" in again.followups[0]["content"]


async def test_bad_clicks_get_one_line_and_store_nothing(world: World) -> None:
    member = UserSpec("mallory")
    message = await _recommend(world, LISTENER, track=world.tracks[6], count=2)
    before = await _count(world, reaction)

    async def refused(target: dict, custom_id: str, user: UserSpec, expected: str) -> None:
        ix = await world.emu.send_component(target, custom_id, user=user)
        await ix.wait_done(timeout=20)
        assert not ix.expired and ix.ephemeral
        answer = ix.followups[0] if ix.followups else ix.callback["data"]  # deferred or not
        text = answer["content"]
        assert expected in text and "\n" not in text and "Traceback" not in text

    def forged(custom_id: str, channel_id: int | None = None) -> dict:
        """The same message with one button's custom_id replaced (a modified client), or
        the message as if it were in another guild's channel."""
        copied = copy.deepcopy(message)
        copied["id"] = str(int(message["id"]) + 1)
        copied["components"][0]["components"][1]["custom_id"] = custom_id
        if channel_id is not None:
            copied["channel_id"] = str(channel_id)
        return copied

    like = _feedback_ids(message, "like")[0]
    for bad, expected in [
        ("not-a-tunecluster-button", "not one of mine"),
        ("tc:x:1:0:abc", "not one of mine"),
        ("tc:l:notanumber:0:abc", "not one of mine"),
        ("tc:l:1:0:" + "x" * 80, "not one of mine"),
        (like.rsplit(":", 1)[0] + ":" + world.tracks[7], "not one of mine"),  # another track
        ("tc:l:12345:0:" + world.tracks[7], "no longer know that pick"),
    ]:
        await refused(forged(bad), bad, member, expected)
    other_guild = forged(like, channel_id=ELSEWHERE.channels[0].id)
    await refused(other_guild, like, OTHER, "belongs to another server")

    # a track deleted from the catalogue after it was shown
    gone = _pick_tracks(message)[1]
    async with world.db.transaction() as conn:
        for table in (artist_track, audio_features):
            await conn.execute(delete(table).where(table.c.track_id == gone))
        await conn.execute(delete(track).where(track.c.track_id == gone))
    await refused(message, _feedback_ids(message, "like")[1], member, "no longer in the catalogue")
    assert await _count(world, reaction) == before


async def test_status_shows_the_feedback_summary(world: World) -> None:
    ix = await world.emu.send_command("status", user=ADMIN)
    await ix.wait_done(timeout=10)
    fields = {f["name"]: f["value"] for f in ix.followups[0]["embeds"][0]["fields"]}
    assert f"off / {DEFAULT_STRATEGY}:" in fields["Feedback"]
    assert "👍" in fields["Feedback"]


async def test_a_pick_whose_model_version_is_gone_still_records(world: World) -> None:
    member = UserSpec("late")
    message = await _recommend(world, member, track=world.tracks[8], count=2)
    answer = int(_feedback_ids(message, "like")[0].split(":")[2])
    async with world.db.transaction() as conn:  # as if that version had been pruned
        await conn.execute(
            feedback_pick.update()
            .where(feedback_pick.c.answer_id == answer)
            .values(model_version="20200101-000000000-pruned0")
        )
    ix = await _click(world, message, _feedback_ids(message, "like")[0], member)
    assert ix.followups[0]["content"].startswith("👍 Noted")
    assert [r["model_version"] for r in await _reactions(world, member)] == [
        "20200101-000000000-pruned0"
    ]


async def test_arms_choose_the_strategy_and_more_like_this_can_be_public(world: World) -> None:
    app = world.bot.context
    relaxed = app.settings
    app.settings = relaxed.model_copy(
        update={"strategy_arms": ["cluster-random"], "more_like_this_public": True}
    )
    try:
        member = UserSpec("tester")
        message = await _recommend(world, member, track=world.tracks[9], count=2)
        ix = await _click(world, message, _feedback_ids(message, "more")[0], member)
    finally:
        app.settings = relaxed
    assert not ix.followups[0]["flags"] & EPHEMERAL  # in the channel, for everyone
    answers = {int(i.split(":")[2]) for i in _feedback_ids(message, "like")}
    answers |= {int(i.split(":")[2]) for i in _feedback_ids(ix.followups[0], "like")}
    async with world.db.connection() as conn:
        rows = await conn.execute(
            select(feedback_pick.c.source, feedback_pick.c.arm, feedback_pick.c.strategy)
            .where(feedback_pick.c.answer_id.in_(answers))
            .distinct()
        )
        shown = sorted(tuple(r) for r in rows)
    assert shown == [
        ("more", "cluster-random", "cluster-random"),
        ("recommend", "cluster-random", "cluster-random"),
    ]


async def test_discovery_posts_carry_the_buttons(world: World) -> None:
    channel = GUILD.channels[0]
    resolved = {
        "channels": {
            str(channel.id): {
                **channel.payload(GUILD.id),
                "permissions": str(discord.Permissions.all().value),
            }
        }
    }
    setup = await world.emu.send_command(
        "discovery set",
        {"channel": str(channel.id), "every": "weekly", "at": "03:00", "buckets": "rock, pop"},
        user=ADMIN,
        resolved=resolved,
    )
    await setup.wait_done(timeout=10)
    now = await world.emu.send_command("discovery now", user=ADMIN)
    await now.wait_done(timeout=20)
    post = world.emu.channel_messages(channel.id)[-1]
    assert "Discovery" in post["content"]
    assert len(_feedback_ids(post, "like")) == len(post["embeds"]) == 2
    ix = await _click(world, post, _feedback_ids(post, "dislike")[1], LISTENER)
    assert ix.followups[0]["content"].startswith("👎 Noted")
    async with world.db.connection() as conn:
        row = (
            (
                await conn.execute(
                    select(feedback_pick).where(
                        feedback_pick.c.answer_id
                        == int(_feedback_ids(post, "like")[0].split(":")[2])
                    )
                )
            )
            .mappings()
            .first()
        )
    assert row["source"] == "discovery" and row["user_id"] is None and row["seed_track_id"] is None
    assert row["strategy"] == "discovery" and row["arm"] == "off"
    mine = await _reactions(world, LISTENER)
    assert any(r["verdict"] == "dislike" and r["strategy"] == "discovery" for r in mine)


async def test_a_discovery_post_of_more_than_five_picks_is_split(world: World) -> None:
    channel = GUILD.channels[0]
    resolved = {
        "channels": {
            str(channel.id): {
                **channel.payload(GUILD.id),
                "permissions": str(discord.Permissions.all().value),
            }
        }
    }
    buckets = "rock, pop, jazz, blues, country, metal, folk"
    setup = await world.emu.send_command(
        "discovery set",
        {"channel": str(channel.id), "every": "weekly", "at": "03:00", "buckets": buckets},
        user=ADMIN,
        resolved=resolved,
    )
    await setup.wait_done(timeout=10)
    before = len(world.emu.channel_messages(channel.id))
    now = await world.emu.send_command("discovery now", user=ADMIN)
    await now.wait_done(timeout=30)
    posted = world.emu.channel_messages(channel.id)[before:]
    picks = sum(len(m["embeds"]) for m in posted)
    assert picks > 5 and len(posted) == 2  # five rows of buttons fit a message
    assert "Discovery" in posted[0]["content"] and not posted[1].get("content")
    for message in posted:
        assert len(_feedback_ids(message, "like")) == len(message["embeds"])
        assert len(message["components"]) == len(message["embeds"])


async def test_buttons_in_direct_messages(world: World) -> None:
    member = UserSpec("private")
    ix = await world.emu.send_command(
        "recommend", {"track": world.tracks[10], "count": 2}, user=member, dm=True
    )
    await ix.wait_done(timeout=20)
    message = ix.followups[0]
    clicked = await _click(world, message, _feedback_ids(message, "like")[0], member)
    assert clicked.followups[0]["content"].startswith("👍 Noted")
    rows = await _reactions(world, member)
    assert [(r["guild_id"], r["verdict"]) for r in rows] == [(0, "like")]  # 0: no guild
