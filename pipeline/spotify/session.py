"""The lifecycle the Spotify and ReccoBeats clients share."""

from __future__ import annotations

from typing import Self

import aiohttp

from pipeline.spotify.transport import Transport


class SessionClient:
    """One aiohttp session (the caller's, or one of its own), a `Transport` made on
    `open()`, and `async with` that leaves no session open when opening is refused (a
    persisted cool-down). Subclasses say how their transport is made."""

    def __init__(self, session: aiohttp.ClientSession | None) -> None:
        self._session = session
        self._own_session = session is None
        self._transport: Transport | None = None

    def _make_transport(self, session: aiohttp.ClientSession) -> Transport:
        raise NotImplementedError

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
