"""What a member reads when something goes wrong: a short ephemeral line, never a trace.

Expected failures (`TuneclusterError`) already carry a one-line message written for
people; the rest is mapped here, and anything unforeseen gets a generic apology while
the details go to the log.
"""

from __future__ import annotations

import contextlib
import logging

import discord
from discord import app_commands

from sql.errors import DatabaseUnavailable, TuneclusterError

log = logging.getLogger("tunecluster.bot")

UNAVAILABLE = "The music catalogue is unavailable right now. Please try again in a minute."
UNEXPECTED = "Something went wrong on our side; it has been logged. Please try again later."
MAX_LENGTH = 300


def message_for(error: BaseException) -> str:
    """The one line a member sees for `error`."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, DatabaseUnavailable):
        return UNAVAILABLE  # the host and port are for the log, not for members
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little: try again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.CheckFailure | TuneclusterError):
        text = str(error).strip() or "You can't do that here."
        return text.splitlines()[0][:MAX_LENGTH]
    return UNEXPECTED


async def send_error(interaction: discord.Interaction, error: BaseException) -> None:
    """Answer with the ephemeral line, whether or not the interaction was deferred."""
    text = message_for(error)
    original = getattr(error, "original", error)
    if text in (UNEXPECTED, UNAVAILABLE):
        log.error("command %s failed", _command_name(interaction), exc_info=original)
    else:
        log.info("command %s refused: %s", _command_name(interaction), text)
    try:
        if interaction.response.is_done():
            await _replace_thinking(interaction)
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell the member about the failure of %s", _command_name(interaction))


async def _replace_thinking(interaction: discord.Interaction) -> None:
    """After a public defer, the first follow-up would take over the public "thinking"
    message; deleting it first lets the error go to the member alone."""
    with contextlib.suppress(discord.HTTPException):  # nothing to delete: fine
        await interaction.delete_original_response()


def _command_name(interaction: discord.Interaction) -> str:
    return interaction.command.qualified_name if interaction.command else "?"
