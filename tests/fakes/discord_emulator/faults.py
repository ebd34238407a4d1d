"""Errors a test asks for: on one channel's message posts, or on any REST route.

Why here and not in the routes: the middleware applies injected faults before any
handler runs, so a fault looks to discord.py exactly like Discord refusing the call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiohttp import web

from tests.fakes.discord_emulator.responses import (
    MISSING_ACCESS,
    RATE_LIMITED,
    SERVER_ERROR,
    UNKNOWN_CHANNEL,
    ApiError,
    error_response,
)

STATUS_PRESETS = {
    403: MISSING_ACCESS,
    404: UNKNOWN_CHANNEL,
    429: RATE_LIMITED,
    500: SERVER_ERROR,
}


def preset_error(status: int, code: int | None = None, message: str | None = None) -> ApiError:
    """The error Discord gives for ``status``; ``code`` and ``message`` override its parts."""
    preset = STATUS_PRESETS.get(status, ApiError(status, 0, f"{status}: Error"))
    return ApiError(status, preset.code if code is None else code, message or preset.message)


@dataclass
class Fault:
    """An injected error on calls whose path matches; ``remaining=None`` never runs out."""

    method: str
    pattern: re.Pattern[str]
    error: ApiError
    remaining: int | None
    retry_after: float


class Faults:
    """The errors in force: per channel for ``POST /channels/{id}/messages``, and injected."""

    def __init__(self) -> None:
        self.channels: dict[int, ApiError] = {}
        self.injected: list[Fault] = []

    def take(self, method: str, path: str) -> web.Response | None:
        """The response of the first injected fault matching this call, counting it down."""
        for fault in self.injected:
            if fault.method == method and fault.pattern.fullmatch(path):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self.injected.remove(fault)
                return error_response(fault.error, fault.retry_after)
        return None
