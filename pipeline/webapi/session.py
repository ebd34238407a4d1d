"""The base every web-API client shares: configuration, pace, state, lifecycle, stats."""

from __future__ import annotations

from typing import ClassVar, Self

import aiohttp

from pipeline.webapi.config import ApiConfig
from pipeline.webapi.errors import ServiceErrors
from pipeline.webapi.limits import RateGate
from pipeline.webapi.state import MemoryState, ServiceState
from pipeline.webapi.stats import ClientStats, RequestCounts
from pipeline.webapi.transport import BearerAuth, Transport


class SessionClient:
    """One `ApiConfig`, one pace and cool-down (`RateGate`) for all the client's
    requests, one `ServiceState`, one aiohttp session (the caller's, or one of its own),
    a `Transport` made on `open()`, and `async with` that leaves no session open when
    opening is refused (a persisted cool-down). A subclass names its service, gives its
    error types and, if the API wants one, its bearer token (`_auth`)."""

    service: ClassVar[str]  # the name in messages and logs: "Spotify", "ReccoBeats"
    errors: ClassVar[ServiceErrors]

    def __init__(
        self,
        config: ApiConfig,
        *,
        state: ServiceState | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.config = config
        self.state = state or MemoryState()
        self.gate = RateGate(config.requests_per_second, config.concurrency)
        self._session = session
        self._own_session = session is None
        self._transport: Transport | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config.base_url!r})"

    def _auth(self, session: aiohttp.ClientSession) -> BearerAuth | None:
        """The bearer token source for a new session; None for an open API."""
        return None

    def _make_transport(self, session: aiohttp.ClientSession) -> Transport:
        return Transport(
            session,
            self.config,
            self.gate,
            service=self.service,
            errors=self.errors,
            auth=self._auth(session),
            state=self.state,
        )

    async def __aenter__(self) -> Self:
        try:
            await self.open()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Create the session; refuse at once when a persisted cool-down is running."""
        if self._transport is None or self._session is None:
            if self._session is None:
                self._session = aiohttp.ClientSession()
            self._transport = self._make_transport(self._session)
        await self._transport.refuse_if_stopped()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None
            self._transport = None if self._transport is None else self._transport.closed()

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            name = type(self).__name__
            raise RuntimeError(f"use `async with {name}(...)` or await open() first")
        return self._transport

    def stats(self) -> ClientStats:
        """What the requests cost so far, and a stop still running (zeros and None
        before the client was first opened; still readable after it closed)."""
        transport = self._transport
        counts = transport.counts if transport is not None else RequestCounts()
        return counts.snapshot(
            waited=self.gate.waited,
            paused=self.gate.cooldown.total,
            stopped_until=transport.stopped_until() if transport is not None else None,
        )
