"""A loopback TCP proxy that can cut the line: a database outage, seen from the client.

The shared MariaDB server cannot be stopped under other tests, so an outage is staged
between the bot and the server: `cut()` drops every open connection and refuses new
ones; `silence()` is a server that hangs: connections are accepted (and open ones stay
open) but nothing is ever answered; `restore()` lets traffic through again (connections
silenced mid-exchange are dropped then: their half-delivered exchange cannot resume).
`forwarded` counts the bytes sent each way, for tests that wait for traffic.
"""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.up = True
        self.silent = False
        self.forwarded = 0
        self._silenced: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        self.up = False
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def silence(self) -> None:
        self.silent = True

    def restore(self) -> None:
        self.up = True
        self.silent = False
        for writer in list(self._silenced):
            writer.transport.abort()
        self._silenced.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.transport.abort()
            return
        if self.silent:  # accepted, never answered
            self._silenced.add(writer)
            with contextlib.suppress(ConnectionError, OSError):
                while await reader.read(65536):
                    pass
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, upstream_writer))
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if self.silent:  # swallowed: the other side waits forever
                    self._silenced.add(writer)
                    continue
                writer.write(data)
                self.forwarded += len(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.transport.abort()
