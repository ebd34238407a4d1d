"""REST routes for application commands: the bulk overwrite a sync sends, and its reads.

Why stored as Discord stores them: ``send_command`` takes each option's type and the
command's id from what the bot synced, and a re-sync keeps a same-name command's id.
"""

from __future__ import annotations

import copy
import time

from aiohttp import web

from tests.fakes.discord_emulator.protocol import Json, as_int, new_id
from tests.fakes.discord_emulator.records import SyncCall
from tests.fakes.discord_emulator.responses import (
    INVALID_FORM,
    MISSING_ACCESS,
    UNKNOWN_APPLICATION,
    error_response,
    json_response,
)
from tests.fakes.discord_emulator.rest.base import BODY, RouteFamily


class CommandRoutes(RouteFamily):
    """``/applications/{id}/commands``, global or under ``/guilds/{id}``."""

    async def get_commands(self, request: web.Request) -> web.Response:
        scope, error = self._scope(request)
        return error or json_response(self.state.commands.get(scope, []))

    async def put_commands(self, request: web.Request) -> web.Response:
        """The bulk overwrite: recorded as sent (``sync_calls``), stored with ids."""
        scope, error = self._scope(request)
        if error:
            return error
        body = request[BODY]
        if not isinstance(body, list) or not all(isinstance(c, dict) and "name" in c for c in body):
            return error_response(INVALID_FORM)
        self.state.sync_calls.append(SyncCall(scope, copy.deepcopy(body), time.perf_counter()))
        old = {(c["name"], c["type"]): c for c in self.state.commands.get(scope, [])}
        stored = [self._stored(scope, c, old.get((c["name"], c.get("type", 1)))) for c in body]
        self.state.commands[scope] = stored
        return json_response(stored)

    async def post_command(self, request: web.Request) -> web.Response:
        """Create one command, or replace the same-name one (200 then, else 201)."""
        scope, error = self._scope(request)
        if error:
            return error
        body = request[BODY]
        if not isinstance(body, dict) or "name" not in body:
            return error_response(INVALID_FORM)
        current = self.state.commands.setdefault(scope, [])
        key = (body["name"], body.get("type", 1))
        previous = next((c for c in current if (c["name"], c["type"]) == key), None)
        stored = self._stored(scope, body, previous)
        if previous is not None:
            current[current.index(previous)] = stored
        else:
            current.append(stored)
        return json_response(stored, 200 if previous else 201)

    def _scope(self, request: web.Request) -> tuple[int | None, web.Response | None]:
        """The guild (None: global) the path names, or the error Discord gives for it."""
        if as_int(request.match_info["app_id"]) != self.state.application_id:
            return None, error_response(UNKNOWN_APPLICATION)
        raw_guild = request.match_info.get("guild_id")
        if raw_guild is None:
            return None, None
        guild_id = as_int(raw_guild)
        if guild_id not in self.state.guilds:
            return None, error_response(MISSING_ACCESS)
        return guild_id, None

    def _stored(self, scope: int | None, command: Json, previous: Json | None) -> Json:
        """Echo a command as Discord stores it; a same-name command keeps its id."""
        stored = copy.deepcopy(command)
        stored.setdefault("type", 1)
        stored.setdefault("description", "")
        stored.update(
            id=previous["id"] if previous else str(new_id()),
            application_id=str(self.state.application_id),
            version=str(new_id()),
        )
        if scope is not None:
            stored["guild_id"] = str(scope)
        return stored
