"""A user invoking the bot: who, where, with which permissions, as INTERACTION_CREATE.

Why derived from the specs: discord.py's permission checks read the member's
``permissions`` field, so by default the emulator computes it from @everyone and the
member's roles as Discord would (the guild owner and administrators get every bit).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

import discord

from tests.fakes.discord_emulator.protocol import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    ATTACHMENT_SIZE_LIMIT,
    Json,
    new_id,
    permission_bits,
)
from tests.fakes.discord_emulator.records import InteractionRecord
from tests.fakes.discord_emulator.specs import GuildSpec, MemberSpec, UserSpec

if TYPE_CHECKING:
    from tests.fakes.discord_emulator.state import DiscordState


@dataclass
class Invocation:
    """Who invokes an interaction, and where."""

    user: UserSpec
    guild: GuildSpec | None
    channel: Json
    roles: Sequence[int]
    permissions: int
    locale: str

    @property
    def guild_id(self) -> int | None:
        return self.guild.id if self.guild else None


class Where(TypedDict, total=False):
    """As whom and where a test invokes the bot; ``resolve_invocation`` fills in each key
    left out: the default user, the first guild and its first text channel, the member's
    roles and the permissions they grant, locale en-US, not a DM."""

    user: UserSpec | None
    guild_id: int | None
    channel_id: int | None
    permissions: int | discord.Permissions | None
    roles: Sequence[int] | None
    locale: str
    dm: bool


def resolve_invocation(state: DiscordState, where: Where) -> Invocation:
    """The invocation ``where`` describes; a channel outside the guild is refused."""
    unexpected = where.keys() - Where.__optional_keys__
    if unexpected:  # what a misspelt keyword argument would have raised
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unexpected))}")
    user = where.get("user") or state.default_user
    state.users.setdefault(user.id, user)
    permissions, locale = where.get("permissions"), where.get("locale", "en-US")
    if where.get("dm", False):
        channel = state.dm_channel(user)
        perms = ALL_PERMISSIONS if permissions is None else permission_bits(permissions)
        return Invocation(user, None, channel, (), perms, locale)
    guild_id, channel_id = where.get("guild_id"), where.get("channel_id")
    guild = state.guilds.get(guild_id) if guild_id else next(iter(state.guilds.values()))
    if guild is None:
        raise ValueError(f"unknown guild {guild_id}")
    if channel_id is None:
        channel_id = next(c.id for c in guild.channels if c.type in (0, 5))
    if state.channels.get(channel_id, {}).get("guild_id") != str(guild.id):
        raise ValueError(f"channel {channel_id} is not in guild {guild.id}")
    roles = where.get("roles")
    if roles is None:
        membership = guild.member(user.id)
        roles = membership.roles if membership else ()
    if permissions is None:
        perms = _member_permissions(guild, user, roles)
    else:
        perms = permission_bits(permissions)
    return Invocation(user, guild, state.channels[channel_id], roles, perms, locale)


def _member_permissions(guild: GuildSpec, user: UserSpec, roles: Sequence[int]) -> int:
    if user.id == guild.owner_id:
        return ALL_PERMISSIONS
    granted = guild.role_permissions(roles)
    return ALL_PERMISSIONS if granted & ADMINISTRATOR else granted


async def dispatch_interaction(
    state: DiscordState,
    kind: int,
    name: str,
    who: Invocation,
    data: Json,
    message: Json | None = None,
) -> InteractionRecord:
    """Record an interaction, then send INTERACTION_CREATE to the session holding its guild;
    ``message`` is the message a component interaction was used on."""
    session = state.live_session(who.guild_id)
    ix_id, token = new_id(), secrets.token_hex(32)
    payload = _interaction_payload(state, ix_id, token, kind, who, data)
    if message is not None:
        payload["message"] = message
    record = InteractionRecord(ix_id, token, kind, name, payload, time.perf_counter(), state.signal)
    record.component_message = message
    state.interactions_by_id[ix_id] = record
    state.interactions_by_token[token] = record
    state.interactions.append(record)
    await state.dispatch(session, "INTERACTION_CREATE", payload)
    state.trim_history()
    return record


def _interaction_payload(
    state: DiscordState, ix_id: int, token: str, kind: int, who: Invocation, data: Json
) -> Json:
    """A guild interaction carries the member (with permissions), a DM one the user."""
    payload: Json = {
        "id": str(ix_id),
        "application_id": str(state.application_id),
        "type": kind,
        "token": token,
        "version": 1,
        "data": data,
        "channel_id": who.channel["id"],
        "channel": who.channel,
        "app_permissions": str(state.app_permissions),
        "locale": who.locale,
        "entitlements": [],
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    }
    if who.guild is None:
        payload.update(
            user=who.user.payload(),
            context=1,
            authorizing_integration_owners={"0": str(who.user.id)},
        )
        return payload
    member = MemberSpec(who.user, who.roles).payload()
    member["permissions"] = str(who.permissions)  # what discord.py permission checks read
    payload.update(
        guild_id=str(who.guild.id),
        guild={"id": str(who.guild.id), "locale": who.guild.locale, "features": []},
        guild_locale=who.guild.locale,
        member=member,
        context=0,
        authorizing_integration_owners={"0": str(who.guild.id)},
    )
    return payload
