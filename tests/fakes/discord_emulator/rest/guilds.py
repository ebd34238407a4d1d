"""REST routes for guilds: the guild, its channels, its roles, one member.

Why: the bot's setup and permission checks fetch these when the gateway's cache
does not hold them (a member not chunked, roles after an edit).
"""

from __future__ import annotations

from aiohttp import web

from tests.fakes.discord_emulator.payloads import guild_payload
from tests.fakes.discord_emulator.protocol import as_int
from tests.fakes.discord_emulator.responses import (
    UNKNOWN_GUILD,
    UNKNOWN_MEMBER,
    error_response,
    json_response,
)
from tests.fakes.discord_emulator.rest.base import RouteFamily
from tests.fakes.discord_emulator.specs import GuildSpec


class GuildRoutes(RouteFamily):
    """``/guilds/{id}`` and its channels, roles and members."""

    async def get_guild(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        return json_response(guild_payload(guild)) if guild else error_response(UNKNOWN_GUILD)

    async def get_channels(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        if guild is None:
            return error_response(UNKNOWN_GUILD)
        return json_response([self.state.channels[c.id] for c in guild.channels])

    async def get_roles(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        if guild is None:
            return error_response(UNKNOWN_GUILD)
        return json_response(guild_payload(guild)["roles"])

    async def get_member(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        if guild is None:
            return error_response(UNKNOWN_GUILD)
        member = guild.member(as_int(request.match_info["user_id"]) or 0)
        return json_response(member.payload()) if member else error_response(UNKNOWN_MEMBER)

    def _guild(self, request: web.Request) -> GuildSpec | None:
        return self.state.guilds.get(as_int(request.match_info["guild_id"]) or 0)
