"""A loopback Discord: REST + gateway on 127.0.0.1 that an unmodified discord.py 2.7 logs into.

Why: end-to-end tests must drive the real discord.py stack (login, gateway, app-command
dispatch, interaction callbacks, webhooks, uploads) with no network and no real token, and
then assert on exactly what the bot sent.

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

# The wait_* helpers take ``timeout=`` on purpose: tests read better than with asyncio.timeout.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import mimetypes
import re
import secrets
import socket
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

import discord
import yarl
from aiohttp import BodyPartReader, WSMsgType, web
from discord.gateway import DiscordWebSocket
from discord.http import Route

T = TypeVar("T")
Json = dict[str, Any]

API_VERSION = 10
API_PREFIX = f"/api/v{API_VERSION}"
DISCORD_EPOCH_MS = 1_420_070_400_000
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024

# Message flags.
EPHEMERAL = 1 << 6
LOADING = 1 << 7

# Gateway opcodes.
DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, VOICE_STATE = 0, 1, 2, 3, 4
RESUME, RECONNECT, REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 6, 7, 8, 9, 10, 11

# Interaction types.
APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE = 2, 3, 4

ALL_PERMISSIONS = discord.Permissions.all().value
ADMINISTRATOR = discord.Permissions(administrator=True).value
DEFAULT_EVERYONE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    create_instant_invite=True,
    change_nickname=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    embed_links=True,
    attach_files=True,
    add_reactions=True,
    use_external_emojis=True,
    read_message_history=True,
    use_application_commands=True,
    connect=True,
    speak=True,
    use_voice_activation=True,
).value
DEFAULT_BOT_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    attach_files=True,
    add_reactions=True,
    read_message_history=True,
    use_application_commands=True,
).value

PRIVILEGED_INTENTS = discord.Intents(members=True, presences=True, message_content=True).value
GUILD_MESSAGES_INTENT = discord.Intents(guild_messages=True).value
DM_MESSAGES_INTENT = discord.Intents(dm_messages=True).value
MESSAGE_CONTENT_INTENT = discord.Intents(message_content=True).value
PRESENCES_INTENT = discord.Intents(presences=True).value

# Where the middleware leaves the parsed body for the handlers.
_BODY: web.RequestKey[Any] = web.RequestKey("body", object)
_FILES: web.RequestKey[list[UploadedFile]] = web.RequestKey("files", list)

_id_counter = itertools.count(1)


def new_id() -> int:
    """A fresh snowflake timestamped now, so discord.py's created_at and sharding behave."""
    ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    return (ms << 22) | (next(_id_counter) % (1 << 22))


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


# --------------------------------------------------------------------------- specs


@dataclass
class UserSpec:
    """A Discord user: a member, the bot, the application owner."""

    username: str
    id: int = field(default_factory=new_id)
    global_name: str | None = None
    bot: bool = False

    def payload(self) -> Json:
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "system": False,
            "public_flags": 0,
        }


@dataclass
class RoleSpec:
    """A guild role; ``permissions`` is the raw bit set granted to its members."""

    name: str
    permissions: int = 0
    id: int = field(default_factory=new_id)
    position: int = 1
    managed: bool = False

    def payload(self) -> Json:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "hoist": False,
            "managed": self.managed,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }


@dataclass
class ChannelSpec:
    """A guild channel; ``type`` uses Discord's numbers (0 text, 2 voice, 4 category, 5 news)."""

    name: str
    type: int = 0
    id: int = field(default_factory=new_id)
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None

    def payload(self, guild_id: int) -> Json:
        data: Json = {
            "id": str(self.id),
            "type": self.type,
            "name": self.name,
            "guild_id": str(guild_id),
            "position": self.position,
            "parent_id": str(self.parent_id) if self.parent_id else None,
            "permission_overwrites": [],
            "nsfw": False,
            "topic": self.topic,
            "rate_limit_per_user": 0,
            "last_message_id": None,
        }
        if self.type in (2, 13):  # voice and stage channels
            data.update(bitrate=64000, user_limit=0, rtc_region=None)
        return data


@dataclass
class MemberSpec:
    """A user's membership in one guild (its roles and nickname)."""

    user: UserSpec
    roles: Sequence[int] = ()
    nick: str | None = None

    def payload(self) -> Json:
        return {
            "user": self.user.payload(),
            "roles": [str(role) for role in self.roles],
            "nick": self.nick,
            "avatar": None,
            "joined_at": "2024-01-01T00:00:00+00:00",
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }


@dataclass
class GuildSpec:
    """A guild; its @everyone role gets the guild's id, as on Discord."""

    name: str = "Test Guild"
    id: int = field(default_factory=new_id)
    channels: list[ChannelSpec] = field(default_factory=lambda: [ChannelSpec("general")])
    roles: list[RoleSpec] = field(default_factory=list)
    members: list[MemberSpec | UserSpec] = field(default_factory=list)
    owner_id: int | None = None  # None: the application owner
    everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS
    locale: str = "en-US"

    @property
    def memberships(self) -> list[MemberSpec]:
        """``members`` with bare users read as members without roles."""
        return [m if isinstance(m, MemberSpec) else MemberSpec(m) for m in self.members]

    def member(self, user_id: int) -> MemberSpec | None:
        return next((m for m in self.memberships if m.user.id == user_id), None)

    def role_permissions(self, role_ids: Sequence[int]) -> int:
        wanted = set(role_ids)
        granted = self.everyone_permissions
        for role in self.roles:
            if role.id in wanted:
                granted |= role.permissions
        return granted


@dataclass
class TeamSpec:
    """A developer team owning the application; roles: "admin", "developer", "read_only"."""

    name: str
    members: Sequence[tuple[UserSpec, str]]
    id: int = field(default_factory=new_id)
    owner_user_id: int | None = None  # None: the first member

    def payload(self) -> Json:
        owner = self.owner_user_id or (self.members[0][0].id if self.members else None)
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "owner_user_id": str(owner) if owner else None,
            "members": [
                {
                    "membership_state": 2,
                    "team_id": str(self.id),
                    "user": user.payload(),
                    "role": role,
                    "permissions": ["*"],
                }
                for user, role in self.members
            ],
        }

    def pseudo_user(self) -> Json:
        """Discord reports a team-owned application's ``owner`` as this synthetic user."""
        return {
            "id": str(self.id),
            "username": f"team{self.id}",
            "discriminator": "0000",
            "avatar": None,
            "flags": 1024,
        }


# --------------------------------------------------------------------------- records


@dataclass
class UploadedFile:
    """One ``files[n]`` part of a multipart request."""

    field: str
    filename: str | None
    content_type: str | None
    data: bytes

    @property
    def index(self) -> int | None:
        match = re.fullmatch(r"files\[(\d+)\]", self.field)
        return int(match.group(1)) if match else None


@dataclass
class RestRequest:
    """One REST call as the emulator received it; ``path`` is relative to ``api_url``."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[UploadedFile]
    at: float
    headers: dict[str, str] = field(repr=False)
    status: int | None = None


@dataclass
class SyncCall:
    """One bulk command overwrite (``PUT .../commands``), payload exactly as sent."""

    guild_id: int | None
    payload: Any
    at: float


class ApiError(NamedTuple):
    status: int
    code: int
    message: str


UNAUTHORIZED = ApiError(401, 0, "401: Unauthorized")
NOT_FOUND = ApiError(404, 0, "404: Not Found")
INVALID_FORM = ApiError(400, 50035, "Invalid Form Body")
EMPTY_MESSAGE = ApiError(400, 50006, "Cannot send an empty message")
MISSING_ACCESS = ApiError(403, 50001, "Missing Access")
UNKNOWN_APPLICATION = ApiError(404, 10002, "Unknown Application")
UNKNOWN_CHANNEL = ApiError(404, 10003, "Unknown Channel")
UNKNOWN_GUILD = ApiError(404, 10004, "Unknown Guild")
UNKNOWN_MEMBER = ApiError(404, 10007, "Unknown Member")
UNKNOWN_MESSAGE = ApiError(404, 10008, "Unknown Message")
UNKNOWN_USER = ApiError(404, 10013, "Unknown User")
UNKNOWN_WEBHOOK = ApiError(404, 10015, "Unknown Webhook")
UNKNOWN_INTERACTION = ApiError(404, 10062, "Unknown interaction")
ALREADY_ACKNOWLEDGED = ApiError(400, 40060, "Interaction has already been acknowledged.")
RATE_LIMITED = ApiError(429, 0, "You are being rate limited.")
SERVER_ERROR = ApiError(500, 0, "500: Internal Server Error")
_STATUS_PRESETS = {
    403: MISSING_ACCESS,
    404: UNKNOWN_CHANNEL,
    429: RATE_LIMITED,
    500: SERVER_ERROR,
}


def _json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None):
    """JSON with Content-Type exactly ``application/json``: discord.py reads
    ``application/json; charset=utf-8`` (aiohttp's json_response default) as plain text."""
    body = json.dumps(data, separators=(",", ":")).encode()
    return web.Response(
        status=status, body=body, headers={"Content-Type": "application/json", **(headers or {})}
    )


def _error_response(error: ApiError, retry_after: float = 0.05) -> web.Response:
    if error.status != 429:
        return _json_response({"message": error.message, "code": error.code}, error.status)
    # Without a Via header discord.py takes a 429 for a Cloudflare ban and gives up.
    body = {"message": error.message, "retry_after": retry_after, "global": False, "code": 0}
    headers = {"Via": "1.1 google", "Retry-After": str(retry_after)}
    return _json_response(body, 429, headers)


def _no_content() -> web.Response:
    return web.Response(status=204)


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    error: ApiError
    remaining: int | None
    retry_after: float


class _Signal:
    """Wakes every waiter on any state change; waiters re-check their own predicate.

    Everything runs on one event loop, so a predicate sees a consistent state; many concurrent
    waiters (50 interactions) just re-evaluate cheap predicates.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], T | None], timeout: float, what: str) -> T:
        try:
            async with asyncio.timeout(timeout):
                while True:
                    event = self._event  # taken before the check, so no change is missed
                    result = predicate()
                    if result:
                        return result
                    await event.wait()
        except TimeoutError:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}") from None


@dataclass(eq=False)
class InteractionRecord:
    """One interaction the emulator dispatched, and everything the bot answered to it."""

    id: int
    token: str
    type: int
    name: str
    payload: Json = field(repr=False)
    dispatched_at: float
    _signal: _Signal = field(repr=False)
    callback: Json | None = None
    callback_at: float | None = None
    callback_files: list[UploadedFile] = field(default_factory=list, repr=False)
    original: Json | None = None
    followups: list[Json] = field(default_factory=list)
    edits: list[Json] = field(default_factory=list, repr=False)
    files: list[UploadedFile] = field(default_factory=list, repr=False)
    done_at: float | None = None
    original_deleted: bool = False
    expired: bool = False
    component_message: Json | None = field(default=None, repr=False)

    @property
    def guild_id(self) -> int | None:
        raw = self.payload.get("guild_id")
        return int(raw) if raw else None

    @property
    def channel_id(self) -> int:
        return int(self.payload["channel_id"])

    @property
    def callback_type(self) -> int | None:
        return self.callback["type"] if self.callback else None

    @property
    def latency(self) -> float | None:
        """Seconds from INTERACTION_CREATE to the callback (Discord allows 3)."""
        return None if self.callback_at is None else self.callback_at - self.dispatched_at

    @property
    def ephemeral(self) -> bool:
        if self.original is not None:
            return bool(self.original["flags"] & EPHEMERAL)
        data = (self.callback or {}).get("data") or {}
        return bool((data.get("flags") or 0) & EPHEMERAL)

    @property
    def choices(self) -> list[Json] | None:
        """The autocomplete choices of a type-8 callback."""
        if self.callback_type != 8:
            return None
        return (self.callback or {}).get("data", {}).get("choices", [])

    @property
    def messages(self) -> list[Json]:
        """Visible answer messages: the original response (once resolved) then follow-ups."""
        out: list[Json] = []
        if self.original and not self.original["flags"] & LOADING and not self.original_deleted:
            out.append(self.original)
        out.extend(m for m in self.followups if m is not self.original)
        return out

    async def wait_callback(self, timeout: float = 3.0) -> Json:
        return await self._signal.wait_for(
            lambda: self.callback, timeout, f"the callback of interaction {self.name!r}"
        )

    async def wait_done(self, timeout: float = 5.0) -> InteractionRecord:
        return await self._signal.wait_for(
            lambda: self if self.done_at is not None else None,
            timeout,
            f"an answer to interaction {self.name!r}",
        )

    async def wait_settled(self, timeout: float = 5.0) -> InteractionRecord:
        """Until answered (as ``wait_done``) or expired (a callback refused as too late)."""
        return await self._signal.wait_for(
            lambda: self if self.done_at is not None or self.expired else None,
            timeout,
            f"an answer or expiry of interaction {self.name!r}",
        )

    async def wait_followups(self, count: int = 1, timeout: float = 5.0) -> list[Json]:
        return await self._signal.wait_for(
            lambda: self.followups if len(self.followups) >= count else None,
            timeout,
            f"{count} follow-up(s) to interaction {self.name!r}",
        )

    def _on_callback(self, body: Json, files: list[UploadedFile], now: float) -> None:
        self.callback, self.callback_at = body, now
        self.callback_files = files
        self.files.extend(files)
        if body.get("type") not in (5, 6):  # a defer is not yet an answer
            self.done_at = now

    def _on_answer(self, files: list[UploadedFile], now: float) -> None:
        self.files.extend(files)
        if self.done_at is None:
            self.done_at = now


@dataclass(eq=False)
class GatewaySession:
    """An identified gateway session; it outlives its socket so that RESUME can replay."""

    id: str
    shard: tuple[int, int] | None
    intents: int
    identify: Json = field(repr=False)
    identified_at: float
    seq: int = 0
    log: list[Json] = field(default_factory=list, repr=False)
    conn: GatewayConnection | None = field(default=None, repr=False)
    ready_sent: bool = False
    invalid: bool = False
    resumes: int = 0

    def covers(self, guild_id: int | None) -> bool:
        if self.shard is None:
            return True
        shard_id, count = self.shard
        return shard_id == ((guild_id >> 22) % count if guild_id else 0)


@dataclass(eq=False)
class GatewayConnection:
    """One gateway websocket; frames are sent in sequence order under a lock."""

    ws: web.WebSocketResponse = field(repr=False)
    path: str
    query: dict[str, str]
    opened_at: float
    session: GatewaySession | None = field(default=None, repr=False)
    received: list[Json] = field(default_factory=list, repr=False)
    sent_seq: int = 0
    close_code: int | None = None
    closed_at: float | None = None
    _zlib: Any = field(default=None, repr=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @property
    def compress(self) -> str | None:
        return self.query.get("compress")

    @property
    def open(self) -> bool:
        return self.closed_at is None and not self.ws.closed

    async def send(self, frame: Json) -> None:
        async with self._lock:
            await self._send_locked(frame)

    async def flush(self) -> None:
        """Send every logged dispatch this socket has not sent yet, in order."""
        async with self._lock:
            session = self.session
            while session is not None and session.conn is self and self.sent_seq < session.seq:
                frame = session.log[self.sent_seq]  # log[i] carries s == i + 1
                await self._send_locked(frame)
                self.sent_seq = frame["s"]

    async def _send_locked(self, frame: Json) -> None:
        text = json.dumps(frame, separators=(",", ":"))
        if self._zlib is None:
            await self.ws.send_str(text)
            return
        data = self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
        await self.ws.send_bytes(data)


def _op(op: int, data: Any = None) -> Json:
    return {"op": op, "d": data, "s": None, "t": None}


# --------------------------------------------------------------------------- helpers


async def _read_body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
    """JSON body, or a multipart body's ``payload_json`` plus its ``files[n]`` parts."""
    if request.content_type.startswith("multipart/"):
        payload: Any = None
        files: list[UploadedFile] = []
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "payload_json":
                payload = json.loads(await part.text())
            else:
                data = bytes(await part.read())
                ctype = part.headers.get("Content-Type")
                files.append(UploadedFile(part.name or "", part.filename, ctype, data))
        return payload, files
    raw = await request.read()
    if not raw:
        return None, []
    try:
        return json.loads(raw), []
    except ValueError:
        return raw.decode(errors="replace"), []


def _infer_option_type(value: Any) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    return 3


def _find_option(schema: Sequence[Json], name: str) -> Json | None:
    return next((option for option in schema if option.get("name") == name), None)


def _build_options(
    path: Sequence[str], values: Mapping[str, Any], schema: Sequence[Json], focused: str | None
) -> list[Json]:
    """Interaction ``data.options``: subcommand groups/subcommands nest the leaf options."""
    if path:
        head, *rest = path
        spec = _find_option(schema, head)
        kind = spec["type"] if spec else (2 if rest else 1)
        nested = spec.get("options", []) if spec else []
        return [
            {"name": head, "type": kind, "options": _build_options(rest, values, nested, focused)}
        ]
    built = []
    for name, value in values.items():
        spec = _find_option(schema, name)
        option: Json = {
            "name": name,
            "type": spec["type"] if spec else _infer_option_type(value),
            "value": value,
        }
        if name == focused:
            option["focused"] = True
        built.append(option)
    return built


def _embeds(raw: Any) -> list[Json]:
    return [{**embed, "type": embed.get("type", "rich")} for embed in raw or []]


def _permission_bits(permissions: int | discord.Permissions) -> int:
    return permissions.value if isinstance(permissions, discord.Permissions) else int(permissions)


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- emulator


@dataclass
class _Invocation:
    """Who invokes an interaction, and where."""

    user: UserSpec
    guild: GuildSpec | None
    channel: Json
    roles: Sequence[int]
    permissions: int
    locale: str


class DiscordEmulator:
    """REST + gateway Discord on a random loopback port (see the module docstring)."""

    def __init__(
        self,
        *,
        guilds: Sequence[GuildSpec] | None = None,
        owner: UserSpec | None = None,
        owner_id: int | None = None,
        team: TeamSpec | None = None,
        bot_user: UserSpec | None = None,
        application_id: int | None = None,
        token: str | None = None,
        app_permissions: int = DEFAULT_BOT_PERMISSIONS,
        shard_count: int = 1,
        heartbeat_interval: float = 41.25,
        rest_latency: float = 0.0,
        interaction_deadline: float | None = None,
        compression: bool = True,
        allow_privileged_intents: bool = True,
        history: int | None = None,
    ) -> None:
        self.history = history  # None: keep every record (tests assert on them)
        self.bot_user = bot_user or UserSpec("TuneCluster", bot=True)
        self.application_id = application_id or self.bot_user.id
        self.owner = owner or UserSpec("owner", id=owner_id or new_id())
        self.team = team
        self.token = token or f"emu.{secrets.token_urlsafe(24)}"
        self.default_user = UserSpec("tester")
        self.app_permissions = app_permissions
        self.shard_count = shard_count
        self.heartbeat_interval = heartbeat_interval
        self.rest_latency = rest_latency
        self.interaction_deadline = interaction_deadline
        self.compression = compression
        self.allow_privileged_intents = allow_privileged_intents
        self.application_flags = 0

        self.guilds: dict[int, GuildSpec] = {}
        self._channels: dict[int, Json] = {}
        self._users: dict[int, UserSpec] = {}
        for guild in guilds if guilds is not None else [GuildSpec()]:
            self._add_guild(guild)

        self.requests: list[RestRequest] = []
        self.unhandled: list[RestRequest] = []
        self.sync_calls: list[SyncCall] = []
        self.sessions: list[GatewaySession] = []
        self.connections: list[GatewayConnection] = []
        self.interactions: list[InteractionRecord] = []
        self._commands: dict[int | None, list[Json]] = {}
        self._fake_command_ids: dict[str, int] = {}
        self._interactions: dict[int, InteractionRecord] = {}
        self._by_token: dict[str, InteractionRecord] = {}
        self._channel_messages: dict[int, list[Json]] = {}
        self._messages: dict[int, Json] = {}
        self._attachments: dict[int, bytes] = {}
        self._channel_errors: dict[int, ApiError] = {}
        self._faults: list[_Fault] = []
        self._signal = _Signal()
        self._verify_key = secrets.token_hex(32)
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._saved: tuple[str, yarl.URL] | None = None
        self._installs = 0

    def _add_guild(self, spec: GuildSpec) -> None:
        """Register a copy of a guild, completed the way Discord would describe it: a managed
        role for the bot, and the bot, the owner and ``default_user`` as members."""
        guild = copy.deepcopy(spec)
        guild.owner_id = guild.owner_id or self.owner.id
        bot_role = RoleSpec(self.bot_user.username, self.app_permissions, managed=True)
        guild.roles.append(bot_role)
        members = guild.memberships
        present = {m.user.id for m in members}
        wanted = [
            MemberSpec(self.bot_user, roles=[bot_role.id]),
            MemberSpec(self.owner),
            MemberSpec(self.default_user),
        ]
        guild.members = [*members, *(m for m in wanted if m.user.id not in present)]
        self.guilds[guild.id] = guild
        for member in guild.memberships:
            self._users[member.user.id] = member.user
        for channel in guild.channels:
            self._channels[channel.id] = channel.payload(guild.id)

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> DiscordEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        self._runner = web.AppRunner(self._build_app(), handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        """Close leftover sockets with 4004 (discord.py then stops, never reconnects)."""
        self._installs = min(self._installs, 1)  # every install ends with the emulator
        self.uninstall()
        for conn in self.connections:
            if conn.open:
                await conn.ws.close(code=4004, message=b"emulator stopped")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def http_url(self) -> str:
        if self._port is None:
            raise RuntimeError("the emulator is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        return self.http_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return self.http_url.replace("http://", "ws://", 1) + "/gateway"

    @property
    def resume_gateway_url(self) -> str:
        return self.gateway_url + "/resume"

    def install(self) -> None:
        """Point discord.py's REST base and default gateway here (class attributes).
        Installs nest (two bots at once, a bot restarted beside another): only the
        outermost ``uninstall`` restores what was there before."""
        if self._saved is None:
            self._saved = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
        self._installs += 1
        Route.BASE = self.api_url
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)

    def uninstall(self) -> None:
        """Undo one ``install``; the last one restores what it replaced (a no-op when
        not installed)."""
        self._installs = max(0, self._installs - 1)
        if self._saved is not None and self._installs == 0:
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self._saved
            self._saved = None

    @contextlib.contextmanager
    def installed(self) -> Iterator[DiscordEmulator]:
        self.install()
        try:
            yield self
        finally:
            self.uninstall()

    # ------------------------------------------------------------------ inspection

    def find_requests(
        self, method: str | None = None, path: str | None = None
    ) -> list[RestRequest]:
        """REST calls filtered by method and a regex that must match the whole path."""
        return [
            r
            for r in self.requests
            if (method is None or r.method == method.upper())
            and (path is None or re.fullmatch(path, r.path))
        ]

    def synced_commands(self, guild_id: int | None = None) -> list[Json]:
        """Commands Discord now stores (global when ``guild_id`` is None), with ids added."""
        return copy.deepcopy(self._commands.get(guild_id, []))

    def channel_messages(self, channel_id: int) -> list[Json]:
        """Messages created in a channel through ``POST /channels/{id}/messages`` or by users."""
        return list(self._channel_messages.get(channel_id, []))

    async def wait_channel_message(
        self,
        channel_id: int,
        timeout: float = 5.0,
        *,
        predicate: Callable[[Json], bool] | None = None,
    ) -> Json:
        """The first matching message posted to the channel after this call."""
        start = len(self._channel_messages.get(channel_id, []))
        check = predicate or (lambda message: True)

        def found() -> Json | None:
            new = self._channel_messages.get(channel_id, [])[start:]
            return next((m for m in new if check(m)), None)

        return await self._signal.wait_for(found, timeout, f"a message in channel {channel_id}")

    async def wait_identified(self, timeout: float = 10.0, *, count: int = 1) -> GatewaySession:
        """Until ``count`` sessions got READY and their GUILD_CREATEs; returns the newest."""

        def ready() -> GatewaySession | None:
            done = [s for s in self.sessions if s.ready_sent]
            return done[-1] if len(done) >= count else None

        return await self._signal.wait_for(ready, timeout, f"{count} identified session(s)")

    async def wait_resumed(
        self, timeout: float = 10.0, *, count: int = 1, session: GatewaySession | None = None
    ) -> GatewaySession:
        """Until the (newest live) session has RESUMEd ``count`` times on an open socket."""
        target = session or self._live_session(None)
        return await self._signal.wait_for(
            lambda: target if target.resumes >= count and target.conn else None,
            timeout,
            f"session {target.id} to resume",
        )

    # ------------------------------------------------------------------ fault injection

    def set_channel_error(
        self, channel_id: int, status: int | None, *, code: int | None = None, message: str = ""
    ) -> None:
        """Make ``POST /channels/{id}/messages`` fail (403 Missing Access, 404 Unknown Channel,
        429, 500 presets); ``status=None`` clears it."""
        if status is None:
            self._channel_errors.pop(channel_id, None)
            return
        preset = _STATUS_PRESETS.get(status, ApiError(status, 0, f"{status}: Error"))
        self._channel_errors[channel_id] = ApiError(
            status, preset.code if code is None else code, message or preset.message
        )

    def inject_error(
        self,
        method: str,
        path: str,
        status: int,
        *,
        code: int = 0,
        message: str | None = None,
        times: int | None = 1,
        retry_after: float = 0.05,
    ) -> None:
        """Fail the next ``times`` calls (None: all) whose path fully matches regex ``path``."""
        preset = _STATUS_PRESETS.get(status, ApiError(status, code, f"{status}: Error"))
        error = ApiError(status, code or preset.code, message or preset.message)
        fault = _Fault(method.upper(), re.compile(path), error, times, retry_after)
        self._faults.append(fault)

    def _take_fault(self, method: str, path: str) -> web.Response | None:
        for fault in self._faults:
            if fault.method == method and fault.pattern.fullmatch(path):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return _error_response(fault.error, fault.retry_after)
        return None

    # ------------------------------------------------------------------ driving the bot

    async def send_command(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        user: UserSpec | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        permissions: int | discord.Permissions | None = None,
        roles: Sequence[int] | None = None,
        locale: str = "en-US",
        dm: bool = False,
        resolved: Json | None = None,
    ) -> InteractionRecord:
        """Dispatch a slash command (INTERACTION_CREATE type 2) as ``user`` would invoke it."""
        who = self._invocation(user, guild_id, channel_id, permissions, roles, locale, dm)
        data = self._command_data(name, options or {}, who, None, resolved)
        return await self._dispatch_interaction(APPLICATION_COMMAND, name, who, data)

    async def send_autocomplete(
        self,
        name: str,
        options: Mapping[str, Any],
        *,
        focused: str,
        user: UserSpec | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        permissions: int | discord.Permissions | None = None,
        roles: Sequence[int] | None = None,
        locale: str = "en-US",
        dm: bool = False,
    ) -> InteractionRecord:
        """Dispatch an autocomplete request (type 4) with option ``focused`` being typed."""
        if focused not in options:
            raise ValueError(f"focused option {focused!r} is not among {list(options)}")
        who = self._invocation(user, guild_id, channel_id, permissions, roles, locale, dm)
        data = self._command_data(name, options, who, focused, None)
        return await self._dispatch_interaction(AUTOCOMPLETE, name, who, data)

    async def send_component(
        self,
        message: Json,
        custom_id: str,
        *,
        component_type: int = 2,
        values: Sequence[str] | None = None,
        user: UserSpec | None = None,
        permissions: int | discord.Permissions | None = None,
        roles: Sequence[int] | None = None,
        locale: str = "en-US",
    ) -> InteractionRecord:
        """Dispatch a button click / select (type 3) on a message the bot sent."""
        channel = self._channels.get(int(message["channel_id"]), {})
        guild_id = _as_int(channel.get("guild_id"))
        dm = guild_id is None
        who = self._invocation(
            user, guild_id, int(message["channel_id"]), permissions, roles, locale, dm
        )
        data: Json = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = list(values)
        stored = self._messages.get(int(message["id"]), message)
        return await self._dispatch_interaction(MESSAGE_COMPONENT, custom_id, who, data, stored)

    async def send_user_message(
        self, channel_id: int, content: str, *, user: UserSpec | None = None
    ) -> Json:
        """A user posts in a channel: stored, then MESSAGE_CREATE to the bot."""
        author = (user or self.default_user).payload()
        message = self._new_message(channel_id, {"content": content}, [], author=author)
        self._channel_messages.setdefault(channel_id, []).append(message)
        await self._deliver_message_create(message)
        return message

    async def dispatch_event(self, event: str, data: Json, *, guild_id: int | None = None) -> int:
        """Send any gateway DISPATCH to the session holding ``guild_id``; returns its seq."""
        return await self._dispatch(self._live_session(guild_id), event, data)

    async def request_reconnect(self, session: GatewaySession | None = None) -> None:
        """Send op 7 RECONNECT: discord.py closes the socket and RESUMEs on resume_gateway_url."""
        target = session or self._live_session(None)
        if target.conn is not None:
            await target.conn.send(_op(RECONNECT))

    async def invalidate_session(
        self, session: GatewaySession | None = None, *, resumable: bool = False
    ) -> None:
        """Send op 9 INVALID_SESSION (discord.py re-IDENTIFYs after a 5 s sleep)."""
        target = session or self._live_session(None)
        target.invalid = not resumable
        if target.conn is not None:
            await target.conn.send(_op(INVALID_SESSION, resumable))

    def _live_session(self, guild_id: int | None) -> GatewaySession:
        """The newest valid session holding the guild, preferring one with an open socket
        (a client that closed without ending its session is not where Discord delivers
        while another client is connected)."""
        valid = [s for s in reversed(self.sessions) if not s.invalid and s.covers(guild_id)]
        for session in valid:
            if session.conn is not None and session.conn.open:
                return session
        if valid:
            return valid[0]
        raise RuntimeError("no gateway session: start the client and await wait_identified()")

    def _invocation(
        self,
        user: UserSpec | None,
        guild_id: int | None,
        channel_id: int | None,
        permissions: int | discord.Permissions | None,
        roles: Sequence[int] | None,
        locale: str,
        dm: bool,
    ) -> _Invocation:
        user = user or self.default_user
        self._users.setdefault(user.id, user)
        if dm:
            channel = self._dm_channel(user)
            perms = ALL_PERMISSIONS if permissions is None else _permission_bits(permissions)
            return _Invocation(user, None, channel, (), perms, locale)
        guild = self.guilds.get(guild_id) if guild_id else next(iter(self.guilds.values()))
        if guild is None:
            raise ValueError(f"unknown guild {guild_id}")
        if channel_id is None:
            channel_id = next(c.id for c in guild.channels if c.type in (0, 5))
        if self._channels.get(channel_id, {}).get("guild_id") != str(guild.id):
            raise ValueError(f"channel {channel_id} is not in guild {guild.id}")
        membership = guild.member(user.id)
        if roles is None:
            roles = membership.roles if membership else ()
        if permissions is None:
            perms = self._member_permissions(guild, user, roles)
        else:
            perms = _permission_bits(permissions)
        return _Invocation(user, guild, self._channels[channel_id], roles, perms, locale)

    @staticmethod
    def _member_permissions(guild: GuildSpec, user: UserSpec, roles: Sequence[int]) -> int:
        if user.id == guild.owner_id:
            return ALL_PERMISSIONS
        granted = guild.role_permissions(roles)
        return ALL_PERMISSIONS if granted & ADMINISTRATOR else granted

    def _dm_channel(self, user: UserSpec) -> Json:
        for channel in self._channels.values():
            recipients = channel.get("recipients") or []
            if channel["type"] == 1 and recipients and recipients[0]["id"] == str(user.id):
                return channel
        channel = {"id": str(new_id()), "type": 1, "recipients": [user.payload()]}
        channel["last_message_id"] = None
        self._channels[int(channel["id"])] = channel
        return channel

    def _find_synced(self, name: str, guild_id: int | None) -> tuple[Json | None, int | None]:
        """The synced slash command ``name`` invokes (guild first), and its guild scope."""
        if guild_id is not None:
            for command in self._commands.get(guild_id, []):
                if command["name"] == name and command.get("type", 1) == 1:
                    return command, guild_id
        for command in self._commands.get(None, []):
            if command["name"] == name and command.get("type", 1) == 1:
                return command, None
        return None, None

    def _command_data(
        self,
        name: str,
        options: Mapping[str, Any],
        who: _Invocation,
        focused: str | None,
        resolved: Json | None,
    ) -> Json:
        top, *path = name.split()
        guild_id = who.guild.id if who.guild else None
        command, scope = self._find_synced(top, guild_id)
        if command is not None:
            command_id = int(command["id"])
        else:
            command_id = self._fake_command_ids.setdefault(top, new_id())
        schema = command.get("options", []) if command else []
        data: Json = {
            "id": str(command_id),
            "name": top,
            "type": 1,
            "options": _build_options(path, options, schema, focused),
        }
        if scope is not None:
            data["guild_id"] = str(scope)  # discord.py's tree looks guild commands up by it
        if resolved:
            data["resolved"] = resolved
        return data

    def _interaction_payload(
        self, ix_id: int, token: str, kind: int, who: _Invocation, data: Json
    ) -> Json:
        payload: Json = {
            "id": str(ix_id),
            "application_id": str(self.application_id),
            "type": kind,
            "token": token,
            "version": 1,
            "data": data,
            "channel_id": who.channel["id"],
            "channel": who.channel,
            "app_permissions": str(self.app_permissions),
            "locale": who.locale,
            "entitlements": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }
        if who.guild is None:
            payload.update(
                user=who.user.payload(),
                context=1,
                authorizing_integration_owners={"0": str(who.user.id)},
            )
            return payload
        member = MemberSpec(who.user, who.roles).payload()
        member["permissions"] = str(who.permissions)  # what discord.py permission checks read
        payload.update(
            guild_id=str(who.guild.id),
            guild={"id": str(who.guild.id), "locale": who.guild.locale, "features": []},
            guild_locale=who.guild.locale,
            member=member,
            context=0,
            authorizing_integration_owners={"0": str(who.guild.id)},
        )
        return payload

    async def _dispatch_interaction(
        self, kind: int, name: str, who: _Invocation, data: Json, message: Json | None = None
    ) -> InteractionRecord:
        session = self._live_session(who.guild.id if who.guild else None)
        ix_id, token = new_id(), secrets.token_hex(32)
        payload = self._interaction_payload(ix_id, token, kind, who, data)
        if message is not None:
            payload["message"] = message
        record = InteractionRecord(
            ix_id, token, kind, name, payload, time.perf_counter(), self._signal
        )
        record.component_message = message
        self._interactions[ix_id] = record
        self._by_token[token] = record
        self.interactions.append(record)
        await self._dispatch(session, "INTERACTION_CREATE", payload)
        self._forget_old()
        return record

    def _forget_old(self) -> None:
        """With ``history=N``, keep only the newest N interactions, requests and channel
        messages, and drop the payloads of gateway frames older than 4N: a long
        benchmark in one process then measures the bot, not this emulator's records."""
        keep = self.history
        if keep is None:
            return
        for old in self.interactions[:-keep]:
            self._interactions.pop(old.id, None)
            self._by_token.pop(old.token, None)
            for message in [old.original, *old.followups]:
                if message is not None:
                    self._messages.pop(int(message["id"]), None)
        del self.interactions[:-keep]
        del self.requests[:-keep]
        for messages in self._channel_messages.values():
            del messages[:-keep]
        for session in self.sessions:
            sent = session.conn.sent_seq if session.conn is not None else 0
            stop = min(len(session.log) - 4 * keep, sent)
            for i in range(max(0, stop - 4 * keep), max(0, stop)):
                session.log[i] = None  # type: ignore[call-overload]  # replayed: never needed

    # ------------------------------------------------------------------ payloads

    def _bot_user_payload(self) -> Json:
        user = self.bot_user.payload()
        user.update(bot=True, verified=True, mfa_enabled=False, flags=0, locale="en-US")
        return user

    def _application_payload(self) -> Json:
        app: Json = {
            "id": str(self.application_id),
            "name": self.bot_user.username,
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.team.pseudo_user() if self.team else self.owner.payload(),
            "verify_key": self._verify_key,
            "flags": self.application_flags,
            "summary": "",
            "rpc_origins": [],
            "tags": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": len(self.guilds),
            "bot": self._bot_user_payload(),
            "team": self.team.payload() if self.team else None,
        }
        return app

    def _guild_payload(self, guild: GuildSpec) -> Json:
        """The REST guild object (GUILD_CREATE adds members, channels and more)."""
        everyone = RoleSpec("@everyone", guild.everyone_permissions, id=guild.id, position=0)
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [everyone.payload()] + [role.payload() for role in guild.roles],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "max_members": 500000,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": guild.locale,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
        }

    def _guild_create_payload(self, guild: GuildSpec, intents: int) -> Json:
        """Like Discord, list every member only with the presences intent; otherwise just the
        bot, and discord.py asks for the rest (op 8) when it has the members intent."""
        every = guild.memberships
        bot_id = self.bot_user.id
        listed = [m for m in every if intents & PRESENCES_INTENT or m.user.id == bot_id]
        payload = self._guild_payload(guild)
        payload.update(
            unavailable=False,
            large=False,
            joined_at="2024-01-01T00:00:00+00:00",
            member_count=len(every),
            members=[m.payload() for m in listed],
            channels=[self._channels[c.id] for c in guild.channels],
            threads=[],
            presences=[],
            voice_states=[],
            stage_instances=[],
            guild_scheduled_events=[],
            soundboard_sounds=[],
        )
        return payload

    def _ready_payload(self, session: GatewaySession) -> Json:
        payload: Json = {
            "v": API_VERSION,
            "user": self._bot_user_payload(),
            "guilds": [
                {"id": str(gid), "unavailable": True} for gid in self.guilds if session.covers(gid)
            ],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_gateway_url,
            "application": {"id": str(self.application_id), "flags": self.application_flags},
            "private_channels": [],
            "relationships": [],
            "user_settings": {},
        }
        if session.shard is not None:
            payload["shard"] = list(session.shard)
        return payload

    # ------------------------------------------------------------------ messages

    def _new_message(
        self,
        channel_id: int,
        body: Mapping[str, Any],
        files: list[UploadedFile],
        *,
        author: Json,
        flags: int = 0,
        msg_type: int = 0,
        webhook: bool = False,
    ) -> Json:
        message_id = new_id()
        message: Json = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "author": author,
            "content": body.get("content") or "",
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts")),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": self._make_attachments(channel_id, body, files, []),
            "embeds": _embeds(body.get("embeds")),
            "components": list(body.get("components") or []),
            "pinned": False,
            "type": msg_type,
            "flags": flags | (body.get("flags") or 0),
        }
        if body.get("nonce") is not None:
            message["nonce"] = body["nonce"]
        if webhook:
            message["webhook_id"] = str(self.application_id)
            message["application_id"] = str(self.application_id)
        self._messages[message_id] = message
        return message

    def _edit_message(
        self, message: Json, body: Mapping[str, Any], files: list[UploadedFile]
    ) -> Json:
        """Apply an edit in place; editing a deferred ("thinking") message resolves it."""
        if "content" in body:
            message["content"] = body["content"] or ""
        if "embeds" in body:
            message["embeds"] = _embeds(body["embeds"])
        if "components" in body:
            message["components"] = list(body["components"] or [])
        if files or "attachments" in body:
            channel_id = int(message["channel_id"])
            kept = message["attachments"]
            message["attachments"] = self._make_attachments(channel_id, body, files, kept)
        if message["flags"] & LOADING:
            message["flags"] &= ~LOADING
        else:
            message["edited_timestamp"] = _now_iso()
        return message

    def _make_attachments(
        self,
        channel_id: int,
        body: Mapping[str, Any],
        files: list[UploadedFile],
        existing: list[Json],
    ) -> list[Json]:
        """Keep the existing attachments ``body.attachments`` still lists, add uploads."""
        described = {str(a.get("id")): a for a in body.get("attachments") or []}
        kept = [a for a in existing if a["id"] in described] if "attachments" in body else existing
        added = []
        for position, upload in enumerate(files):
            index = upload.index if upload.index is not None else position
            meta = described.get(str(index), {})
            filename = meta.get("filename") or upload.filename or f"file{index}"
            attachment_id = new_id()
            self._attachments[attachment_id] = upload.data
            url = f"{self.http_url}/attachments/{channel_id}/{attachment_id}/{filename}"
            guessed = mimetypes.guess_type(filename)[0]
            added.append(
                {
                    "id": str(attachment_id),
                    "filename": filename,
                    "description": meta.get("description"),
                    "content_type": guessed or upload.content_type,
                    "size": len(upload.data),
                    "url": url,
                    "proxy_url": url,
                }
            )
        return list(kept) + added

    async def _deliver_message_create(self, message: Json) -> None:
        """MESSAGE_CREATE to the bot when its intents ask for it (content needs its intent)."""
        channel = self._channels.get(int(message["channel_id"]), {})
        guild_id = _as_int(channel.get("guild_id"))
        try:
            session = self._live_session(guild_id)
        except RuntimeError:
            return
        needed = GUILD_MESSAGES_INTENT if guild_id else DM_MESSAGES_INTENT
        if not session.intents & needed:
            return
        event = copy.deepcopy(message)
        from_bot = message["author"]["id"] == str(self.bot_user.id)
        if guild_id:
            event["guild_id"] = str(guild_id)
            member = self.guilds[guild_id].member(int(message["author"]["id"]))
            if member is not None:
                event["member"] = {k: v for k, v in member.payload().items() if k != "user"}
            if not from_bot and not session.intents & MESSAGE_CONTENT_INTENT:
                event.update(content="", embeds=[], attachments=[], components=[])
        await self._dispatch(session, "MESSAGE_CREATE", event)

    # ------------------------------------------------------------------ REST plumbing

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        routes: list[tuple[str, str, Callable[[web.Request], Any]]] = [
            ("GET", "/users/@me", self._get_me),
            ("POST", "/users/@me/channels", self._create_dm),
            ("GET", "/users/{user_id}", self._get_user),
            ("GET", "/oauth2/applications/@me", self._get_application),
            ("GET", "/applications/@me", self._get_application),
            ("GET", "/gateway", self._get_gateway),
            ("GET", "/gateway/bot", self._get_gateway_bot),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self._post_callback),
            ("POST", "/webhooks/{app_id}/{token}", self._post_webhook),
            ("GET", "/channels/{channel_id}", self._get_channel),
            ("POST", "/channels/{channel_id}/messages", self._post_channel_message),
            ("POST", "/channels/{channel_id}/typing", self._post_typing),
            ("GET", "/guilds/{guild_id}", self._get_guild),
            ("GET", "/guilds/{guild_id}/channels", self._get_guild_channels),
            ("GET", "/guilds/{guild_id}/roles", self._get_guild_roles),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member),
        ]
        for scope in ("/applications/{app_id}", "/applications/{app_id}/guilds/{guild_id}"):
            routes += [
                ("GET", scope + "/commands", self._get_commands),
                ("PUT", scope + "/commands", self._put_commands),
                ("POST", scope + "/commands", self._post_command),
            ]
        for method in ("GET", "PATCH", "DELETE"):
            routes += [
                (method, "/webhooks/{app_id}/{token}/messages/{message_id}", self._webhook_message),
                (method, "/channels/{channel_id}/messages/{message_id}", self._channel_message),
            ]
        for method, path, handler in routes:
            app.router.add_route(method, API_PREFIX + path, handler)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/gateway/resume", self._gateway)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._attachment)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Record every REST call, then apply latency, injected faults and the token check."""
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        body, files = await _read_body(request)
        record = RestRequest(
            method=request.method,
            path=request.path[len(API_PREFIX) :],
            query=dict(request.query),
            json=body,
            files=files,
            at=time.perf_counter(),
            headers=dict(request.headers),
        )
        self.requests.append(record)
        request[_BODY], request[_FILES] = body, files
        if self.rest_latency > 0:
            await asyncio.sleep(self.rest_latency)
        response = self._take_fault(record.method, record.path) or self._check_auth(request, record)
        if response is None:
            try:
                response = await handler(request)
            except web.HTTPException as exc:  # no route (404) or wrong method (405)
                self.unhandled.append(record)
                response = _error_response(ApiError(exc.status, 0, f"{exc.status}: {exc.reason}"))
        record.status = response.status
        self._signal.fire()
        return response

    def _check_auth(self, request: web.Request, record: RestRequest) -> web.Response | None:
        """Bot-token auth, except for the token-in-URL webhook and interaction routes."""
        if record.path.startswith(("/webhooks/", "/interactions/")):
            return None
        if request.headers.get("Authorization") != f"Bot {self.token}":
            return _error_response(UNAUTHORIZED)
        return None

    # ------------------------------------------------------------------ REST: login, users

    async def _get_me(self, request: web.Request) -> web.Response:
        return _json_response(self._bot_user_payload())

    async def _get_user(self, request: web.Request) -> web.Response:
        user = self._users.get(_as_int(request.match_info["user_id"]) or 0)
        return _json_response(user.payload()) if user else _error_response(UNKNOWN_USER)

    async def _create_dm(self, request: web.Request) -> web.Response:
        body = request[_BODY] if isinstance(request[_BODY], dict) else {}
        user = self._users.get(_as_int(body.get("recipient_id")) or 0)
        if user is None:
            return _error_response(UNKNOWN_USER)
        return _json_response(self._dm_channel(user))

    async def _get_application(self, request: web.Request) -> web.Response:
        return _json_response(self._application_payload())

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return _json_response({"url": self.gateway_url})

    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 1000, "reset_after": 86_400_000, "max_concurrency": 1}
        limit["remaining"] -= len(self.sessions)
        data = {"url": self.gateway_url, "shards": self.shard_count, "session_start_limit": limit}
        return _json_response(data)

    # ------------------------------------------------------------------ REST: commands

    def _command_scope(self, request: web.Request) -> tuple[int | None, web.Response | None]:
        if _as_int(request.match_info["app_id"]) != self.application_id:
            return None, _error_response(UNKNOWN_APPLICATION)
        raw_guild = request.match_info.get("guild_id")
        if raw_guild is None:
            return None, None
        guild_id = _as_int(raw_guild)
        if guild_id not in self.guilds:
            return None, _error_response(MISSING_ACCESS)
        return guild_id, None

    def _stored_command(self, scope: int | None, command: Json, previous: Json | None) -> Json:
        """Echo a command as Discord stores it; a same-name command keeps its id."""
        stored = copy.deepcopy(command)
        stored.setdefault("type", 1)
        stored.setdefault("description", "")
        stored.update(
            id=previous["id"] if previous else str(new_id()),
            application_id=str(self.application_id),
            version=str(new_id()),
        )
        if scope is not None:
            stored["guild_id"] = str(scope)
        return stored

    async def _get_commands(self, request: web.Request) -> web.Response:
        scope, error = self._command_scope(request)
        return error or _json_response(self._commands.get(scope, []))

    async def _put_commands(self, request: web.Request) -> web.Response:
        scope, error = self._command_scope(request)
        if error:
            return error
        body = request[_BODY]
        if not isinstance(body, list) or not all(isinstance(c, dict) and "name" in c for c in body):
            return _error_response(INVALID_FORM)
        self.sync_calls.append(SyncCall(scope, copy.deepcopy(body), time.perf_counter()))
        old = {(c["name"], c["type"]): c for c in self._commands.get(scope, [])}
        stored = [
            self._stored_command(scope, c, old.get((c["name"], c.get("type", 1)))) for c in body
        ]
        self._commands[scope] = stored
        return _json_response(stored)

    async def _post_command(self, request: web.Request) -> web.Response:
        scope, error = self._command_scope(request)
        if error:
            return error
        body = request[_BODY]
        if not isinstance(body, dict) or "name" not in body:
            return _error_response(INVALID_FORM)
        current = self._commands.setdefault(scope, [])
        key = (body["name"], body.get("type", 1))
        previous = next((c for c in current if (c["name"], c["type"]) == key), None)
        stored = self._stored_command(scope, body, previous)
        if previous is not None:
            current[current.index(previous)] = stored
        else:
            current.append(stored)
        return _json_response(stored, 200 if previous else 201)

    # ------------------------------------------------------------------ REST: interactions

    async def _post_callback(self, request: web.Request) -> web.Response:
        """The initial response; always answers JSON (discord.py fails on an empty 204)."""
        ix = self._interactions.get(_as_int(request.match_info["interaction_id"]) or 0)
        if ix is None or ix.token != request.match_info["token"]:
            return _error_response(UNKNOWN_INTERACTION)
        now = time.perf_counter()
        deadline = self.interaction_deadline
        if deadline is not None and now - ix.dispatched_at > deadline:
            ix.expired = True
            return _error_response(UNKNOWN_INTERACTION)
        if ix.callback is not None:
            return _error_response(ALREADY_ACKNOWLEDGED)
        body, files = request[_BODY], request[_FILES]
        if not isinstance(body, dict) or not isinstance(body.get("type"), int):
            return _error_response(INVALID_FORM)
        message = self._apply_callback(ix, body, files)
        ix._on_callback(body, files, now)
        return _json_response(self._callback_response(ix, body["type"], message))

    def _apply_callback(self, ix: InteractionRecord, body: Json, files: list[UploadedFile]):
        """Create or update the response message a callback implies."""
        kind, data = body["type"], body.get("data") or {}
        author = self._bot_user_payload()
        msg_type = 20 if ix.type == APPLICATION_COMMAND else 0
        if kind == 4:
            ix.original = self._new_message(
                ix.channel_id, data, files, author=author, msg_type=msg_type, webhook=True
            )
        elif kind == 5:
            flags = LOADING | ((data.get("flags") or 0) & EPHEMERAL)
            ix.original = self._new_message(
                ix.channel_id, {}, [], author=author, flags=flags, msg_type=msg_type, webhook=True
            )
        elif kind in (6, 7) and ix.component_message is not None:
            ix.original = ix.component_message
            if kind == 7:
                self._edit_message(ix.original, data, files)
        return ix.original if kind in (4, 5, 7) else None

    @staticmethod
    def _callback_response(ix: InteractionRecord, kind: int, message: Json | None) -> Json:
        interaction: Json = {
            "id": str(ix.id),
            "type": ix.type,
            "response_message_loading": kind == 5,
            "response_message_ephemeral": bool(message and message["flags"] & EPHEMERAL),
        }
        if message is not None:
            interaction["response_message_id"] = message["id"]
            return {"interaction": interaction, "resource": {"type": kind, "message": message}}
        return {"interaction": interaction}

    def _webhook_interaction(self, request: web.Request) -> InteractionRecord | None:
        """The interaction behind a webhook token; usable only once acknowledged."""
        if _as_int(request.match_info["app_id"]) != self.application_id:
            return None
        ix = self._by_token.get(request.match_info["token"])
        return ix if ix is not None and ix.callback is not None else None

    async def _post_webhook(self, request: web.Request) -> web.Response:
        """A follow-up; the first one after a type-5 defer replaces the "thinking" message
        (unless that was deleted: then it is a message of its own, with its own flags)."""
        ix = self._webhook_interaction(request)
        if ix is None:
            return _error_response(UNKNOWN_WEBHOOK)
        body = request[_BODY] if isinstance(request[_BODY], dict) else {}
        files = request[_FILES]
        if ix.original is not None and not ix.original_deleted and ix.original["flags"] & LOADING:
            message = self._edit_message(ix.original, body, files)
        else:
            author = self._bot_user_payload()
            message = self._new_message(ix.channel_id, body, files, author=author, webhook=True)
        ix.followups.append(message)
        ix._on_answer(files, time.perf_counter())
        if request.query.get("wait", "").lower() in ("1", "true"):
            return _json_response(message)
        return _no_content()

    async def _webhook_message(self, request: web.Request) -> web.Response:
        """GET / PATCH / DELETE of ``@original`` or of a follow-up."""
        ix = self._webhook_interaction(request)
        if ix is None:
            return _error_response(UNKNOWN_WEBHOOK)
        wanted = request.match_info["message_id"]
        if wanted == "@original":
            message = None if ix.original_deleted else ix.original
        else:
            message = next((m for m in ix.followups if m["id"] == wanted), None)
        if message is None:
            return _error_response(UNKNOWN_MESSAGE)
        if request.method == "GET":
            return _json_response(message)
        if request.method == "DELETE":
            if message is ix.original:
                ix.original_deleted = True
            else:
                ix.followups.remove(message)
            self._messages.pop(int(message["id"]), None)
            return _no_content()
        body = request[_BODY] if isinstance(request[_BODY], dict) else {}
        ix.edits.append(body)
        self._edit_message(message, body, request[_FILES])
        ix._on_answer(request[_FILES], time.perf_counter())
        return _json_response(message)

    # ------------------------------------------------------------------ REST: channels, guilds

    async def _get_channel(self, request: web.Request) -> web.Response:
        channel = self._channels.get(_as_int(request.match_info["channel_id"]) or 0)
        return _json_response(channel) if channel else _error_response(UNKNOWN_CHANNEL)

    async def _post_channel_message(self, request: web.Request) -> web.Response:
        channel_id = _as_int(request.match_info["channel_id"]) or 0
        if channel_id in self._channel_errors:
            return _error_response(self._channel_errors[channel_id])
        if channel_id not in self._channels:
            return _error_response(UNKNOWN_CHANNEL)
        body = request[_BODY] if isinstance(request[_BODY], dict) else {}
        files = request[_FILES]
        keys = ("content", "embeds", "components", "sticker_ids", "poll")
        if not files and not any(body.get(key) for key in keys):
            return _error_response(EMPTY_MESSAGE)
        author = self._bot_user_payload()
        message = self._new_message(channel_id, body, files, author=author)
        self._channel_messages.setdefault(channel_id, []).append(message)
        await self._deliver_message_create(message)
        return _json_response(message)

    async def _channel_message(self, request: web.Request) -> web.Response:
        """GET / PATCH / DELETE of a message in a channel."""
        channel_id = _as_int(request.match_info["channel_id"]) or 0
        message = self._messages.get(_as_int(request.match_info["message_id"]) or 0)
        if message is None or message["channel_id"] != str(channel_id):
            return _error_response(UNKNOWN_MESSAGE)
        if request.method == "GET":
            return _json_response(message)
        if request.method == "DELETE":
            self._messages.pop(int(message["id"]))
            listed = self._channel_messages.get(channel_id, [])
            if message in listed:
                listed.remove(message)
            return _no_content()
        body = request[_BODY] if isinstance(request[_BODY], dict) else {}
        return _json_response(self._edit_message(message, body, request[_FILES]))

    async def _post_typing(self, request: web.Request) -> web.Response:
        return _no_content()

    def _request_guild(self, request: web.Request) -> GuildSpec | None:
        return self.guilds.get(_as_int(request.match_info["guild_id"]) or 0)

    async def _get_guild(self, request: web.Request) -> web.Response:
        guild = self._request_guild(request)
        return (
            _json_response(self._guild_payload(guild)) if guild else _error_response(UNKNOWN_GUILD)
        )

    async def _get_guild_channels(self, request: web.Request) -> web.Response:
        guild = self._request_guild(request)
        if guild is None:
            return _error_response(UNKNOWN_GUILD)
        return _json_response([self._channels[c.id] for c in guild.channels])

    async def _get_guild_roles(self, request: web.Request) -> web.Response:
        guild = self._request_guild(request)
        if guild is None:
            return _error_response(UNKNOWN_GUILD)
        return _json_response(self._guild_payload(guild)["roles"])

    async def _get_member(self, request: web.Request) -> web.Response:
        guild = self._request_guild(request)
        if guild is None:
            return _error_response(UNKNOWN_GUILD)
        member = guild.member(_as_int(request.match_info["user_id"]) or 0)
        return _json_response(member.payload()) if member else _error_response(UNKNOWN_MEMBER)

    async def _attachment(self, request: web.Request) -> web.Response:
        data = self._attachments.get(_as_int(request.match_info["attachment_id"]) or 0)
        if data is None:
            return web.Response(status=404)
        ctype = mimetypes.guess_type(request.match_info["filename"])[0]
        return web.Response(body=data, content_type=ctype or "application/octet-stream")

    # ------------------------------------------------------------------ gateway

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        """One gateway socket: HELLO, then answer the client's opcodes until it closes."""
        if request.query.get("encoding", "json") != "json":
            return web.Response(status=400, text="the emulator speaks encoding=json only")
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = GatewayConnection(ws, request.path, dict(request.query), time.perf_counter())
        if self.compression and conn.compress == "zlib-stream":
            conn._zlib = zlib.compressobj()
        self.connections.append(conn)
        try:
            await conn.send(_op(HELLO, {"heartbeat_interval": int(self.heartbeat_interval * 1000)}))
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    await ws.close(code=4002, message=b"Decode error")
                    break
                await self._on_frame(conn, msg.data)
        except ConnectionResetError:
            pass  # the client vanished mid-send; the session stays resumable
        finally:
            self._on_socket_closed(conn)
        return ws

    async def _on_frame(self, conn: GatewayConnection, text: str) -> None:
        try:
            frame = json.loads(text)
        except ValueError:
            await conn.ws.close(code=4002, message=b"Decode error")
            return
        conn.received.append(frame)
        op, data = frame.get("op"), frame.get("d")
        if op == HEARTBEAT:
            await conn.send(_op(HEARTBEAT_ACK))
        elif op == IDENTIFY:
            await self._identify(conn, data or {})
        elif op == RESUME:
            await self._resume(conn, data or {})
        elif conn.session is None:
            await conn.ws.close(code=4003, message=b"Not authenticated")
        elif op == REQUEST_MEMBERS:
            await self._request_members(conn.session, data or {})
        elif op not in (PRESENCE, VOICE_STATE):
            await conn.ws.close(code=4001, message=b"Unknown opcode")
        self._signal.fire()

    def _on_socket_closed(self, conn: GatewayConnection) -> None:
        conn.close_code = conn.ws.close_code
        conn.closed_at = time.perf_counter()
        session = conn.session
        if session is not None and session.conn is conn:
            session.conn = None
            if conn.close_code in (1000, 1001):  # a clean close ends the session
                session.invalid = True
        self._signal.fire()

    async def _identify(self, conn: GatewayConnection, data: Json) -> None:
        shard = data.get("shard")
        intents = int(data.get("intents") or 0)
        if conn.session is not None:
            await conn.ws.close(code=4005, message=b"Already authenticated")
        elif data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed")
        elif shard is not None and not (
            isinstance(shard, list) and len(shard) == 2 and 0 <= shard[0] < shard[1]
        ):
            await conn.ws.close(code=4010, message=b"Invalid shard")
        elif intents & PRIVILEGED_INTENTS and not self.allow_privileged_intents:
            await conn.ws.close(code=4014, message=b"Disallowed intent(s)")
        else:
            await self._start_session(conn, data, tuple(shard) if shard else None, intents)

    async def _start_session(
        self, conn: GatewayConnection, data: Json, shard: tuple[int, int] | None, intents: int
    ) -> None:
        session = GatewaySession(
            secrets.token_hex(16), shard, intents, data, time.perf_counter(), conn=conn
        )
        conn.session = session
        self.sessions.append(session)
        await self._dispatch(session, "READY", self._ready_payload(session))
        for guild in self.guilds.values():
            if session.covers(guild.id):
                await self._dispatch(
                    session, "GUILD_CREATE", self._guild_create_payload(guild, intents)
                )
        session.ready_sent = True

    async def _resume(self, conn: GatewayConnection, data: Json) -> None:
        """Replay what the client missed since ``seq``, then RESUMED; else INVALID_SESSION."""
        session = next((s for s in self.sessions if s.id == data.get("session_id")), None)
        if session is None or session.invalid or data.get("token") != self.token:
            await conn.send(_op(INVALID_SESSION, False))
            return
        previous = session.conn
        session.conn, conn.session = conn, session
        conn.sent_seq = max(0, min(int(data.get("seq") or 0), session.seq))
        session.resumes += 1
        if previous is not None and previous.open:
            await previous.ws.close(code=4000, message=b"Session resumed elsewhere")
        await self._dispatch(session, "RESUMED", {})

    async def _request_members(self, session: GatewaySession, data: Json) -> None:
        guild = self.guilds.get(_as_int(data.get("guild_id")) or 0)
        if guild is None:
            return
        wanted = {int(uid) for uid in data.get("user_ids") or []}
        query = (data.get("query") or "").lower()
        found = [
            m
            for m in guild.memberships
            if (m.user.id in wanted if wanted else m.user.username.lower().startswith(query))
        ]
        if data.get("limit"):
            found = found[: data["limit"]]
        chunk: Json = {
            "guild_id": str(guild.id),
            "members": [m.payload() for m in found],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [str(uid) for uid in wanted - {m.user.id for m in found}],
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await self._dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)

    async def _dispatch(self, session: GatewaySession, event: str, data: Json) -> int:
        """Log a DISPATCH under the next seq and send it if the session has a socket.

        A send that fails leaves the frame in the log: the client RESUMEs and gets it replayed.
        """
        session.seq += 1
        frame = {"op": DISPATCH, "t": event, "s": session.seq, "d": copy.deepcopy(data)}
        session.log.append(frame)  # a snapshot: a RESUME replays what was sent, not later edits
        seq = session.seq
        if session.conn is not None:
            with contextlib.suppress(ConnectionResetError):
                await session.conn.flush()
        self._signal.fire()
        return seq
