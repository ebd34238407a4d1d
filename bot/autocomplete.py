"""Catalogue autocomplete for the `track` options (it cannot defer: answer at once)."""

from __future__ import annotations

import asyncio
import logging

import discord
from discord import app_commands

from pipeline import search
from sql import catalogue

log = logging.getLogger("tunecluster.bot")

MIN_TYPED = 2
LIMIT = 25  # Discord's cap on choices
BUDGET_SECONDS = 2.5  # Discord drops an autocomplete answer after 3 s
CHOICE_LENGTH = 100  # Discord's cap on a choice's name and value


def choice_name(row: dict) -> str:
    by = ", ".join(row["artists"]) or "unknown artist"
    year = f" ({row['release_year']})" if row.get("release_year") else ""
    text = f"{row['name']} — {by}{year}"
    return text if len(text) <= CHOICE_LENGTH else text[: CHOICE_LENGTH - 1] + "…"


async def catalogue_tracks(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Tracks with the typed words anywhere in the title or an artist's name, typos
    forgiven (pipeline.search); the value is the track id. Until the word index is built
    (at start, in the background) it offers what the catalogue's prefix seek finds."""
    if len(current.strip()) < MIN_TYPED:
        return []
    db = interaction.client.context.db  # type: ignore[attr-defined]
    try:
        async with asyncio.timeout(BUDGET_SECONDS):  # a silent database: no choices, in time
            if search.cache_for(db).ready:
                rows = await search.find(db, current, limit=LIMIT)
            else:
                search.cache_for(db).warm(db)
                async with db.connection() as conn:
                    rows = await catalogue.search(conn, current, limit=LIMIT)
    except Exception as error:  # there is no error reply to autocomplete: offer nothing
        log.warning("autocomplete failed: %s", error)
        return []
    return [app_commands.Choice(name=choice_name(row), value=row["track_id"]) for row in rows]
