"""REST routes for who is who: the bot itself, other users, DM channels.

Why: discord.py fetches ``/users/@me`` at login, and the bot opens a DM channel before
it can message a user directly.
"""

from __future__ import annotations

from aiohttp import web

from tests.fakes.discord_emulator.payloads import bot_user_payload
from tests.fakes.discord_emulator.protocol import as_int
from tests.fakes.discord_emulator.responses import UNKNOWN_USER, error_response, json_response
from tests.fakes.discord_emulator.rest.base import RouteFamily, body_object


class UserRoutes(RouteFamily):
    """``/users/...``: the bot, other users, DM channels."""

    async def get_me(self, request: web.Request) -> web.Response:
        return json_response(bot_user_payload(self.state))

    async def get_user(self, request: web.Request) -> web.Response:
        user = self.state.users.get(as_int(request.match_info["user_id"]) or 0)
        return json_response(user.payload()) if user else error_response(UNKNOWN_USER)

    async def create_dm(self, request: web.Request) -> web.Response:
        user = self.state.users.get(as_int(body_object(request).get("recipient_id")) or 0)
        if user is None:
            return error_response(UNKNOWN_USER)
        return json_response(self.state.dm_channel(user))
