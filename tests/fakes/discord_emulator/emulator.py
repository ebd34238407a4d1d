"""``DiscordEmulator``: the loopback Discord a test starts, installs and drives.

Why a facade over ``DiscordState``: tests see one object with the whole API (see the
package docstring), while the routes, the gateway and the payload builders live in
modules of their own and reach only the state.
"""

# The wait_* helpers take ``timeout=`` on purpose: tests read better than with asyncio.timeout.
# ruff: noqa: ASYNC109

from __future__ import annotations

import contextlib
import copy
import re
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Unpack

import discord
import yarl
from aiohttp import web
from discord.gateway import DiscordWebSocket
from discord.http import Route

from tests.fakes.discord_emulator.faults import Fault, preset_error
from tests.fakes.discord_emulator.invocations import Where, dispatch_interaction, resolve_invocation
from tests.fakes.discord_emulator.messages import post_message
from tests.fakes.discord_emulator.options import command_data
from tests.fakes.discord_emulator.protocol import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    INVALID_SESSION,
    MESSAGE_COMPONENT,
    RECONNECT,
    Json,
    as_int,
)
from tests.fakes.discord_emulator.records import InteractionRecord, RestRequest
from tests.fakes.discord_emulator.rest.app import build_app
from tests.fakes.discord_emulator.sessions import GatewaySession, op
from tests.fakes.discord_emulator.specs import UserSpec
from tests.fakes.discord_emulator.state import DiscordState


class DiscordEmulator(DiscordState):
    """REST + gateway Discord on a random loopback port (see the package docstring)."""

    _runner: web.AppRunner | None = None
    _saved: tuple[str, yarl.URL] | None = None  # what install() replaced
    _installs = 0

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> DiscordEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Serve on a free loopback port (bound here, so two emulators never collide)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._runner = web.AppRunner(build_app(self), handle_signals=False, access_log=None)
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
        """``install`` for the ``with`` block."""
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
        return copy.deepcopy(self.commands.get(guild_id, []))

    def channel_messages(self, channel_id: int) -> list[Json]:
        """Messages created in a channel through ``POST /channels/{id}/messages`` or by users."""
        return list(self.messages_by_channel.get(channel_id, []))

    async def wait_channel_message(
        self,
        channel_id: int,
        timeout: float = 5.0,
        *,
        predicate: Callable[[Json], bool] | None = None,
    ) -> Json:
        """The first matching message posted to the channel after this call."""
        start = len(self.messages_by_channel.get(channel_id, []))
        check = predicate or (lambda message: True)

        def found() -> Json | None:
            new = self.messages_by_channel.get(channel_id, [])[start:]
            return next((m for m in new if check(m)), None)

        return await self.signal.wait_for(found, timeout, f"a message in channel {channel_id}")

    async def wait_identified(self, timeout: float = 10.0, *, count: int = 1) -> GatewaySession:
        """Until ``count`` sessions got READY and their GUILD_CREATEs; returns the newest."""

        def ready() -> GatewaySession | None:
            done = [s for s in self.sessions if s.ready_sent]
            return done[-1] if len(done) >= count else None

        return await self.signal.wait_for(ready, timeout, f"{count} identified session(s)")

    async def wait_resumed(
        self, timeout: float = 10.0, *, count: int = 1, session: GatewaySession | None = None
    ) -> GatewaySession:
        """Until the (newest live) session has RESUMEd ``count`` times on an open socket."""
        target = session or self.live_session(None)
        return await self.signal.wait_for(
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
            self.faults.channels.pop(channel_id, None)
        else:
            self.faults.channels[channel_id] = preset_error(status, code, message)

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
        error = preset_error(status, code or None, message)  # code 0: the preset's
        fault = Fault(method.upper(), re.compile(path), error, times, retry_after)
        self.faults.injected.append(fault)

    # ------------------------------------------------------------------ driving the bot

    async def send_command(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        resolved: Json | None = None,
        **where: Unpack[Where],
    ) -> InteractionRecord:
        """Dispatch a slash command (INTERACTION_CREATE type 2) as ``user`` would invoke it;
        ``where``: ``user``, ``guild_id``, ``channel_id``, ``permissions``, ``roles``,
        ``locale``, ``dm`` (see ``Where``)."""
        who = resolve_invocation(self, where)
        data = command_data(self, name, options or {}, who.guild_id, None, resolved)
        return await dispatch_interaction(self, APPLICATION_COMMAND, name, who, data)

    async def send_autocomplete(
        self, name: str, options: Mapping[str, Any], *, focused: str, **where: Unpack[Where]
    ) -> InteractionRecord:
        """Dispatch an autocomplete request (type 4) with option ``focused`` being typed;
        ``where`` as for ``send_command``."""
        if focused not in options:
            raise ValueError(f"focused option {focused!r} is not among {list(options)}")
        who = resolve_invocation(self, where)
        data = command_data(self, name, options, who.guild_id, focused, None)
        return await dispatch_interaction(self, AUTOCOMPLETE, name, who, data)

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
        channel_id = int(message["channel_id"])
        guild_id = as_int(self.channels.get(channel_id, {}).get("guild_id"))
        who = resolve_invocation(
            self,
            Where(
                user=user,
                guild_id=guild_id,
                channel_id=channel_id,
                permissions=permissions,
                roles=roles,
                locale=locale,
                dm=guild_id is None,
            ),
        )
        data: Json = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = list(values)
        stored = self.messages.get(int(message["id"]), message)
        return await dispatch_interaction(self, MESSAGE_COMPONENT, custom_id, who, data, stored)

    async def send_user_message(
        self, channel_id: int, content: str, *, user: UserSpec | None = None
    ) -> Json:
        """A user posts in a channel: stored, then MESSAGE_CREATE to the bot."""
        author = (user or self.default_user).payload()
        return await post_message(self, channel_id, {"content": content}, [], author)

    async def dispatch_event(self, event: str, data: Json, *, guild_id: int | None = None) -> int:
        """Send any gateway DISPATCH to the session holding ``guild_id``; returns its seq."""
        return await self.dispatch(self.live_session(guild_id), event, data)

    async def request_reconnect(self, session: GatewaySession | None = None) -> None:
        """Send op 7 RECONNECT: discord.py closes the socket and RESUMEs on resume_gateway_url."""
        target = session or self.live_session(None)
        if target.conn is not None:
            await target.conn.send(op(RECONNECT))

    async def invalidate_session(
        self, session: GatewaySession | None = None, *, resumable: bool = False
    ) -> None:
        """Send op 9 INVALID_SESSION (discord.py re-IDENTIFYs after a 5 s sleep)."""
        target = session or self.live_session(None)
        target.invalid = not resumable
        if target.conn is not None:
            await target.conn.send(op(INVALID_SESSION, resumable))
