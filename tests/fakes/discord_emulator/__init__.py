"""A loopback Discord: REST + gateway on 127.0.0.1 that an unmodified discord.py 2.7 logs into.

Why: end-to-end tests must drive the real discord.py stack (login, gateway, app-command
dispatch, interaction callbacks, webhooks, uploads) with no network and no real token, and
then assert on exactly what the bot sent.

Layout (one concern a module): ``emulator`` the facade below; ``state`` what every part
shares; ``specs`` and ``records`` what tests build and read; ``protocol`` Discord's numbers;
``payloads``, ``messages``, ``options`` and ``invocations`` the objects Discord sends;
``sessions`` and ``gateway`` the websocket side; ``rest/`` the REST routes by family
(``app`` wires them with the recording middleware); ``responses`` and ``faults`` errors.

Usage::

    async with DiscordEmulator(owner_id=42, guilds=[GuildSpec("Music")]) as emu:
        with emu.installed():  # patches Route.BASE + DEFAULT_GATEWAY, restores them on exit
            async with bot:
                task = asyncio.create_task(bot.start(emu.token))
                await emu.wait_identified(timeout=10)
                await bot.wait_until_ready()  # fires guild_ready_timeout (2 s) after GUILD_CREATE
                ix = await emu.send_command("recommend", {"track": "Pink Moon"})
                await ix.wait_done(timeout=5)
                assert ix.followups[0]["embeds"][0]["title"]
                await bot.close()
                await task

API (every ``wait_*`` takes ``timeout`` seconds and raises ``TimeoutError``):

``DiscordEmulator(*, guilds=None, owner=None, owner_id=None, team=None, bot_user=None,
application_id=None, token=None, app_permissions=DEFAULT_BOT_PERMISSIONS, shard_count=1,
heartbeat_interval=41.25, rest_latency=0.0, interaction_deadline=None, compression=True,
allow_privileged_intents=True, history=None)``
    ``guilds=None`` gives one default guild.  ``owner_id``/``owner`` set the application owner
    (``GET /oauth2/applications/@me``); ``team`` makes the application team-owned (the
    ``owner`` field then becomes Discord's team pseudo-user). ``owner``, ``team``,
    ``shard_count``, ``rest_latency`` and ``interaction_deadline`` may be changed at runtime.
    ``history=N`` keeps only the newest N interactions, requests and messages (long runs).
Lifecycle: ``await start()`` / ``await stop()`` or ``async with``; ``install()`` /
    ``uninstall()`` / ``with installed():``.  ``stop()`` uninstalls and closes leftover gateway
    sockets with 4004, which makes a forgotten client stop instead of reconnecting elsewhere.
Addresses: ``api_url`` (``http://127.0.0.1:PORT/api/v10``), ``gateway_url``
    (``ws://127.0.0.1:PORT/gateway``), ``http_url``, ``token``, ``application_id``,
    ``bot_user``, ``default_user`` (the member that sends commands by default), ``guilds``.
Driving the bot:
    ``await send_command(name, options=None, *, user=None, guild_id=None, channel_id=None,
    permissions=None, roles=None, locale="en-US", dm=False, resolved=None)`` -> Interaction
    record.  ``name`` may be ``"group sub"``; option types come from the synced command when
    there is one (else inferred from the Python value); ``data.id`` is the synced command's id
    and ``data.guild_id`` is set when the match is a guild command (discord.py's tree needs
    it to find guild commands).  ``permissions=None`` derives the member's permissions from
    @everyone + role grants (owner/administrator -> all).
    ``await send_autocomplete(name, options, *, focused, ...)``;
    ``await send_component(message, custom_id, *, component_type=2, values=None, ...)``;
    ``await send_user_message(channel_id, content, *, user=None)`` (MESSAGE_CREATE);
    ``await dispatch_event(event, data, *, guild_id=None)``;
    ``await request_reconnect()`` (op 7; discord.py RESUMEs); ``await invalidate_session(
    resumable=False)`` (op 9; note discord.py then sleeps 5 s before re-IDENTIFY).
Interaction record: ``id, token, type, name, payload, dispatched_at, callback, callback_at,
    callback_type, callback_files, original, followups, edits, files, done_at, latency,
    ephemeral, choices, messages, expired``; ``await wait_callback()``, ``await wait_done()``
    (done = an answer the user can see: a type 4/7/8/9 callback, or after a 5/6 defer the
    first follow-up or @original edit), ``await wait_settled()`` (done, or expired: a
    callback later than ``interaction_deadline``), ``await wait_followups(count)``.  The first follow-up
    after a type-5 defer replaces the "thinking" message, keeping its ephemeral flag, as
    Discord does.
Inspection: ``requests`` (every REST call: method, path below api_url, query, json, files,
    at, status), ``find_requests(method=None, path=None)`` (path is a regex), ``unhandled``
    (calls no route matched), ``sync_calls`` (raw payload of each command PUT),
    ``synced_commands(guild_id=None)`` (what Discord now stores, ids added),
    ``channel_messages(channel_id)``, ``await wait_channel_message(channel_id, predicate=None)``
    (the next matching message), ``sessions``, ``connections`` (gateway, with ``received``
    frames, ``compress``, ``close_code``), ``interactions``, ``await wait_identified(count=1)``,
    ``await wait_resumed(count=1)``.
Faults: ``set_channel_error(channel_id, 403 | 404 | 429 | 500 | None)`` for
    ``POST /channels/{id}/messages``; ``inject_error(method, path_regex, status, *, code=0,
    message=None, times=1, retry_after=0.05)`` for any REST route (429 carries the ``Via``
    header discord.py needs to treat it as a rate limit and retry); ``rest_latency``;
    ``interaction_deadline`` (callbacks later than this answer 404 Unknown interaction).

Specs: ``GuildSpec(name, id=, channels=[ChannelSpec("general")], roles=[], members=[],
owner_id=None, everyone_permissions=...)`` (@everyone's id is the guild id; the emulator adds
a managed bot role and the bot, the owner and ``default_user`` as members), ``ChannelSpec(name,
type=0, id=, position=0)``, ``RoleSpec(name, permissions=0, id=)``, ``UserSpec(username, id=)``,
``MemberSpec(user, roles=())``, ``TeamSpec(name, members=[(user, "admin"|"developer"|...)])``.
Ids default to fresh snowflakes.  The emulator keeps copies: read them back from ``guilds``.

discord.py behaviour worth knowing (2.7):
- ``on_ready`` fires ``guild_ready_timeout`` (a Client option, default 2 s) after the last
  GUILD_CREATE.  Neither intents nor ``chunk_guilds_at_startup`` avoid that wait; the latter
  only decides whether members are requested.
- Like Discord, GUILD_CREATE lists every member only to sessions with the presences intent,
  otherwise just the bot; with the members intent discord.py then sends op 8 and the emulator
  answers GUILD_MEMBERS_CHUNK.  ``member_count`` is always the full count.
- ``AutoShardedClient`` connects to the ``url`` of ``GET /gateway/bot``, not DEFAULT_GATEWAY,
  and sleeps 5 s in ``before_identify_hook`` before every IDENTIFY but the first (so more
  than one shard, or a re-IDENTIFY after INVALID_SESSION, costs 5 s each).
- It asks for ``compress=zlib-stream`` (``zstd-stream`` when the ``zstandard`` package is
  installed).  zlib-stream is implemented (one deflate stream per socket, each frame ending
  in Z_SYNC_FLUSH); any other value, or ``compression=False``, gets text frames, which
  discord.py always accepts since it only decompresses binary frames.
- A RESUME (after op 7, or a dropped socket) goes to READY's ``resume_gateway_url``
  (``/gateway/resume`` here); missed dispatches are replayed, then RESUMED.  A close with
  1000/1001 (``client.close()``) ends the session, as on Discord.
- A sharded IDENTIFY gets only the guilds of its shard, ``(guild_id >> 22) % shard_count``.
  Guild events and interactions go to the newest live session whose shard holds the guild.
"""

from tests.fakes.discord_emulator.emulator import DiscordEmulator
from tests.fakes.discord_emulator.protocol import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    EPHEMERAL,
    LOADING,
    new_id,
)
from tests.fakes.discord_emulator.records import (
    InteractionRecord,
    RestRequest,
    SyncCall,
    UploadedFile,
)
from tests.fakes.discord_emulator.responses import ApiError
from tests.fakes.discord_emulator.sessions import GatewayConnection, GatewaySession
from tests.fakes.discord_emulator.specs import (
    ChannelSpec,
    GuildSpec,
    MemberSpec,
    RoleSpec,
    TeamSpec,
    UserSpec,
)

__all__ = [
    "ADMINISTRATOR",
    "ALL_PERMISSIONS",
    "DEFAULT_BOT_PERMISSIONS",
    "DEFAULT_EVERYONE_PERMISSIONS",
    "EPHEMERAL",
    "LOADING",
    "ApiError",
    "ChannelSpec",
    "DiscordEmulator",
    "GatewayConnection",
    "GatewaySession",
    "GuildSpec",
    "InteractionRecord",
    "MemberSpec",
    "RestRequest",
    "RoleSpec",
    "SyncCall",
    "TeamSpec",
    "UploadedFile",
    "UserSpec",
    "new_id",
]
