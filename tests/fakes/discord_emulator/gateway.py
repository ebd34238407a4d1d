"""The gateway socket: HELLO, IDENTIFY and RESUME, heartbeats, member requests.

Why it keeps discord.py's rules: a close code decides whether discord.py reconnects,
resumes or gives up, so each refusal closes with the code Discord uses for it (4004 bad
token, 4010 bad shard, 4014 disallowed intents, ...), and a RESUME replays what was missed.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from tests.fakes.discord_emulator.payloads import guild_create_payload, ready_payload
from tests.fakes.discord_emulator.protocol import (
    HEARTBEAT,
    HEARTBEAT_ACK,
    HELLO,
    IDENTIFY,
    INVALID_SESSION,
    PRESENCE,
    PRIVILEGED_INTENTS,
    REQUEST_MEMBERS,
    RESUME,
    VOICE_STATE,
    Json,
    as_int,
)
from tests.fakes.discord_emulator.sessions import GatewayConnection, GatewaySession, op

if TYPE_CHECKING:
    from tests.fakes.discord_emulator.state import DiscordState


class Gateway:
    """Serves ``/gateway`` and ``/gateway/resume``; one ``handle`` call per socket."""

    def __init__(self, state: DiscordState) -> None:
        self.state = state

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """One gateway socket: HELLO, then answer the client's opcodes until it closes."""
        if request.query.get("encoding", "json") != "json":
            return web.Response(status=400, text="the emulator speaks encoding=json only")
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = GatewayConnection(ws, request.path, dict(request.query), time.perf_counter())
        if self.state.compression and conn.compress == "zlib-stream":
            conn.use_zlib_stream()
        self.state.connections.append(conn)
        interval = int(self.state.heartbeat_interval * 1000)
        try:
            await conn.send(op(HELLO, {"heartbeat_interval": interval}))
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    await ws.close(code=4002, message=b"Decode error")
                    break
                await self._on_frame(conn, msg.data)
        except ConnectionResetError:
            pass  # the client vanished mid-send; the session stays resumable
        finally:
            self._on_socket_closed(conn)
        return ws

    async def _on_frame(self, conn: GatewayConnection, text: str) -> None:
        try:
            frame = json.loads(text)
        except ValueError:
            await conn.ws.close(code=4002, message=b"Decode error")
            return
        conn.received.append(frame)
        code, data = frame.get("op"), frame.get("d")
        if code == HEARTBEAT:
            await conn.send(op(HEARTBEAT_ACK))
        elif code == IDENTIFY:
            await self._identify(conn, data or {})
        elif code == RESUME:
            await self._resume(conn, data or {})
        elif conn.session is None:
            await conn.ws.close(code=4003, message=b"Not authenticated")
        elif code == REQUEST_MEMBERS:
            await self._request_members(conn.session, data or {})
        elif code not in (PRESENCE, VOICE_STATE):
            await conn.ws.close(code=4001, message=b"Unknown opcode")
        self.state.signal.fire()

    def _on_socket_closed(self, conn: GatewayConnection) -> None:
        conn.close_code = conn.ws.close_code
        conn.closed_at = time.perf_counter()
        session = conn.session
        if session is not None and session.conn is conn:
            session.conn = None
            if conn.close_code in (1000, 1001):  # a clean close ends the session
                session.invalid = True
        self.state.signal.fire()

    async def _identify(self, conn: GatewayConnection, data: Json) -> None:
        shard = data.get("shard")
        intents = int(data.get("intents") or 0)
        if conn.session is not None:
            await conn.ws.close(code=4005, message=b"Already authenticated")
        elif data.get("token") != self.state.token:
            await conn.ws.close(code=4004, message=b"Authentication failed")
        elif shard is not None and not (
            isinstance(shard, list) and len(shard) == 2 and 0 <= shard[0] < shard[1]
        ):
            await conn.ws.close(code=4010, message=b"Invalid shard")
        elif intents & PRIVILEGED_INTENTS and not self.state.allow_privileged_intents:
            await conn.ws.close(code=4014, message=b"Disallowed intent(s)")
        else:
            await self._start_session(conn, data, tuple(shard) if shard else None, intents)

    async def _start_session(
        self, conn: GatewayConnection, data: Json, shard: tuple[int, int] | None, intents: int
    ) -> None:
        """READY, then a GUILD_CREATE for each guild of the session's shard."""
        state = self.state
        session = GatewaySession(
            secrets.token_hex(16), shard, intents, data, time.perf_counter(), conn=conn
        )
        conn.session = session
        state.sessions.append(session)
        await state.dispatch(session, "READY", ready_payload(state, session))
        for guild in state.guilds.values():
            if session.covers(guild.id):
                payload = guild_create_payload(state, guild, intents)
                await state.dispatch(session, "GUILD_CREATE", payload)
        session.ready_sent = True

    async def _resume(self, conn: GatewayConnection, data: Json) -> None:
        """Replay what the client missed since ``seq``, then RESUMED; else INVALID_SESSION."""
        sessions = self.state.sessions
        session = next((s for s in sessions if s.id == data.get("session_id")), None)
        if session is None or session.invalid or data.get("token") != self.state.token:
            await conn.send(op(INVALID_SESSION, False))
            return
        previous = session.conn
        session.conn, conn.session = conn, session
        conn.sent_seq = max(0, min(int(data.get("seq") or 0), session.seq))
        session.resumes += 1
        if previous is not None and previous.open:
            await previous.ws.close(code=4000, message=b"Session resumed elsewhere")
        await self.state.dispatch(session, "RESUMED", {})

    async def _request_members(self, session: GatewaySession, data: Json) -> None:
        """Answer op 8 with one GUILD_MEMBERS_CHUNK: by ids, else by username prefix."""
        guild = self.state.guilds.get(as_int(data.get("guild_id")) or 0)
        if guild is None:
            return
        wanted = {int(uid) for uid in data.get("user_ids") or []}
        query = (data.get("query") or "").lower()
        found = [
            m
            for m in guild.memberships
            if (m.user.id in wanted if wanted else m.user.username.lower().startswith(query))
        ]
        if data.get("limit"):
            found = found[: data["limit"]]
        chunk: Json = {
            "guild_id": str(guild.id),
            "members": [m.payload() for m in found],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [str(uid) for uid in wanted - {m.user.id for m in found}],
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await self.state.dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)
