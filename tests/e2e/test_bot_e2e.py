"""End to end: tunecluster's bot, unmodified discord.py, against the loopback Discord
emulator, with a trained demo catalogue in SQLite and the Spotify fake for tracks the
catalogue lacks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from bot.app import TuneclusterBot
from recommender.taxonomy import display
from sql.database import Database
from sql.schema import recommendation_log
from tests.fakes.discord_emulator import (
    ChannelSpec,
    DiscordEmulator,
    GuildSpec,
    MemberSpec,
    RoleSpec,
    UserSpec,
)
from tests.fakes.spotify import CLIENT_ID, CLIENT_SECRET, FakeSpotify, make_universe
from tests.support.bot_world import running_bot, trained_demo

EPHEMERAL = 64
ADMINISTRATOR = 1 << 3
ADMIN_ROLE = RoleSpec("Admins", permissions=ADMINISTRATOR)
OWNER = UserSpec("owner")
LISTENER = UserSpec("listener")
ADMIN = UserSpec("admin")
GUILD = GuildSpec(
    "Music",
    channels=[ChannelSpec("general")],
    roles=[ADMIN_ROLE],
    members=[LISTENER, MemberSpec(ADMIN, roles=[ADMIN_ROLE.id])],
    owner_id=OWNER.id,
)


@dataclass
class World:
    emu: DiscordEmulator
    bot: TuneclusterBot
    db: Database
    spotify: FakeSpotify
    catalogue_track: str
    spotify_track: str


def _spotify_only_track(universe) -> str:
    """A track of the fake whose every artist has a genre, so it can be filed."""
    for track_id, track in universe.tracks.items():
        if all(universe.artists[a["id"]]["genres"] for a in track["artists"]):
            return track_id
    raise AssertionError("the fake universe has no fully tagged track")


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    tmp = tmp_path_factory.mktemp("bot")
    url = f"sqlite+aiosqlite:///{tmp / 'bot.db'}"
    tracks = await trained_demo(url, tmp / "models", tracks=900, seed=11)
    universe = make_universe(40, seed=5)
    db = Database(url)
    async with (
        FakeSpotify(universe) as spotify,
        DiscordEmulator(guilds=[GUILD], owner=OWNER, interaction_deadline=3.0) as emu,
        running_bot(
            emu,
            database_url=url,
            models_dir=tmp / "models",
            dev_guild_id=GUILD.id,
            spotify_client_id=CLIENT_ID,
            spotify_client_secret=CLIENT_SECRET,
            spotify_api_url=spotify.api_url,
            spotify_accounts_url=spotify.accounts_url,
            spotify_requests_per_second=50,
            recommend_cooldown_seconds=0,
            run_jobs=False,  # the background jobs have tests of their own
            profile_image=True,
            k_max=8,
        ) as bot,
    ):
        yield World(emu, bot, db, spotify, tracks[0], _spotify_only_track(universe))
    await db.dispose()


def _command(world: World, name: str) -> dict:
    return next(c for c in world.emu.synced_commands(GUILD.id) if c["name"] == name)


async def test_login_and_guild(world: World) -> None:
    assert [g.id for g in world.bot.guilds] == [GUILD.id]
    assert world.emu.find_requests("GET", r"^/users/@me$")
    assert world.emu.find_requests("GET", r"^/oauth2/applications/@me$")


async def test_commands_synced_to_the_dev_guild_only(world: World) -> None:
    names = {c["name"] for c in world.emu.synced_commands(GUILD.id)}
    assert {"recommend", "genres", "retrain", "status", "sync"} <= names
    assert world.emu.synced_commands(None) == []  # no global sync at start

    recommend = _command(world, "recommend")
    assert recommend["description"]
    options = {o["name"]: o for o in recommend["options"]}
    assert options["track"]["type"] == 3  # optional: without it, from the member's 👍
    assert not options["track"].get("required")
    assert options["track"]["autocomplete"] is True
    assert options["track"]["max_length"] == 500
    assert (
        options["count"]["type"],
        options["count"]["min_value"],
        options["count"]["max_value"],
    ) == (4, 1, 5)
    assert len(options["bucket"]["choices"]) == 15
    assert {c["value"] for c in options["bucket"]["choices"]} >= {
        "rock",
        "hip hop",
        "others",
        "edm",
    }
    assert recommend.get("default_member_permissions") is None

    for admin_only in ("retrain", "status", "sync"):
        permissions = _command(world, admin_only)["default_member_permissions"]
        assert str(permissions) == str(ADMINISTRATOR)


async def test_recommend_answers_with_embeds_buttons_and_profile(world: World) -> None:
    link = f"https://open.spotify.com/intl-de/track/{world.catalogue_track}?si=abc"
    ix = await world.emu.send_command("recommend", {"track": link, "count": 3}, user=LISTENER)
    await ix.wait_done(timeout=20)
    assert ix.callback_type == 5  # deferred at once
    message = ix.followups[0]
    embeds = message["embeds"]
    assert len(embeds) == 1 + 3
    assert "Because you like" in embeds[0]["title"]
    for embed in embeds[1:]:
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert {"Genre", "Why"} <= set(fields)
        assert "cluster" in fields["Why"] or "same playlists as" in fields["Why"]
        assert embed["url"].startswith("https://open.spotify.com/track/")
    buttons = [c for row in message["components"] for c in row["components"]]
    links = [b for b in buttons if b["style"] == 5]
    assert len(links) == 3 and all(b["url"] for b in links)
    assert sum(b.get("custom_id", "").startswith("tc:") for b in buttons) == 3 * 3  # feedback
    assert [f.filename for f in ix.files] == ["profile.png"]
    assert ix.files[0].data.startswith(b"\x89PNG")
    async with world.db.connection() as conn:
        logged = await conn.scalar(
            select(func.count())
            .select_from(recommendation_log)
            .where(
                recommendation_log.c.guild_id == GUILD.id,
                recommendation_log.c.user_id == LISTENER.id,
            )
        )
    assert logged >= 3


async def test_recommend_in_one_bucket(world: World) -> None:
    filing = await world.emu.send_command("genres", {"track": world.catalogue_track}, user=LISTENER)
    await filing.wait_done(timeout=20)
    async with world.db.connection() as conn:
        placed = await world.bot.context.recommender.place(conn, world.catalogue_track)
    bucket = placed.placements[-1].bucket
    ix = await world.emu.send_command(
        "recommend", {"track": world.catalogue_track, "count": 2, "bucket": bucket}, user=LISTENER
    )
    await ix.wait_done(timeout=20)
    picks = ix.followups[0]["embeds"][1:]
    assert picks
    for embed in picks:
        genre = next(f["value"] for f in embed["fields"] if f["name"] == "Genre")
        assert genre == display(bucket)

    elsewhere = next(
        b for b in ("jazz", "metal", "reggae", "country") if b not in placed.info.buckets
    )
    refused = await world.emu.send_command(
        "recommend", {"track": world.catalogue_track, "bucket": elsewhere}, user=LISTENER
    )
    await refused.wait_done(timeout=20)
    assert refused.followups[0]["flags"] & EPHEMERAL
    assert "is not filed under" in refused.followups[0]["content"]


async def test_autocomplete(world: World) -> None:
    async with world.db.connection() as conn:
        from sql import catalogue

        name = (await catalogue.get_track(conn, world.catalogue_track))["name"]
    ix = await world.emu.send_autocomplete(
        "recommend", {"track": name}, focused="track", user=LISTENER
    )
    await ix.wait_done(timeout=3)
    assert ix.callback_type == 8
    assert 1 <= len(ix.choices) <= 25
    assert all(len(c["name"]) <= 100 and len(c["value"]) <= 100 for c in ix.choices)
    assert world.catalogue_track in {c["value"] for c in ix.choices}


async def test_genres(world: World) -> None:
    ix = await world.emu.send_command("genres", {"track": world.catalogue_track}, user=LISTENER)
    await ix.wait_done(timeout=20)
    embed = ix.followups[0]["embeds"][0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert "→" in fields["Artists' genres → buckets"]
    assert "cluster #" in fields["Clusters"]
    assert "danceability" in fields["Sound"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://example.com/track/abc", "not a Spotify link"),
        (
            "https://open.spotify.com.evil.example/track/4uLU6hMCjMI75M1A2tKUQC",
            "not a Spotify link",
        ),
        ("https://open.spotify.com/episode/4uLU6hMCjMI75M1A2tKUQC", "episode"),
    ],
)
async def test_bad_links_get_an_ephemeral_line(world: World, text: str, expected: str) -> None:
    ix = await world.emu.send_command("recommend", {"track": text}, user=LISTENER)
    await ix.wait_done(timeout=10)
    answer = ix.followups[0]
    assert answer["flags"] & EPHEMERAL
    assert expected.lower() in answer["content"].lower()
    assert "Traceback" not in answer["content"] and "\n" not in answer["content"]


async def test_unknown_track_resolved_through_spotify(world: World) -> None:
    before = world.spotify.requests
    link = f"spotify:track:{world.spotify_track}"
    ix = await world.emu.send_command("recommend", {"track": link, "count": 2}, user=LISTENER)
    await ix.wait_done(timeout=20)
    message = ix.followups[0]
    assert not message["flags"] & EPHEMERAL, message.get("content")
    assert "Track" in message["embeds"][0]["title"]
    assert world.spotify.requests > before
    # the second ask is served from the catalogue
    asked = world.spotify.requests
    again = await world.emu.send_command("genres", {"track": link}, user=LISTENER)
    await again.wait_done(timeout=20)
    assert world.spotify.requests == asked


async def test_retrain_refused_for_a_member(world: World) -> None:
    ix = await world.emu.send_command("retrain", user=LISTENER)
    await ix.wait_done(timeout=5)
    assert ix.callback_type == 4 and ix.ephemeral
    assert "owners" in ix.callback["data"]["content"]


async def test_retrain_refused_for_an_admin_of_an_unlisted_guild(world: World) -> None:
    ix = await world.emu.send_command("retrain", user=ADMIN)
    await ix.wait_done(timeout=5)
    assert ix.ephemeral


async def test_status_for_administrators(world: World) -> None:
    refused = await world.emu.send_command("status", user=LISTENER)
    await refused.wait_done(timeout=5)
    assert refused.ephemeral and "administrators" in refused.callback["data"]["content"]
    ix = await world.emu.send_command("status", user=ADMIN)
    await ix.wait_done(timeout=10)
    embed = ix.followups[0]["embeds"][0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert "track:" in fields["Catalogue"]
    assert "active for" in fields["Model"]
    assert ix.followups[0]["flags"] & EPHEMERAL


async def test_retrain_accepted_for_the_owner(world: World) -> None:
    async with world.db.connection() as conn:
        from sql import model_versions

        before = await model_versions.active_version(conn)
    ix = await world.emu.send_command("retrain", user=OWNER)
    await ix.wait_callback(timeout=3)
    assert ix.callback_type == 4 and "Retraining started" in ix.callback["data"]["content"]
    second = await world.emu.send_command("retrain", user=OWNER)
    await second.wait_done(timeout=5)
    assert second.ephemeral and "already running" in second.callback["data"]["content"]
    await ix.wait_followups(1, timeout=120)
    report = ix.followups[0]["embeds"][0]
    assert report["title"].startswith("Model ") and "serving" in report["title"]
    ks = next(f["value"] for f in report["fields"] if f["name"] == "k per genre")
    assert "k=" in ks, ks  # each trained genre with its k
    async with world.db.connection() as conn:
        assert await model_versions.active_version(conn) != before


async def test_fifty_concurrent_recommendations(world: World) -> None:
    users = [UserSpec(f"fan{i}") for i in range(50)]
    dispatched = await asyncio.gather(
        *(
            world.emu.send_command(
                "recommend", {"track": world.catalogue_track, "count": 1}, user=u
            )
            for u in users
        )
    )
    await asyncio.gather(*(ix.wait_done(timeout=60) for ix in dispatched))
    # the emulator answers a callback later than 3 s with 404 Unknown interaction, as
    # Discord does, so every one that completed was acknowledged in time
    assert all(ix.callback_type == 5 and not ix.expired for ix in dispatched)
    assert all(ix.followups and ix.followups[0]["embeds"] for ix in dispatched)


async def test_per_member_cooldown(world: World) -> None:
    relaxed = world.bot.settings
    world.bot.settings = relaxed.model_copy(update={"recommend_cooldown_seconds": 60})
    try:
        fan = UserSpec("eager")
        first = await world.emu.send_command(
            "recommend", {"track": world.catalogue_track}, user=fan
        )
        await first.wait_done(timeout=20)
        second = await world.emu.send_command(
            "recommend", {"track": world.catalogue_track}, user=fan
        )
        await second.wait_done(timeout=5)
        other = await world.emu.send_command(
            "recommend", {"track": world.catalogue_track}, user=UserSpec("patient")
        )
        await other.wait_done(timeout=20)
    finally:
        world.bot.settings = relaxed
    assert first.followups[0]["embeds"]
    assert second.ephemeral and "Slow down" in second.callback["data"]["content"]
    assert other.followups[0]["embeds"]  # the cooldown is per member


async def test_global_sync_is_owner_only(world: World) -> None:
    refused = await world.emu.send_command("sync", user=ADMIN)
    await refused.wait_done(timeout=5)
    assert refused.ephemeral and "owners" in refused.callback["data"]["content"]
    assert world.emu.synced_commands(None) == []
    ix = await world.emu.send_command("sync", user=OWNER)
    await ix.wait_done(timeout=10)
    assert "Synced" in ix.followups[0]["content"]
    assert {c["name"] for c in world.emu.synced_commands(None)} >= {"recommend", "genres"}


async def test_spotify_cooling_down_is_told_in_one_line(world: World) -> None:
    """Last in the module: the quota stop persists for the rest of the bot's life."""
    world.spotify.faults.at[world.spotify.requests + 1] = "quota"
    unknown = next(t for t in world.spotify.u.tracks if t != world.spotify_track)
    ix = await world.emu.send_command("recommend", {"track": unknown}, user=LISTENER)
    await ix.wait_done(timeout=20)
    answer = ix.followups[0]
    assert answer["flags"] & EPHEMERAL
    assert answer["content"].startswith("Spotify cooling down until")
    asked = world.spotify.requests
    again = await world.emu.send_command(
        "recommend", {"track": next(iter(reversed(world.spotify.u.tracks)))}, user=LISTENER
    )
    await again.wait_done(timeout=20)
    assert "cooling down" in again.followups[0]["content"]
    assert world.spotify.requests == asked  # nothing sent during the cool-down
