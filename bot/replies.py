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

from sql.errors import DatabaseTimeout, DatabaseUnavailable, TuneclusterError

log = logging.getLogger("tunecluster.bot")

UNAVAILABLE = "The music catalogue is unavailable right now. Please try again in a minute."
NOT_SET_UP = (
    "The bot isn't fully set up yet, so it can't answer that. A server admin can check /status."
)
# What a member reads for states an operator has to fix; the operator's own words (the
# error's message, e.g. "run `tunecluster train`") go to the log and to administrators.
MEMBER_WORDS: dict[str, str] = {
    "CatalogueEmpty": (
        "There's no music in the catalogue yet, so there's nothing to recommend. "
        "A server admin can check /status."
    ),
    "NoActiveModel": (
        "Recommendations aren't ready yet: the bot hasn't learned its music model. "
        "A server admin can check /status."
    ),
    "NoFeatures": (
        "I don't know how that track sounds yet, so I can't find similar ones. Try another track."
    ),
    "SpotifyNotConfigured": (
        "That track isn't in the catalogue, and this bot can't look tracks up on Spotify. "
        "Try another track, or its name."
    ),
}
NO_GENRE = "I don't know that track's genre yet, so I can't find similar ones. Try another track."
NOT_ANSWERING = "The music catalogue is not answering right now. Please try again in a minute."
UNEXPECTED = "Something went wrong on our side; it has been logged. Please try again later."
MAX_LENGTH = 300


def message_for(error: BaseException, *, operator: bool = False) -> str:
    """The one line a member sees for `error`; an operator (a server administrator) also
    gets the operator's words for what to do."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, DatabaseTimeout):
        return NOT_ANSWERING
    member = _member_words(error)
    if member is not None:
        return f"{member} (for admins: {_first_line(error)})" if operator else member
    if isinstance(error, DatabaseUnavailable):
        return UNAVAILABLE  # the host and port are for the log, not for members
    if isinstance(error, app_commands.TransformerError):  # a value no choice offers
        shown = str(error.value)[:40]
        return f"“{shown}” is not one of the choices offered for that option."
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little: try again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.CheckFailure | TuneclusterError):
        return _first_line(error) or "You can't do that here."
    return UNEXPECTED


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:MAX_LENGTH] if text else ""


def _member_words(error: BaseException) -> str | None:
    """Member words for states only an operator can fix; None: the message already is."""
    if not isinstance(error, TuneclusterError):
        return None
    for cls in type(error).__mro__:
        if cls.__name__ in MEMBER_WORDS:
            return MEMBER_WORDS[cls.__name__]
    text = str(error)
    if type(error).__name__ == "NoBucket" and ("no genre" in text or "no trained model" in text):
        return NO_GENRE
    if "`tunecluster " in text or "(run tunecluster" in text:
        return NOT_SET_UP  # a command to run is for the operator
    return None


def _is_operator(interaction: discord.Interaction) -> bool:
    permissions = getattr(interaction, "permissions", None)
    return bool(permissions and (permissions.administrator or permissions.manage_guild))


def outcome_of(error: BaseException) -> str:
    """How `bot.metrics` counts a failed command: refused (the member's input or rights),
    unavailable (the database), or error (a bug)."""
    text = message_for(error)
    if text == UNEXPECTED:
        return "error"
    return "unavailable" if text in (UNAVAILABLE, NOT_ANSWERING) else "refused"


async def send_error(interaction: discord.Interaction, error: BaseException) -> None:
    """Answer with the ephemeral line, whether or not the interaction was deferred."""
    text = message_for(error, operator=_is_operator(interaction))
    original = getattr(error, "original", error)
    if _member_words(original) is not None:
        log.warning("command %s: %s", _command_name(interaction), _first_line(original))
    elif text in (UNEXPECTED, UNAVAILABLE, NOT_ANSWERING):
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
