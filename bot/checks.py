"""Who may run the administrative commands.

`default_permissions` only hides a command by default (server admins can change it), so
every privileged command also carries one of these real checks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import discord
from discord import app_commands

if TYPE_CHECKING:
    from bot.app import TuneclusterBot


class NotAllowed(app_commands.CheckFailure):
    """The member lacks the right; the message is shown to them as it is."""


async def is_bot_owner(interaction: discord.Interaction) -> bool:
    """The application's owner, or a member of the team that owns it."""
    bot: TuneclusterBot = interaction.client  # type: ignore[assignment]
    return await bot.is_owner(interaction.user)


def is_admin_of_listed_guild(interaction: discord.Interaction) -> bool:
    """An administrator of a guild named in TUNECLUSTER_ADMIN_GUILD_IDS."""
    bot: TuneclusterBot = interaction.client  # type: ignore[assignment]
    return (
        interaction.guild_id is not None
        and interaction.guild_id in bot.settings.admin_guild_ids
        and interaction.permissions.administrator
    )


def _allowing(allowed: Callable[[discord.Interaction], bool], refusal: str):
    """A check that passes the members `allowed` picks out, and the bot's owners; anyone
    else is refused with `refusal` (NotAllowed)."""

    async def predicate(interaction: discord.Interaction) -> bool:
        if allowed(interaction) or await is_bot_owner(interaction):
            return True
        raise NotAllowed(refusal)

    return app_commands.check(predicate)


def owner_or_listed_admin():
    """For /retrain: the bot's owners, and administrators of the admin guilds."""
    return _allowing(
        is_admin_of_listed_guild,
        "Only the bot's owners and administrators of its admin servers may do that.",
    )


def owner_only():
    """The bot's owners alone."""
    return _allowing(lambda _: False, "Only the bot's owners may do that.")


def administrator():
    """Server administrators (and the bot's owners)."""
    return _allowing(
        lambda interaction: interaction.permissions.administrator,
        "Only server administrators may do that.",
    )


def manage_server():
    """Members with Manage Server (and the bot's owners)."""
    return _allowing(
        lambda interaction: interaction.permissions.manage_guild,
        "You need the Manage Server permission for that.",
    )
