"""What every REST route family shares: the parsed request body and the emulator's state.

Why parsed once: the middleware records every call with its body before any handler
runs (tests assert on ``requests``), so handlers read the body it left on the request.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from tests.fakes.discord_emulator.protocol import Json
from tests.fakes.discord_emulator.records import UploadedFile

if TYPE_CHECKING:
    from tests.fakes.discord_emulator.state import DiscordState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Where the middleware leaves the parsed body for the handlers.
BODY: web.RequestKey[Any] = web.RequestKey("body", object)
FILES: web.RequestKey[list[UploadedFile]] = web.RequestKey("files", list)


class RouteFamily:
    """A group of REST handlers over the shared state (``app`` lists their routes)."""

    def __init__(self, state: DiscordState) -> None:
        self.state = state


def body_object(request: web.Request) -> Json:
    """The JSON object a route expects; anything else reads as an empty one."""
    body = request[BODY]
    return body if isinstance(body, dict) else {}


async def read_body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
    """JSON body, or a multipart body's ``payload_json`` plus its ``files[n]`` parts."""
    if request.content_type.startswith("multipart/"):
        return await _read_multipart(request)
    raw = await request.read()
    if not raw:
        return None, []
    try:
        return json.loads(raw), []
    except ValueError:
        return raw.decode(errors="replace"), []


async def _read_multipart(request: web.Request) -> tuple[Any, list[UploadedFile]]:
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
