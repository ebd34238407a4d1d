"""What a test describes Discord with: users, roles, channels, members, guilds, teams.

Why dataclasses with ``payload()``: a test builds its world in a few short lines, and each
spec renders itself exactly as Discord's API objects look to discord.py. Ids default to
fresh snowflakes; the emulator keeps copies, so a test reads them back from ``guilds``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tests.fakes.discord_emulator.protocol import DEFAULT_EVERYONE_PERMISSIONS, Json, new_id


@dataclass
class UserSpec:
    """A Discord user: a member, the bot, the application owner."""

    username: str
    id: int = field(default_factory=new_id)
    global_name: str | None = None
    bot: bool = False

    def payload(self) -> Json:
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "system": False,
            "public_flags": 0,
        }


@dataclass
class RoleSpec:
    """A guild role; ``permissions`` is the raw bit set granted to its members."""

    name: str
    permissions: int = 0
    id: int = field(default_factory=new_id)
    position: int = 1
    managed: bool = False

    def payload(self) -> Json:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "hoist": False,
            "managed": self.managed,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }


@dataclass
class ChannelSpec:
    """A guild channel; ``type`` uses Discord's numbers (0 text, 2 voice, 4 category, 5 news)."""

    name: str
    type: int = 0
    id: int = field(default_factory=new_id)
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None

    def payload(self, guild_id: int) -> Json:
        data: Json = {
            "id": str(self.id),
            "type": self.type,
            "name": self.name,
            "guild_id": str(guild_id),
            "position": self.position,
            "parent_id": str(self.parent_id) if self.parent_id else None,
            "permission_overwrites": [],
            "nsfw": False,
            "topic": self.topic,
            "rate_limit_per_user": 0,
            "last_message_id": None,
        }
        if self.type in (2, 13):  # voice and stage channels
            data.update(bitrate=64000, user_limit=0, rtc_region=None)
        return data


@dataclass
class MemberSpec:
    """A user's membership in one guild (its roles and nickname)."""

    user: UserSpec
    roles: Sequence[int] = ()
    nick: str | None = None

    def payload(self) -> Json:
        return {
            "user": self.user.payload(),
            "roles": [str(role) for role in self.roles],
            "nick": self.nick,
            "avatar": None,
            "joined_at": "2024-01-01T00:00:00+00:00",
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }


@dataclass
class GuildSpec:
    """A guild; its @everyone role gets the guild's id, as on Discord."""

    name: str = "Test Guild"
    id: int = field(default_factory=new_id)
    channels: list[ChannelSpec] = field(default_factory=lambda: [ChannelSpec("general")])
    roles: list[RoleSpec] = field(default_factory=list)
    members: list[MemberSpec | UserSpec] = field(default_factory=list)
    owner_id: int | None = None  # None: the application owner
    everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS
    locale: str = "en-US"

    @property
    def memberships(self) -> list[MemberSpec]:
        """``members`` with bare users read as members without roles."""
        return [m if isinstance(m, MemberSpec) else MemberSpec(m) for m in self.members]

    def member(self, user_id: int) -> MemberSpec | None:
        return next((m for m in self.memberships if m.user.id == user_id), None)

    def role_permissions(self, role_ids: Sequence[int]) -> int:
        wanted = set(role_ids)
        granted = self.everyone_permissions
        for role in self.roles:
            if role.id in wanted:
                granted |= role.permissions
        return granted


@dataclass
class TeamSpec:
    """A developer team owning the application; roles: "admin", "developer", "read_only"."""

    name: str
    members: Sequence[tuple[UserSpec, str]]
    id: int = field(default_factory=new_id)
    owner_user_id: int | None = None  # None: the first member

    def payload(self) -> Json:
        owner = self.owner_user_id or (self.members[0][0].id if self.members else None)
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "owner_user_id": str(owner) if owner else None,
            "members": [
                {
                    "membership_state": 2,
                    "team_id": str(self.id),
                    "user": user.payload(),
                    "role": role,
                    "permissions": ["*"],
                }
                for user, role in self.members
            ],
        }

    def pseudo_user(self) -> Json:
        """Discord reports a team-owned application's ``owner`` as this synthetic user."""
        return {
            "id": str(self.id),
            "username": f"team{self.id}",
            "discriminator": "0000",
            "avatar": None,
            "flags": 1024,
        }
