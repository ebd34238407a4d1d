"""REST routes that answer interactions: the callback, follow-ups, ``@original`` edits.

Why they carry Discord's rules: an interaction may be acknowledged once and only within
the deadline, a follow-up after a defer replaces the "thinking" message, and the webhook
token works only once acknowledged; tests assert that the bot copes with each of these.
"""

from __future__ import annotations

import time

from aiohttp import web

from tests.fakes.discord_emulator.messages import edit_message, new_message
from tests.fakes.discord_emulator.payloads import bot_user_payload
from tests.fakes.discord_emulator.protocol import (
    APPLICATION_COMMAND,
    EPHEMERAL,
    LOADING,
    Json,
    as_int,
)
from tests.fakes.discord_emulator.records import InteractionRecord, UploadedFile
from tests.fakes.discord_emulator.responses import (
    ALREADY_ACKNOWLEDGED,
    INVALID_FORM,
    UNKNOWN_INTERACTION,
    UNKNOWN_MESSAGE,
    UNKNOWN_WEBHOOK,
    error_response,
    json_response,
    no_content,
)
from tests.fakes.discord_emulator.rest.base import (
    BODY,
    FILES,
    RouteFamily,
    body_object,
)


class InteractionRoutes(RouteFamily):
    """``/interactions/{id}/{token}/callback`` and ``/webhooks/{app}/{token}/...``."""

    async def post_callback(self, request: web.Request) -> web.Response:
        """The initial response; always answers JSON (discord.py fails on an empty 204)."""
        ix = self.state.interactions_by_id.get(as_int(request.match_info["interaction_id"]) or 0)
        if ix is None or ix.token != request.match_info["token"]:
            return error_response(UNKNOWN_INTERACTION)
        now = time.perf_counter()
        deadline = self.state.interaction_deadline
        if deadline is not None and now - ix.dispatched_at > deadline:
            ix.expired = True
            return error_response(UNKNOWN_INTERACTION)
        if ix.callback is not None:
            return error_response(ALREADY_ACKNOWLEDGED)
        body, files = request[BODY], request[FILES]
        if not isinstance(body, dict) or not isinstance(body.get("type"), int):
            return error_response(INVALID_FORM)
        message = self._apply_callback(ix, body, files)
        ix.record_callback(body, files, now)
        return json_response(_callback_response(ix, body["type"], message))

    def _apply_callback(
        self, ix: InteractionRecord, body: Json, files: list[UploadedFile]
    ) -> Json | None:
        """Create or update the response message a callback implies."""
        kind, data = body["type"], body.get("data") or {}
        author = bot_user_payload(self.state)
        msg_type = 20 if ix.type == APPLICATION_COMMAND else 0
        if kind == 4:
            ix.original = new_message(
                self.state,
                ix.channel_id,
                data,
                files,
                author=author,
                msg_type=msg_type,
                webhook=True,
            )
        elif kind == 5:
            flags = LOADING | ((data.get("flags") or 0) & EPHEMERAL)
            ix.original = new_message(
                self.state,
                ix.channel_id,
                {},
                [],
                author=author,
                flags=flags,
                msg_type=msg_type,
                webhook=True,
            )
        elif kind in (6, 7) and ix.component_message is not None:
            ix.original = ix.component_message
            if kind == 7:
                edit_message(self.state, ix.original, data, files)
        return ix.original if kind in (4, 5, 7) else None

    async def post_followup(self, request: web.Request) -> web.Response:
        """A follow-up; the first one after a type-5 defer replaces the "thinking" message
        (unless that was deleted: then it is a message of its own, with its own flags)."""
        ix = self._webhook_interaction(request)
        if ix is None:
            return error_response(UNKNOWN_WEBHOOK)
        body, files = body_object(request), request[FILES]
        if ix.original is not None and not ix.original_deleted and ix.original["flags"] & LOADING:
            message = edit_message(self.state, ix.original, body, files)
        else:
            author = bot_user_payload(self.state)
            message = new_message(
                self.state, ix.channel_id, body, files, author=author, webhook=True
            )
        ix.followups.append(message)
        ix.record_answer(files, time.perf_counter())
        if request.query.get("wait", "").lower() in ("1", "true"):
            return json_response(message)
        return no_content()

    async def webhook_message(self, request: web.Request) -> web.Response:
        """GET / PATCH / DELETE of ``@original`` or of a follow-up."""
        ix = self._webhook_interaction(request)
        if ix is None:
            return error_response(UNKNOWN_WEBHOOK)
        wanted = request.match_info["message_id"]
        if wanted == "@original":
            message = None if ix.original_deleted else ix.original
        else:
            message = next((m for m in ix.followups if m["id"] == wanted), None)
        if message is None:
            return error_response(UNKNOWN_MESSAGE)
        if request.method == "GET":
            return json_response(message)
        if request.method == "DELETE":
            if message is ix.original:
                ix.original_deleted = True
            else:
                ix.followups.remove(message)
            self.state.messages.pop(int(message["id"]), None)
            return no_content()
        body = body_object(request)
        ix.edits.append(body)
        edit_message(self.state, message, body, request[FILES])
        ix.record_answer(request[FILES], time.perf_counter())
        return json_response(message)

    def _webhook_interaction(self, request: web.Request) -> InteractionRecord | None:
        """The interaction behind a webhook token; usable only once acknowledged."""
        if as_int(request.match_info["app_id"]) != self.state.application_id:
            return None
        ix = self.state.interactions_by_token.get(request.match_info["token"])
        return ix if ix is not None and ix.callback is not None else None


def _callback_response(ix: InteractionRecord, kind: int, message: Json | None) -> Json:
    """The ``with_response`` body: the interaction, and the message it created or edited."""
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
