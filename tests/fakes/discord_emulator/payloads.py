"""The objects Discord describes itself with: the bot user, the application, guilds, READY.

Why built on request from the state: a test may change the owner, the team or the guilds
at runtime, and the next ``GET`` or IDENTIFY must see it, as it would on Discord.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.fakes.discord_emulator.protocol import API_VERSION, PRESENCES_INTENT, Json
from tests.fakes.discord_emulator.sessions import GatewaySession
from tests.fakes.discord_emulator.specs import GuildSpec, RoleSpec

if TYPE_CHECKING:
    from tests.fakes.discord_emulator.state import DiscordState


def bot_user_payload(state: DiscordState) -> Json:
    """The bot's own user, as ``GET /users/@me`` and READY describe it."""
    user = state.bot_user.payload()
    user.update(bot=True, verified=True, mfa_enabled=False, flags=0, locale="en-US")
    return user


def application_payload(state: DiscordState) -> Json:
    """``GET /oauth2/applications/@me``: where discord.py learns the owner (or team)."""
    app: Json = {
        "id": str(state.application_id),
        "name": state.bot_user.username,
        "description": "",
        "icon": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": state.team.pseudo_user() if state.team else state.owner.payload(),
        "verify_key": state.verify_key,
        "flags": state.application_flags,
        "summary": "",
        "rpc_origins": [],
        "tags": [],
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "approximate_guild_count": len(state.guilds),
        "bot": bot_user_payload(state),
        "team": state.team.payload() if state.team else None,
    }
    return app


def guild_payload(guild: GuildSpec) -> Json:
    """The REST guild object (GUILD_CREATE adds members, channels and more)."""
    everyone = RoleSpec("@everyone", guild.everyone_permissions, id=guild.id, position=0)
    return {
        "id": str(guild.id),
        "name": guild.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "owner_id": str(guild.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [everyone.payload()] + [role.payload() for role in guild.roles],
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "max_members": 500000,
        "vanity_url_code": None,
        "description": None,
        "banner": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": guild.locale,
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
    }


def guild_create_payload(state: DiscordState, guild: GuildSpec, intents: int) -> Json:
    """Like Discord, list every member only with the presences intent; otherwise just the
    bot, and discord.py asks for the rest (op 8) when it has the members intent."""
    every = guild.memberships
    bot_id = state.bot_user.id
    listed = [m for m in every if intents & PRESENCES_INTENT or m.user.id == bot_id]
    payload = guild_payload(guild)
    payload.update(
        unavailable=False,
        large=False,
        joined_at="2024-01-01T00:00:00+00:00",
        member_count=len(every),
        members=[m.payload() for m in listed],
        channels=[state.channels[c.id] for c in guild.channels],
        threads=[],
        presences=[],
        voice_states=[],
        stage_instances=[],
        guild_scheduled_events=[],
        soundboard_sounds=[],
    )
    return payload


def ready_payload(state: DiscordState, session: GatewaySession) -> Json:
    """READY lists the session's guilds as unavailable; GUILD_CREATEs then fill them in."""
    payload: Json = {
        "v": API_VERSION,
        "user": bot_user_payload(state),
        "guilds": [
            {"id": str(gid), "unavailable": True} for gid in state.guilds if session.covers(gid)
        ],
        "session_id": session.id,
        "session_type": "normal",
        "resume_gateway_url": state.resume_gateway_url,
        "application": {"id": str(state.application_id), "flags": state.application_flags},
        "private_channels": [],
        "relationships": [],
        "user_settings": {},
    }
    if session.shard is not None:
        payload["shard"] = list(session.shard)
    return payload
