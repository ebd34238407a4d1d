"""What the emulator saw and what the bot answered: requests, uploads, interactions.

Why records rather than callbacks: a test drives the bot, then asserts on exactly what
reached Discord, in order, with the same objects whatever route or socket carried it.
``Signal`` lets a test wait for any of them without polling.
"""

# The wait_* helpers take ``timeout=`` on purpose: tests read better than with asyncio.timeout.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tests.fakes.discord_emulator.protocol import EPHEMERAL, LOADING, Json

T = TypeVar("T")


@dataclass
class UploadedFile:
    """One ``files[n]`` part of a multipart request."""

    field: str
    filename: str | None
    content_type: str | None
    data: bytes

    @property
    def index(self) -> int | None:
        match = re.fullmatch(r"files\[(\d+)\]", self.field)
        return int(match.group(1)) if match else None


@dataclass
class RestRequest:
    """One REST call as the emulator received it; ``path`` is relative to ``api_url``."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[UploadedFile]
    at: float
    headers: dict[str, str] = field(repr=False)
    status: int | None = None


@dataclass
class SyncCall:
    """One bulk command overwrite (``PUT .../commands``), payload exactly as sent."""

    guild_id: int | None
    payload: Any
    at: float


class Signal:
    """Wakes every waiter on any state change; waiters re-check their own predicate.

    Everything runs on one event loop, so a predicate sees a consistent state; many concurrent
    waiters (50 interactions) just re-evaluate cheap predicates.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], T | None], timeout: float, what: str) -> T:
        try:
            async with asyncio.timeout(timeout):
                while True:
                    event = self._event  # taken before the check, so no change is missed
                    result = predicate()
                    if result:
                        return result
                    await event.wait()
        except TimeoutError:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}") from None


@dataclass(eq=False)
class InteractionRecord:
    """One interaction the emulator dispatched, and everything the bot answered to it."""

    id: int
    token: str
    type: int
    name: str
    payload: Json = field(repr=False)
    dispatched_at: float
    _signal: Signal = field(repr=False)
    callback: Json | None = None
    callback_at: float | None = None
    callback_files: list[UploadedFile] = field(default_factory=list, repr=False)
    original: Json | None = None
    followups: list[Json] = field(default_factory=list)
    edits: list[Json] = field(default_factory=list, repr=False)
    files: list[UploadedFile] = field(default_factory=list, repr=False)
    done_at: float | None = None
    original_deleted: bool = False
    expired: bool = False
    component_message: Json | None = field(default=None, repr=False)

    @property
    def guild_id(self) -> int | None:
        raw = self.payload.get("guild_id")
        return int(raw) if raw else None

    @property
    def channel_id(self) -> int:
        return int(self.payload["channel_id"])

    @property
    def callback_type(self) -> int | None:
        return self.callback["type"] if self.callback else None

    @property
    def latency(self) -> float | None:
        """Seconds from INTERACTION_CREATE to the callback (Discord allows 3)."""
        return None if self.callback_at is None else self.callback_at - self.dispatched_at

    @property
    def ephemeral(self) -> bool:
        if self.original is not None:
            return bool(self.original["flags"] & EPHEMERAL)
        data = (self.callback or {}).get("data") or {}
        return bool((data.get("flags") or 0) & EPHEMERAL)

    @property
    def choices(self) -> list[Json] | None:
        """The autocomplete choices of a type-8 callback."""
        if self.callback_type != 8:
            return None
        choices: list[Json] = (self.callback or {}).get("data", {}).get("choices", [])
        return choices

    @property
    def messages(self) -> list[Json]:
        """Visible answer messages: the original response (once resolved) then follow-ups."""
        out: list[Json] = []
        if self.original and not self.original["flags"] & LOADING and not self.original_deleted:
            out.append(self.original)
        out.extend(m for m in self.followups if m is not self.original)
        return out

    async def wait_callback(self, timeout: float = 3.0) -> Json:
        return await self._signal.wait_for(
            lambda: self.callback, timeout, f"the callback of interaction {self.name!r}"
        )

    async def wait_done(self, timeout: float = 5.0) -> InteractionRecord:
        return await self._signal.wait_for(
            lambda: self if self.done_at is not None else None,
            timeout,
            f"an answer to interaction {self.name!r}",
        )

    async def wait_settled(self, timeout: float = 5.0) -> InteractionRecord:
        """Until answered (as ``wait_done``) or expired (a callback refused as too late)."""
        return await self._signal.wait_for(
            lambda: self if self.done_at is not None or self.expired else None,
            timeout,
            f"an answer or expiry of interaction {self.name!r}",
        )

    async def wait_followups(self, count: int = 1, timeout: float = 5.0) -> list[Json]:
        return await self._signal.wait_for(
            lambda: self.followups if len(self.followups) >= count else None,
            timeout,
            f"{count} follow-up(s) to interaction {self.name!r}",
        )

    def record_callback(self, body: Json, files: list[UploadedFile], now: float) -> None:
        """The initial response arrived (the callback route calls this once)."""
        self.callback, self.callback_at = body, now
        self.callback_files = files
        self.files.extend(files)
        if body.get("type") not in (5, 6):  # a defer is not yet an answer
            self.done_at = now

    def record_answer(self, files: list[UploadedFile], now: float) -> None:
        """A follow-up or an edit arrived: after a defer, the first one is the answer."""
        self.files.extend(files)
        if self.done_at is None:
            self.done_at = now
