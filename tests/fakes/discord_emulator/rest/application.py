"""REST routes discord.py calls to start: the application (its owner) and the gateway.

Why: ``is_owner`` checks read the application's owner or team, and ``AutoShardedClient``
takes its shard count and gateway URL from ``GET /gateway/bot``.
"""

from __future__ import annotations

from aiohttp import web

from tests.fakes.discord_emulator.payloads import application_payload
from tests.fakes.discord_emulator.responses import json_response
from tests.fakes.discord_emulator.rest.base import RouteFamily


class ApplicationRoutes(RouteFamily):
    """``/applications/@me`` (and its oauth2 alias), ``/gateway``, ``/gateway/bot``."""

    async def get_application(self, request: web.Request) -> web.Response:
        return json_response(application_payload(self.state))

    async def get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.state.gateway_url})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        """The shard count a test set, and a session budget spent by each IDENTIFY."""
        limit = {"total": 1000, "remaining": 1000, "reset_after": 86_400_000, "max_concurrency": 1}
        limit["remaining"] -= len(self.state.sessions)
        state = self.state
        data = {"url": state.gateway_url, "shards": state.shard_count, "session_start_limit": limit}
        return json_response(data)
