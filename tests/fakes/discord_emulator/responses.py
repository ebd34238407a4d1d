"""Discord's API errors and the exact response shapes discord.py accepts.

Why exact: discord.py reads a JSON body only under Content-Type ``application/json``, and
treats a 429 without a ``Via`` header as a Cloudflare ban, not a rate limit to retry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

from aiohttp import web


class ApiError(NamedTuple):
    """An error as Discord reports it: HTTP status, JSON error code, message."""

    status: int
    code: int
    message: str


UNAUTHORIZED = ApiError(401, 0, "401: Unauthorized")
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


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """JSON with Content-Type exactly ``application/json``: discord.py reads
    ``application/json; charset=utf-8`` (aiohttp's json_response default) as plain text."""
    body = json.dumps(data, separators=(",", ":")).encode()
    return web.Response(
        status=status, body=body, headers={"Content-Type": "application/json", **(headers or {})}
    )


def error_response(error: ApiError, retry_after: float = 0.05) -> web.Response:
    """Discord's error body; a 429 also carries what discord.py needs to retry it."""
    if error.status != 429:
        return json_response({"message": error.message, "code": error.code}, error.status)
    # Without a Via header discord.py takes a 429 for a Cloudflare ban and gives up.
    body = {"message": error.message, "retry_after": retry_after, "global": False, "code": 0}
    headers = {"Via": "1.1 google", "Retry-After": str(retry_after)}
    return json_response(body, 429, headers)


def no_content() -> web.Response:
    """204, for the routes where Discord answers nothing."""
    return web.Response(status=204)
