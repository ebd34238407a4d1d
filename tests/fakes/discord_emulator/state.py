"""What the emulated Discord knows and has seen, shared by every part of it.

Why one object: the REST routes, the gateway and the driving API read and change the same
guilds, messages and sessions, so each part holds this state rather than its own copy.
Everything runs on one event loop, so no locking is needed; ``signal`` wakes the waiters
after each change. ``DiscordEmulator`` extends it with the API the tests drive.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Sequence

from tests.fakes.discord_emulator.faults import Faults
from tests.fakes.discord_emulator.protocol import (
    API_PREFIX,
    DEFAULT_BOT_PERMISSIONS,
    Json,
    new_id,
)
from tests.fakes.discord_emulator.records import InteractionRecord, RestRequest, Signal, SyncCall
from tests.fakes.discord_emulator.sessions import GatewayConnection, GatewaySession
from tests.fakes.discord_emulator.specs import GuildSpec, MemberSpec, RoleSpec, TeamSpec, UserSpec


class DiscordState:
    """Settings (some may change at runtime), the world, and the records tests inspect.

    ``channels``, ``users``, ``commands``, ``messages`` and the other stores below the
    public records are the emulator's working state: tests read the inspection API
    (``synced_commands``, ``channel_messages``, ...), which copies where it matters.
    """

    def __init__(
        self,
        *,
        guilds: Sequence[GuildSpec] | None = None,
        owner: UserSpec | None = None,
        owner_id: int | None = None,
        team: TeamSpec | None = None,
        bot_user: UserSpec | None = None,
        application_id: int | None = None,
        token: str | None = None,
        app_permissions: int = DEFAULT_BOT_PERMISSIONS,
        shard_count: int = 1,
        heartbeat_interval: float = 41.25,
        rest_latency: float = 0.0,
        interaction_deadline: float | None = None,
        compression: bool = True,
        allow_privileged_intents: bool = True,
        history: int | None = None,
    ) -> None:
        self.history = history  # None: keep every record (tests assert on them)
        self.bot_user = bot_user or UserSpec("TuneCluster", bot=True)
        self.application_id = application_id or self.bot_user.id
        self.owner = owner or UserSpec("owner", id=owner_id or new_id())
        self.team = team
        self.token = token or f"emu.{secrets.token_urlsafe(24)}"
        self.default_user = UserSpec("tester")
        self.app_permissions = app_permissions
        self.shard_count = shard_count
        self.heartbeat_interval = heartbeat_interval
        self.rest_latency = rest_latency
        self.interaction_deadline = interaction_deadline
        self.compression = compression
        self.allow_privileged_intents = allow_privileged_intents
        self.application_flags = 0
        self.verify_key = secrets.token_hex(32)
        self.port: int | None = None
        self._create_stores()
        for guild in guilds if guilds is not None else [GuildSpec()]:
            self._add_guild(guild)

    def _create_stores(self) -> None:
        """Empty records and stores: first those tests inspect, then the working state."""
        self.guilds: dict[int, GuildSpec] = {}
        self.requests: list[RestRequest] = []
        self.unhandled: list[RestRequest] = []
        self.sync_calls: list[SyncCall] = []
        self.sessions: list[GatewaySession] = []
        self.connections: list[GatewayConnection] = []
        self.interactions: list[InteractionRecord] = []
        self.channels: dict[int, Json] = {}  # channel id -> its payload, DMs included
        self.users: dict[int, UserSpec] = {}
        self.commands: dict[int | None, list[Json]] = {}  # None: the global commands
        self.fake_command_ids: dict[str, int] = {}  # for commands invoked but never synced
        self.interactions_by_id: dict[int, InteractionRecord] = {}
        self.interactions_by_token: dict[str, InteractionRecord] = {}
        self.messages_by_channel: dict[int, list[Json]] = {}  # posted, in order
        self.messages: dict[int, Json] = {}  # every message that exists, by id
        self.attachments: dict[int, bytes] = {}
        self.faults = Faults()
        self.signal = Signal()

    def _add_guild(self, spec: GuildSpec) -> None:
        """Register a copy of a guild, completed the way Discord would describe it: a managed
        role for the bot, and the bot, the owner and ``default_user`` as members."""
        guild = copy.deepcopy(spec)
        guild.owner_id = guild.owner_id or self.owner.id
        bot_role = RoleSpec(self.bot_user.username, self.app_permissions, managed=True)
        guild.roles.append(bot_role)
        members = guild.memberships
        present = {m.user.id for m in members}
        wanted = [
            MemberSpec(self.bot_user, roles=[bot_role.id]),
            MemberSpec(self.owner),
            MemberSpec(self.default_user),
        ]
        guild.members = [*members, *(m for m in wanted if m.user.id not in present)]
        self.guilds[guild.id] = guild
        for member in guild.memberships:
            self.users[member.user.id] = member.user
        for channel in guild.channels:
            self.channels[channel.id] = channel.payload(guild.id)

    # ------------------------------------------------------------------ addresses

    @property
    def http_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the emulator is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return self.http_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return self.http_url.replace("http://", "ws://", 1) + "/gateway"

    @property
    def resume_gateway_url(self) -> str:
        return self.gateway_url + "/resume"

    # ------------------------------------------------------------------ shared lookups

    def live_session(self, guild_id: int | None) -> GatewaySession:
        """The newest valid session holding the guild, preferring one with an open socket
        (a client that closed without ending its session is not where Discord delivers
        while another client is connected)."""
        valid = [s for s in reversed(self.sessions) if not s.invalid and s.covers(guild_id)]
        for session in valid:
            if session.conn is not None and session.conn.open:
                return session
        if valid:
            return valid[0]
        raise RuntimeError("no gateway session: start the client and await wait_identified()")

    def dm_channel(self, user: UserSpec) -> Json:
        """The user's DM channel with the bot, opened on first use as Discord does."""
        for channel in self.channels.values():
            recipients = channel.get("recipients") or []
            if channel["type"] == 1 and recipients and recipients[0]["id"] == str(user.id):
                return channel
        channel = {"id": str(new_id()), "type": 1, "recipients": [user.payload()]}
        channel["last_message_id"] = None
        self.channels[int(channel["id"])] = channel
        return channel

    async def dispatch(self, session: GatewaySession, event: str, data: Json) -> int:
        """Send a gateway event in the session's sequence, then wake the waiters."""
        seq = await session.dispatch(event, data)
        self.signal.fire()
        return seq

    def trim_history(self) -> None:
        """With ``history=N``, keep only the newest N interactions, requests and channel
        messages, and drop the payloads of gateway frames older than 4N: a long
        benchmark in one process then measures the bot, not this emulator's records."""
        keep = self.history
        if keep is None:
            return
        for old in self.interactions[:-keep]:
            self.interactions_by_id.pop(old.id, None)
            self.interactions_by_token.pop(old.token, None)
            for message in [old.original, *old.followups]:
                if message is not None:
                    self.messages.pop(int(message["id"]), None)
        del self.interactions[:-keep]
        del self.requests[:-keep]
        for messages in self.messages_by_channel.values():
            del messages[:-keep]
        for session in self.sessions:
            session.forget_sent(4 * keep)
