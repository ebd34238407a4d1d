"""The aiohttp application: every REST route in one table, the gateway, the middleware.

Why one table: the whole API the emulator answers reads at a glance, in the order routes
match; the handlers live in their families' modules. Why a middleware: every REST call is recorded (``requests``) before anything can refuse
it, and latency, injected faults and the token check then apply to every route alike.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from aiohttp import web

from tests.fakes.discord_emulator.gateway import Gateway
from tests.fakes.discord_emulator.protocol import API_PREFIX
from tests.fakes.discord_emulator.records import RestRequest
from tests.fakes.discord_emulator.responses import UNAUTHORIZED, ApiError, error_response
from tests.fakes.discord_emulator.rest.application import ApplicationRoutes
from tests.fakes.discord_emulator.rest.base import BODY, FILES, Handler, read_body
from tests.fakes.discord_emulator.rest.channels import ChannelRoutes
from tests.fakes.discord_emulator.rest.commands import CommandRoutes
from tests.fakes.discord_emulator.rest.guilds import GuildRoutes
from tests.fakes.discord_emulator.rest.interactions import InteractionRoutes
from tests.fakes.discord_emulator.rest.users import UserRoutes

if TYPE_CHECKING:
    from tests.fakes.discord_emulator.state import DiscordState

Route = tuple[str, str, Handler]  # method, path below API_PREFIX, handler
ATTACHMENT_PATH = "/attachments/{channel_id}/{attachment_id}/{filename}"
MESSAGE_METHODS = ("GET", "PATCH", "DELETE")  # a message route takes all three
COMMAND_SCOPES = ("/applications/{app_id}", "/applications/{app_id}/guilds/{guild_id}")


def build_app(state: DiscordState) -> web.Application:
    """The REST API under ``API_PREFIX``, the gateway sockets, the attachment downloads."""
    app = web.Application(middlewares=[_Middleware(state).handle], client_max_size=64 * 1024 * 1024)
    channels = ChannelRoutes(state)
    for method, path, handler in _api_routes(state, channels):
        app.router.add_route(method, API_PREFIX + path, handler)
    gateway = Gateway(state)
    app.router.add_get("/gateway", gateway.handle)
    app.router.add_get("/gateway/resume", gateway.handle)
    app.router.add_get(ATTACHMENT_PATH, channels.download_attachment)
    return app


def _api_routes(state: DiscordState, channels: ChannelRoutes) -> list[Route]:
    """Every REST route the emulator answers (the rest is recorded as ``unhandled``)."""
    users, app = UserRoutes(state), ApplicationRoutes(state)
    answers, guilds, commands = InteractionRoutes(state), GuildRoutes(state), CommandRoutes(state)
    routes: list[Route] = [
        ("GET", "/users/@me", users.get_me),
        ("POST", "/users/@me/channels", users.create_dm),
        ("GET", "/users/{user_id}", users.get_user),
        ("GET", "/oauth2/applications/@me", app.get_application),
        ("GET", "/applications/@me", app.get_application),
        ("GET", "/gateway", app.get_gateway),
        ("GET", "/gateway/bot", app.get_gateway_bot),
        ("POST", "/interactions/{interaction_id}/{token}/callback", answers.post_callback),
        ("POST", "/webhooks/{app_id}/{token}", answers.post_followup),
        ("GET", "/channels/{channel_id}", channels.get_channel),
        ("POST", "/channels/{channel_id}/messages", channels.post_message),
        ("POST", "/channels/{channel_id}/typing", channels.post_typing),
        ("GET", "/guilds/{guild_id}", guilds.get_guild),
        ("GET", "/guilds/{guild_id}/channels", guilds.get_channels),
        ("GET", "/guilds/{guild_id}/roles", guilds.get_roles),
        ("GET", "/guilds/{guild_id}/members/{user_id}", guilds.get_member),
    ]
    for scope in COMMAND_SCOPES:
        routes += [
            ("GET", scope + "/commands", commands.get_commands),
            ("PUT", scope + "/commands", commands.put_commands),
            ("POST", scope + "/commands", commands.post_command),
        ]
    for method in MESSAGE_METHODS:
        routes += [
            (method, "/webhooks/{app_id}/{token}/messages/{message_id}", answers.webhook_message),
            (method, "/channels/{channel_id}/messages/{message_id}", channels.channel_message),
        ]
    return routes


class _Middleware:
    """Record every REST call, then apply latency, injected faults and the token check."""

    def __init__(self, state: DiscordState) -> None:
        self.state = state

    @web.middleware
    async def handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        record = await self._record(request)
        if self.state.rest_latency > 0:
            await asyncio.sleep(self.state.rest_latency)
        refusal = self.state.faults.take(record.method, record.path) or self._check_auth(
            request, record
        )
        response = refusal or await self._answer(request, handler, record)
        record.status = response.status
        self.state.signal.fire()
        return response

    async def _record(self, request: web.Request) -> RestRequest:
        """Keep the call as received; the parsed body stays on the request for the handler."""
        body, files = await read_body(request)
        record = RestRequest(
            method=request.method,
            path=request.path[len(API_PREFIX) :],
            query=dict(request.query),
            json=body,
            files=files,
            at=time.perf_counter(),
            headers=dict(request.headers),
        )
        self.state.requests.append(record)
        request[BODY], request[FILES] = body, files
        return record

    async def _answer(
        self, request: web.Request, handler: Handler, record: RestRequest
    ) -> web.StreamResponse:
        """The route's answer, or Discord's error body when no route takes the call."""
        try:
            return await handler(request)
        except web.HTTPException as exc:  # no route (404) or wrong method (405)
            self.state.unhandled.append(record)
            return error_response(ApiError(exc.status, 0, f"{exc.status}: {exc.reason}"))

    def _check_auth(self, request: web.Request, record: RestRequest) -> web.Response | None:
        """Bot-token auth, except for the token-in-URL webhook and interaction routes."""
        if record.path.startswith(("/webhooks/", "/interactions/")):
            return None
        if request.headers.get("Authorization") != f"Bot {self.state.token}":
            return error_response(UNAUTHORIZED)
        return None
