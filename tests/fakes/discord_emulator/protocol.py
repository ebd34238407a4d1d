"""Discord's numbers as the emulator speaks them: API version, opcodes, flags, bits, ids.

Why one module: the REST routes, the gateway and the payload builders must agree on
every number, and tests import the permission and flag values to build their specs.
"""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime
from typing import Any

import discord

Json = dict[str, Any]

API_VERSION = 10
API_PREFIX = f"/api/v{API_VERSION}"
DISCORD_EPOCH_MS = 1_420_070_400_000
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024

# Message flags.
EPHEMERAL = 1 << 6
LOADING = 1 << 7

# Gateway opcodes.
DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, VOICE_STATE = 0, 1, 2, 3, 4
RESUME, RECONNECT, REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 6, 7, 8, 9, 10, 11

# Interaction types.
APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE = 2, 3, 4

ALL_PERMISSIONS = discord.Permissions.all().value
ADMINISTRATOR = discord.Permissions(administrator=True).value
# What a bot is granted by default; every member has these too, and a few more.
_MESSAGING = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    attach_files=True,
    add_reactions=True,
    read_message_history=True,
    use_application_commands=True,
)
DEFAULT_BOT_PERMISSIONS = _MESSAGING.value
DEFAULT_EVERYONE_PERMISSIONS = (
    _MESSAGING
    | discord.Permissions(
        create_instant_invite=True,
        change_nickname=True,
        create_public_threads=True,
        use_external_emojis=True,
        connect=True,
        speak=True,
        use_voice_activation=True,
    )
).value

PRIVILEGED_INTENTS = discord.Intents(members=True, presences=True, message_content=True).value
GUILD_MESSAGES_INTENT = discord.Intents(guild_messages=True).value
DM_MESSAGES_INTENT = discord.Intents(dm_messages=True).value
MESSAGE_CONTENT_INTENT = discord.Intents(message_content=True).value
PRESENCES_INTENT = discord.Intents(presences=True).value

_id_counter = itertools.count(1)


def new_id() -> int:
    """A fresh snowflake timestamped now, so discord.py's created_at and sharding behave."""
    ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    return (ms << 22) | (next(_id_counter) % (1 << 22))


def now_iso() -> str:
    """A timestamp as Discord writes message times."""
    return datetime.now(UTC).isoformat()


def as_int(value: Any) -> int | None:
    """A snowflake from a path segment or a JSON field; None when it is not one."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def permission_bits(permissions: int | discord.Permissions) -> int:
    """Raw bits from either form a test may pass."""
    return permissions.value if isinstance(permissions, discord.Permissions) else int(permissions)
