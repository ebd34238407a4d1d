"""End-to-end proof that tests/fakes/discord_emulator/ speaks discord.py 2.7's protocol.

A throwaway bot defined here (not the product's) runs for the whole module against one
emulator, so discord.py's on_ready wait (``guild_ready_timeout``, 2 s after the last
GUILD_CREATE) is paid once.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import threading
import warnings
from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest
import pytest_asyncio
import yarl
from discord import app_commands
from discord.ext import commands
from discord.gateway import DiscordWebSocket, KeepAliveHandler
from discord.http import Route

from tests.fakes.discord_emulator import (
    ADMINISTRATOR,
    DEFAULT_EVERYONE_PERMISSIONS,
    EPHEMERAL,
    ChannelSpec,
    DiscordEmulator,
    GuildSpec,
    MemberSpec,
    RoleSpec,
    TeamSpec,
    UserSpec,
)

MAIN_GUILD_ID = 1_300_000_000_000_000_000
OTHER_GUILD_ID = MAIN_GUILD_ID + (1 << 22)  # lands on the other shard when there are two
OWNER_ID = 111_111_111_111_111_111
ADMIN_ROLE = RoleSpec("Admin", permissions=ADMINISTRATOR)
DJ_ROLE = RoleSpec("DJ", permissions=discord.Permissions(manage_messages=True).value)
ALICE = UserSpec("alice")  # has the Admin role
BOB = UserSpec("bob")  # plain member
GENERAL = ChannelSpec("general")
ANNOUNCEMENTS = ChannelSpec("announcements", position=1)
LOUNGE = ChannelSpec("Lounge", type=2, position=2)
TRACKS = ["Pink Moon", "Pinball Wizard", "Pink + White", "Moonlight Sonata"]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(32))


class MoreView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)  # no timeout task left behind at shutdown

    @discord.ui.button(label="More", custom_id="more")
    async def more(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.edit_message(content="here is more", view=None)


class ThrowawayBot(commands.Bot):
    """Just enough of a music bot to exercise what the product will use."""

    def __init__(self) -> None:
        super().__init__(command_prefix="!", intents=discord.Intents.default())
        self.synced: dict[int | None, list[app_commands.AppCommand]] = {}
        self.errors: list[app_commands.AppCommandError] = []
        self._register(discord.Object(MAIN_GUILD_ID))

    async def setup_hook(self) -> None:
        self.synced[None] = await self.tree.sync()
        self.synced[MAIN_GUILD_ID] = await self.tree.sync(guild=discord.Object(MAIN_GUILD_ID))

    def _register(self, guild: discord.Object) -> None:
        tree = self.tree

        @tree.command(description="Health check")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("pong")

        @tree.command(description="Tracks like a seed", guild=guild)
        @app_commands.describe(track="Seed track", count="How many")
        async def recommend(
            interaction: discord.Interaction, track: str, count: app_commands.Range[int, 1, 10] = 3
        ) -> None:
            await interaction.response.defer(thinking=True)
            lines = "\n".join(f"{n}. pick" for n in range(1, count + 1))
            await interaction.followup.send(
                embed=discord.Embed(title=f"Like {track}", description=lines)
            )

        @recommend.autocomplete("track")
        async def track_choices(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            hits = [t for t in TRACKS if current.lower() in t.lower()]
            return [app_commands.Choice(name=t, value=t) for t in hits]

        @tree.command(description="Whisper", guild=guild)
        async def secret(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("only you can see this", ephemeral=True)

        @tree.command(description="Cover art", guild=guild)
        async def cover(interaction: discord.Interaction) -> None:
            art = discord.File(io.BytesIO(PNG), "cover.png")
            await interaction.response.send_message("cover art", file=art)

        @tree.command(description="Post in this channel", guild=guild)
        async def announce(interaction: discord.Interaction, text: str) -> None:
            assert isinstance(interaction.channel, discord.TextChannel)
            try:
                await interaction.channel.send(text)
            except discord.HTTPException as exc:
                reply = f"cannot post here ({exc.code})"
                await interaction.response.send_message(reply, ephemeral=True)
            else:
                await interaction.response.send_message("posted", ephemeral=True)

        @tree.command(description="A button", guild=guild)
        async def more(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("want more?", view=MoreView())

        admin = app_commands.Group(name="admin", description="Admin tools")

        @admin.command(name="reset", description="Reset the model")
        @app_commands.checks.has_permissions(administrator=True)
        async def reset(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("model reset")

        tree.add_command(admin, guild=guild)

        @tree.error
        async def on_error(
            interaction: discord.Interaction, error: app_commands.AppCommandError
        ) -> None:
            self.errors.append(error)
            if isinstance(error, app_commands.MissingPermissions):
                missing = ", ".join(error.missing_permissions)
                await interaction.response.send_message(f"missing: {missing}", ephemeral=True)


class ShardedClient(discord.AutoShardedClient):
    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Skip discord.py's 5 s pause between IDENTIFYs: the emulator has no such limit."""


# --------------------------------------------------------------------------- harness


def _discord_tasks(exclude: set[asyncio.Task]) -> list[asyncio.Task]:
    """Pending tasks running discord.py code, other than those in ``exclude``."""
    found = []
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        if task not in exclude and not task.done() and code and "/discord/" in code.co_filename:
            found.append(task)
    return found


def _keepalive_threads(client: discord.Client) -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if isinstance(t, KeepAliveHandler)
        and t.is_alive()
        and t.ws._connection is client._connection
    ]


async def _assert_clean_shutdown(client: discord.Client, before: set[asyncio.Task]) -> None:
    """No session, task or heartbeat thread of ``client`` outlives ``close()``."""
    assert client.http._HTTPClient__session.closed  # type: ignore[attr-defined]
    for _ in range(100):
        if not _discord_tasks(before) and not _keepalive_threads(client):
            break
        await asyncio.sleep(0.01)
    assert _discord_tasks(before) == []
    assert _keepalive_threads(client) == []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert [str(w.message) for w in caught if "nclosed" in str(w.message)] == []


@contextlib.asynccontextmanager
async def running(client: discord.Client, token: str) -> AsyncIterator[discord.Client]:
    """Start ``client``, wait for on_ready; on exit close it and prove nothing leaked."""
    before = asyncio.all_tasks()
    async with client:
        task = asyncio.create_task(client.start(token))
        ready = asyncio.create_task(client.wait_until_ready())
        try:
            await asyncio.wait({task, ready}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                task.result()  # re-raise a login / gateway failure
            assert ready.done(), "on_ready did not fire within 15 s"
            yield client
        finally:
            ready.cancel()
            await client.close()
            await asyncio.wait_for(task, 5)
    await _assert_clean_shutdown(client, before)


@pytest_asyncio.fixture(scope="module")
async def emu() -> AsyncIterator[DiscordEmulator]:
    main = GuildSpec(
        "Tune Lab",
        id=MAIN_GUILD_ID,
        channels=[GENERAL, ANNOUNCEMENTS, LOUNGE],
        roles=[ADMIN_ROLE, DJ_ROLE],
        members=[MemberSpec(ALICE, roles=[ADMIN_ROLE.id]), BOB],
    )
    guilds = [main, GuildSpec("Quiet Room", id=OTHER_GUILD_ID)]
    original = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    async with DiscordEmulator(owner_id=OWNER_ID, guilds=guilds) as emulator:
        with emulator.installed():
            yield emulator
    assert original == (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)


@pytest_asyncio.fixture(scope="module")
async def bot(emu: DiscordEmulator) -> AsyncIterator[ThrowawayBot]:
    async with running(ThrowawayBot(), emu.token) as client:
        yield client  # type: ignore[misc]


def _synced(emu: DiscordEmulator, name: str, guild_id: int | None = MAIN_GUILD_ID) -> dict:
    return next(c for c in emu.synced_commands(guild_id) if c["name"] == name)


# --------------------------------------------------------------------------- tests


async def test_login_ready_and_guild_create(emu: DiscordEmulator, bot: ThrowawayBot) -> None:
    assert bot.is_ready()
    assert bot.user is not None and bot.user.id == emu.bot_user.id and bot.user.bot
    assert bot.application_id == emu.application_id
    first = [(r.method, r.path) for r in emu.requests[:2]]
    assert first == [("GET", "/users/@me"), ("GET", "/oauth2/applications/@me")]

    session = emu.sessions[0]
    assert session.identify["intents"] == bot.intents.value and "shard" not in session.identify
    conn = emu.connections[0]
    assert conn.query["v"] == "10" and conn.query["encoding"] == "json"
    assert conn.compress == "zlib-stream"  # frames were zlib-stream; discord.py decoded them
    assert any(frame["op"] == 1 for frame in conn.received)  # heartbeats, answered with op 11
    assert bot.latency < 1

    guild = bot.get_guild(MAIN_GUILD_ID)
    assert guild is not None and guild.name == "Tune Lab" and not guild.unavailable
    assert {g.id for g in bot.guilds} == {MAIN_GUILD_ID, OTHER_GUILD_ID}
    assert [c.name for c in guild.text_channels] == ["general", "announcements"]
    assert [c.name for c in guild.voice_channels] == ["Lounge"]
    assert guild.default_role.id == MAIN_GUILD_ID
    assert {"Admin", "DJ"} <= {role.name for role in guild.roles}
    assert guild.owner_id == OWNER_ID
    assert guild.me.id == bot.user.id
    # Without the members intent Discord lists only the bot; the sharded test asks for members
    assert guild.member_count == 5 and [m.id for m in guild.members] == [bot.user.id]


async def test_application_owner_and_team(emu: DiscordEmulator, bot: ThrowawayBot) -> None:
    app = await bot.application_info()
    assert app.owner.id == OWNER_ID and app.team is None

    dev, viewer = UserSpec("dev"), UserSpec("viewer")
    emu.team = TeamSpec(
        "Tune Team", members=[(ALICE, "admin"), (dev, "developer"), (viewer, "read_only")]
    )
    try:
        app = await bot.application_info()
        assert app.team is not None and app.team.name == "Tune Team"
        assert app.owner.id == emu.team.id  # Discord's team pseudo-user
        roles = {m.id: m.role.value for m in app.team.members}
        assert roles == {ALICE.id: "admin", dev.id: "developer", viewer.id: "read_only"}
        members = {m.id: m for m in app.team.members}
        assert await bot.is_owner(members[dev.id])
        assert not await bot.is_owner(members[viewer.id])
    finally:
        emu.team = None
        bot.owner_ids = set()


async def test_command_sync_payloads_are_captured(emu: DiscordEmulator, bot: ThrowawayBot) -> None:
    assert [c["name"] for c in emu.synced_commands()] == ["ping"]
    guild_commands = {c["name"]: c for c in emu.synced_commands(MAIN_GUILD_ID)}
    assert set(guild_commands) == {"recommend", "secret", "cover", "announce", "more", "admin"}
    assert emu.synced_commands(OTHER_GUILD_ID) == []
    assert [(call.guild_id, len(call.payload)) for call in emu.sync_calls] == [
        (None, 1),
        (MAIN_GUILD_ID, 6),
    ]
    assert all("id" not in command for command in emu.sync_calls[1].payload)  # raw, as sent

    track, count = guild_commands["recommend"]["options"]
    assert (track["name"], track["type"], track["required"], track["autocomplete"]) == (
        "track",
        3,
        True,
        True,
    )
    assert (count["name"], count["type"], count["min_value"], count["max_value"]) == (
        "count",
        4,
        1,
        10,
    )
    assert [(o["name"], o["type"]) for o in guild_commands["admin"]["options"]] == [("reset", 1)]
    assert all(c["guild_id"] == str(MAIN_GUILD_ID) for c in guild_commands.values())
    # discord.py parsed the echo: same ids on both sides
    assert {c.name: c.id for c in bot.synced[MAIN_GUILD_ID]} == {
        name: int(c["id"]) for name, c in guild_commands.items()
    }


async def test_slash_command_defer_then_followup_embed(
    emu: DiscordEmulator, bot: ThrowawayBot
) -> None:
    ix = await emu.send_command("recommend", {"track": "Pink Moon", "count": 2}, user=BOB)
    callback = await ix.wait_callback(timeout=3)
    assert callback["type"] == 5
    await ix.wait_done(timeout=5)

    [message] = ix.messages
    assert message["id"] == ix.original["id"]  # the follow-up replaced the "thinking" message
    assert message["embeds"][0]["title"] == "Like Pink Moon"
    assert message["embeds"][0]["description"].splitlines() == ["1. pick", "2. pick"]
    assert not ix.ephemeral
    assert ix.latency is not None and ix.latency < 3

    data = ix.payload["data"]
    assert data["id"] == _synced(emu, "recommend")["id"]
    assert data["guild_id"] == str(MAIN_GUILD_ID)
    assert [(o["name"], o["type"], o["value"]) for o in data["options"]] == [
        ("track", 3, "Pink Moon"),
        ("count", 4, 2),
    ]
    [call] = emu.find_requests("POST", rf"/interactions/{ix.id}/{ix.token}/callback")
    assert call.query["with_response"] == "1" and call.json == {"type": 5}
    [followup] = emu.find_requests("POST", rf"/webhooks/{emu.application_id}/{ix.token}")
    assert followup.query["wait"] == "1"


async def test_ephemeral_response(emu: DiscordEmulator, bot: ThrowawayBot) -> None:
    ix = await emu.send_command("secret")
    callback = await ix.wait_callback()
    assert callback["type"] == 4
    assert callback["data"]["flags"] == EPHEMERAL
    assert callback["data"]["content"] == "only you can see this"
    assert ix.ephemeral and ix.done_at is not None


async def test_autocomplete_answered_with_choices(emu: DiscordEmulator, bot: ThrowawayBot) -> None:
    ac = await emu.send_autocomplete("recommend", {"track": "pin"}, focused="track")
    callback = await ac.wait_callback()
    assert callback["type"] == 8
    assert ac.choices is not None
    assert [c["name"] for c in ac.choices] == ["Pink Moon", "Pinball Wizard", "Pink + White"]
    assert ac.payload["type"] == 4
    assert ac.payload["data"]["options"] == [
        {"name": "track", "type": 3, "value": "pin", "focused": True}
    ]


async def test_file_attachment_sent_as_multipart(emu: DiscordEmulator, bot: ThrowawayBot) -> None:
    ix = await emu.send_command("cover")
    await ix.wait_done()
    [upload] = ix.callback_files
    assert (upload.field, upload.filename, upload.data) == ("files[0]", "cover.png", PNG)
    assert ix.callback is not None and ix.callback["data"]["content"] == "cover art"

    [attachment] = ix.original["attachments"]
    assert attachment["filename"] == "cover.png" and attachment["size"] == len(PNG)
    assert attachment["content_type"] == "image/png"
    async with aiohttp.ClientSession() as http, http.get(attachment["url"]) as response:
        assert await response.read() == PNG


async def test_permission_check(emu: DiscordEmulator, bot: ThrowawayBot) -> None:
    refused = await emu.send_command("admin reset", user=BOB)
    callback = await refused.wait_callback()
    assert callback["data"]["content"] == "missing: administrator"
    assert callback["data"]["flags"] == EPHEMERAL
    assert refused.payload["member"]["permissions"] == str(DEFAULT_EVERYONE_PERMISSIONS)
    assert refused.payload["data"]["options"] == [{"name": "reset", "type": 1, "options": []}]
    assert isinstance(bot.errors[-1], app_commands.MissingPermissions)

    by_role = await emu.send_command("admin reset", user=ALICE)  # Admin role -> all bits
    assert (await by_role.wait_callback())["data"]["content"] == "model reset"
    by_bits = await emu.send_command(
        "admin reset", user=BOB, permissions=discord.Permissions(administrator=True)
    )
    assert (await by_bits.wait_callback())["data"]["content"] == "model reset"


async def test_global_command_in_guild_and_dm(emu: DiscordEmulator, bot: ThrowawayBot) -> None:
    in_guild = await emu.send_command("ping")
    in_dm = await emu.send_command("ping", dm=True, user=BOB)
    for ix in (in_guild, in_dm):
        await ix.wait_done()
        assert ix.messages[0]["content"] == "pong"
        assert ix.payload["data"]["id"] == _synced(emu, "ping", None)["id"]
        assert "guild_id" not in ix.payload["data"]
    assert in_dm.payload["channel"]["type"] == 1 and "member" not in in_dm.payload


async def test_channel_post_and_injected_errors(emu: DiscordEmulator, bot: ThrowawayBot) -> None:
    general = bot.get_channel(GENERAL.id)
    assert isinstance(general, discord.TextChannel)
    sent = await general.send("hello from the bot")
    assert sent.id == int(emu.channel_messages(GENERAL.id)[-1]["id"])
    [post] = emu.find_requests("POST", rf"/channels/{GENERAL.id}/messages")
    assert post.json["content"] == "hello from the bot"

    waiter = asyncio.create_task(emu.wait_channel_message(ANNOUNCEMENTS.id, timeout=5))
    await asyncio.sleep(0)  # the waiter only looks at messages posted after it started
    ix = await emu.send_command("announce", {"text": "new drop"}, channel_id=ANNOUNCEMENTS.id)
    assert (await waiter)["content"] == "new drop"
    await ix.wait_done()
    assert ix.messages[0]["content"] == "posted"

    announcements = bot.get_channel(ANNOUNCEMENTS.id)
    assert isinstance(announcements, discord.TextChannel)
    emu.set_channel_error(ANNOUNCEMENTS.id, 403)
    with pytest.raises(discord.Forbidden) as forbidden:
        await announcements.send("nope")
    assert (forbidden.value.status, forbidden.value.code) == (403, 50001)
    refused = await emu.send_command("announce", {"text": "x"}, channel_id=ANNOUNCEMENTS.id)
    assert (await refused.wait_callback())["data"]["content"] == "cannot post here (50001)"

    emu.set_channel_error(ANNOUNCEMENTS.id, 404)
    with pytest.raises(discord.NotFound) as not_found:
        await announcements.send("nope")
    assert not_found.value.code == 10003

    emu.set_channel_error(ANNOUNCEMENTS.id, None)
    await announcements.send("back again")
    assert emu.channel_messages(ANNOUNCEMENTS.id)[-1]["content"] == "back again"


async def test_user_message_reaches_the_bot(emu: DiscordEmulator, bot: ThrowawayBot) -> None:
    received = asyncio.create_task(bot.wait_for("message", check=lambda m: m.author.id == BOB.id))
    await asyncio.sleep(0)
    await emu.send_user_message(GENERAL.id, "hi bot", user=BOB)
    message = await asyncio.wait_for(received, 5)
    assert message.channel.id == GENERAL.id
    assert message.content == ""  # no message_content intent: Discord blanks it, so do we


async def test_rate_limit_injection_is_retried(emu: DiscordEmulator, bot: ThrowawayBot) -> None:
    emu.inject_error("GET", rf"/channels/{GENERAL.id}", 429, retry_after=0.05)
    channel = await bot.fetch_channel(GENERAL.id)
    assert channel.name == "general"
    statuses = [r.status for r in emu.find_requests("GET", rf"/channels/{GENERAL.id}")]
    assert statuses == [429, 200]


async def test_button_click_updates_message(emu: DiscordEmulator, bot: ThrowawayBot) -> None:
    ix = await emu.send_command("more")
    await ix.wait_done()
    message = ix.original
    assert message is not None
    assert message["components"][0]["components"][0]["custom_id"] == "more"

    click = await emu.send_component(message, "more")
    assert (await click.wait_callback())["type"] == 7
    assert message["content"] == "here is more" and message["components"] == []


async def test_late_callback_is_refused(emu: DiscordEmulator, bot: ThrowawayBot) -> None:
    emu.interaction_deadline = 0.0
    try:
        ix = await emu.send_command("secret")
        for _ in range(200):
            if ix.expired:
                break
            await asyncio.sleep(0.01)
    finally:
        emu.interaction_deadline = None
    assert ix.expired and ix.callback is None
    await asyncio.sleep(0.05)  # let the tree's error handler run
    error = bot.errors[-1]
    assert isinstance(error, app_commands.CommandInvokeError)
    assert isinstance(error.original, discord.NotFound) and error.original.code == 10062


async def test_fifty_concurrent_interactions(emu: DiscordEmulator, bot: ThrowawayBot) -> None:
    records = await asyncio.gather(
        *(
            emu.send_command("recommend", {"track": f"Track {n}", "count": 1 + n % 10})
            for n in range(50)
        )
    )
    await asyncio.gather(*(ix.wait_done(timeout=10) for ix in records))
    for n, ix in enumerate(records):
        assert ix.callback_type == 5
        [message] = ix.messages
        assert message["embeds"][0]["title"] == f"Like Track {n}"
        assert len(message["embeds"][0]["description"].splitlines()) == 1 + n % 10
    latencies = sorted(ix.latency or 0.0 for ix in records)
    assert latencies[-1] < 3.0  # Discord's deadline for the initial response


async def test_resume_replays_missed_events(emu: DiscordEmulator, bot: ThrowawayBot) -> None:
    session = emu.sessions[0]
    await emu.request_reconnect()
    ix = await emu.send_command("ping")  # dispatched while discord.py reconnects
    await emu.wait_resumed(timeout=10, session=session)
    await ix.wait_done(timeout=10)
    assert ix.messages[0]["content"] == "pong"
    conn = session.conn
    assert conn is not None and conn.path == "/gateway/resume"
    resume = next(frame for frame in conn.received if frame["op"] == 6)
    assert resume["d"]["session_id"] == session.id
    assert session.log[-1]["t"] == "RESUMED"


async def test_auto_sharded_client(emu: DiscordEmulator, bot: ThrowawayBot) -> None:
    emu.shard_count = 2
    first = len(emu.sessions)
    intents = discord.Intents.default()
    intents.members = True  # so discord.py requests the members at startup (op 8)
    client = ShardedClient(intents=intents, guild_ready_timeout=0.1)
    try:
        async with running(client, emu.token):
            sessions = emu.sessions[first:]
            assert sorted(s.shard for s in sessions) == [(0, 2), (1, 2)]
            for s in sessions:
                ready = s.log[0]
                assert ready["t"] == "READY" and ready["d"]["shard"] == list(s.shard)
                expected = {str(g) for g in emu.guilds if (g >> 22) % 2 == s.shard[0]}
                assert {g["id"] for g in ready["d"]["guilds"]} == expected
            assert client.shard_count == 2
            assert {g.id for g in client.guilds} == {MAIN_GUILD_ID, OTHER_GUILD_ID}
            assert {g.shard_id for g in client.guilds} == {0, 1}
            main = client.get_guild(MAIN_GUILD_ID)
            assert main is not None and main.chunked
            alice = main.get_member(ALICE.id)
            assert alice is not None and alice.guild_permissions.administrator
            assert any(f["op"] == 8 for s in sessions if s.conn for f in s.conn.received)
            assert emu.find_requests("GET", "/gateway/bot")
    finally:
        emu.shard_count = 1
    assert all(s.invalid for s in sessions)  # closed with 1000: not resumable
    ix = await emu.send_command("ping")  # routed back to the module's bot
    await ix.wait_done()


async def test_raw_protocol_details(emu: DiscordEmulator) -> None:
    auth = {"Authorization": f"Bot {emu.token}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(emu.api_url + "/users/@me", headers=auth) as response:
            assert response.headers["Content-Type"] == "application/json"
        bad = {"Authorization": "Bot wrong"}
        async with http.get(emu.api_url + "/users/@me", headers=bad) as response:
            assert response.status == 401
        async with http.get(emu.api_url + "/no/such/route", headers=auth) as response:
            assert response.status == 404
        assert emu.unhandled[-1].path == "/no/such/route"

        async with http.ws_connect(emu.gateway_url + "?v=10&encoding=json") as ws:
            hello = await ws.receive_json(timeout=2)  # no compress asked: text frames
            assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0
            await ws.send_json({"op": 6, "d": {"token": emu.token, "session_id": "x", "seq": 1}})
            invalid = await ws.receive_json(timeout=2)
            assert (invalid["op"], invalid["d"]) == (9, False)
            await ws.send_json({"op": 2, "d": {"token": "wrong", "intents": 0, "properties": {}}})
            closing = await ws.receive(timeout=2)
            assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 4004


async def test_installed_restores_class_attributes(emu: DiscordEmulator) -> None:
    assert emu.api_url == Route.BASE
    assert yarl.URL(emu.gateway_url) == DiscordWebSocket.DEFAULT_GATEWAY
    async with DiscordEmulator() as other:
        with other.installed():
            assert other.api_url == Route.BASE
            assert yarl.URL(other.gateway_url) == DiscordWebSocket.DEFAULT_GATEWAY
        assert emu.api_url == Route.BASE
    assert yarl.URL(emu.gateway_url) == DiscordWebSocket.DEFAULT_GATEWAY
