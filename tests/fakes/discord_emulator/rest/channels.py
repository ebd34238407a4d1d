"""REST routes for channels and their messages, and the download of what was attached.

Why the bot's posts go through here: announcements and discovery posts are channel
messages, and tests fail them per channel (``set_channel_error``) to prove the bot
reports a refusal instead of losing it.
"""

from __future__ import annotations

import mimetypes

from aiohttp import web

from tests.fakes.discord_emulator.messages import edit_message, post_message
from tests.fakes.discord_emulator.payloads import bot_user_payload
from tests.fakes.discord_emulator.protocol import as_int
from tests.fakes.discord_emulator.responses import (
    EMPTY_MESSAGE,
    UNKNOWN_CHANNEL,
    UNKNOWN_MESSAGE,
    error_response,
    json_response,
    no_content,
)
from tests.fakes.discord_emulator.rest.base import (
    FILES,
    RouteFamily,
    body_object,
)

# A message needs one of these (or a file), else Discord refuses it as empty.
CONTENT_KEYS = ("content", "embeds", "components", "sticker_ids", "poll")


class ChannelRoutes(RouteFamily):
    """``/channels/{id}``, its messages and typing; attachment downloads."""

    async def get_channel(self, request: web.Request) -> web.Response:
        channel = self.state.channels.get(as_int(request.match_info["channel_id"]) or 0)
        return json_response(channel) if channel else error_response(UNKNOWN_CHANNEL)

    async def post_message(self, request: web.Request) -> web.Response:
        """A bot's post: refused by an injected channel error, else stored and delivered."""
        channel_id = as_int(request.match_info["channel_id"]) or 0
        if channel_id in self.state.faults.channels:
            return error_response(self.state.faults.channels[channel_id])
        if channel_id not in self.state.channels:
            return error_response(UNKNOWN_CHANNEL)
        body, files = body_object(request), request[FILES]
        if not files and not any(body.get(key) for key in CONTENT_KEYS):
            return error_response(EMPTY_MESSAGE)
        author = bot_user_payload(self.state)
        message = await post_message(self.state, channel_id, body, files, author)
        return json_response(message)

    async def channel_message(self, request: web.Request) -> web.Response:
        """GET / PATCH / DELETE of a message in a channel."""
        channel_id = as_int(request.match_info["channel_id"]) or 0
        message = self.state.messages.get(as_int(request.match_info["message_id"]) or 0)
        if message is None or message["channel_id"] != str(channel_id):
            return error_response(UNKNOWN_MESSAGE)
        if request.method == "GET":
            return json_response(message)
        if request.method == "DELETE":
            self.state.messages.pop(int(message["id"]))
            listed = self.state.messages_by_channel.get(channel_id, [])
            if message in listed:
                listed.remove(message)
            return no_content()
        body = body_object(request)
        return json_response(edit_message(self.state, message, body, request[FILES]))

    async def post_typing(self, request: web.Request) -> web.Response:
        return no_content()

    async def download_attachment(self, request: web.Request) -> web.Response:
        """An attachment's bytes at its ``url`` (outside the API, as on Discord's CDN)."""
        data = self.state.attachments.get(as_int(request.match_info["attachment_id"]) or 0)
        if data is None:
            return web.Response(status=404)
        ctype = mimetypes.guess_type(request.match_info["filename"])[0]
        return web.Response(body=data, content_type=ctype or "application/octet-stream")
