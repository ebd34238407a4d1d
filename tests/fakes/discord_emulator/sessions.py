"""Gateway sessions and the sockets that carry them.

Why apart from the socket handler: a session outlives its socket (RESUME replays its log
on a new one), and the REST side and the driving API dispatch into sessions too.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.discord_emulator.protocol import DISPATCH, Json

# What a forgotten frame's log entry holds: one shared object, so it costs no memory.
FORGOTTEN: Json = {}


@dataclass(eq=False)
class GatewaySession:
    """An identified gateway session; it outlives its socket so that RESUME can replay."""

    id: str
    shard: tuple[int, int] | None
    intents: int
    identify: Json = field(repr=False)
    identified_at: float
    seq: int = 0
    log: list[Json] = field(default_factory=list, repr=False)  # log[i] carries s == i + 1
    conn: GatewayConnection | None = field(default=None, repr=False)
    ready_sent: bool = False
    invalid: bool = False
    resumes: int = 0

    def covers(self, guild_id: int | None) -> bool:
        """Whether this session's shard holds the guild (DMs go to shard 0)."""
        if self.shard is None:
            return True
        shard_id, count = self.shard
        return shard_id == ((guild_id >> 22) % count if guild_id else 0)

    async def dispatch(self, event: str, data: Json) -> int:
        """Log a DISPATCH under the next seq and send it if the session has a socket.

        A send that fails leaves the frame in the log: the client RESUMEs and gets it replayed.
        """
        self.seq += 1
        frame = {"op": DISPATCH, "t": event, "s": self.seq, "d": copy.deepcopy(data)}
        self.log.append(frame)  # a snapshot: a RESUME replays what was sent, not later edits
        seq = self.seq
        if self.conn is not None:
            with contextlib.suppress(ConnectionResetError):
                await self.conn.flush()
        return seq

    def forget_sent(self, keep: int) -> None:
        """Drop the payloads of frames this socket sent, but the newest ``keep`` of the log:
        a long run then holds a bounded log (older frames are never replayed)."""
        sent = self.conn.sent_seq if self.conn is not None else 0
        stop = min(len(self.log) - keep, sent)
        for i in range(max(0, stop - keep), max(0, stop)):
            self.log[i] = FORGOTTEN


@dataclass(eq=False)
class GatewayConnection:
    """One gateway websocket; frames are sent in sequence order under a lock."""

    ws: web.WebSocketResponse = field(repr=False)
    path: str
    query: dict[str, str]
    opened_at: float
    session: GatewaySession | None = field(default=None, repr=False)
    received: list[Json] = field(default_factory=list, repr=False)
    sent_seq: int = 0
    close_code: int | None = None
    closed_at: float | None = None
    _zlib: Any = field(default=None, repr=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @property
    def compress(self) -> str | None:
        """The ``compress`` the client asked for (discord.py: zlib-stream or zstd-stream)."""
        return self.query.get("compress")

    @property
    def open(self) -> bool:
        return self.closed_at is None and not self.ws.closed

    def use_zlib_stream(self) -> None:
        """From now on, one deflate stream for the socket, each frame ending in a sync flush."""
        self._zlib = zlib.compressobj()

    async def send(self, frame: Json) -> None:
        """Send a frame outside the dispatch sequence (HELLO, ACK, RECONNECT...)."""
        async with self._lock:
            await self._send_locked(frame)

    async def flush(self) -> None:
        """Send every logged dispatch this socket has not sent yet, in order."""
        async with self._lock:
            session = self.session
            while session is not None and session.conn is self and self.sent_seq < session.seq:
                frame = session.log[self.sent_seq]
                await self._send_locked(frame)
                self.sent_seq = frame["s"]

    async def _send_locked(self, frame: Json) -> None:
        text = json.dumps(frame, separators=(",", ":"))
        if self._zlib is None:
            await self.ws.send_str(text)
            return
        data = self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
        await self.ws.send_bytes(data)


def op(op: int, data: Any = None) -> Json:
    """A non-dispatch frame (no sequence number, no event name)."""
    return {"op": op, "d": data, "s": None, "t": None}
