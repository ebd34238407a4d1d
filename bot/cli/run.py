"""`tunecluster run` (the bot) and `tunecluster sync-commands` (a deliberate global sync)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated

import typer

from bot.cli.common import JsonFlag, emit, run, settings


def run_command() -> None:
    """Start the Discord bot (needs TUNECLUSTER_DISCORD_TOKEN)."""
    from bot.app import run_bot  # discord.py and the whole bot: only for this command

    config = settings()
    config.require_discord_token()
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_bot(config))


def sync_commands(
    guild: Annotated[int | None, typer.Option("--guild", help="Sync to one guild only.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register the slash commands with Discord (globally unless --guild)."""
    from bot.app import sync_global_commands

    config = settings()
    logging.getLogger("discord").setLevel(logging.ERROR)  # no voice-support chatter here
    names = run(sync_global_commands(config, guild))
    emit(
        {"synced": names, "guild": guild},
        as_json,
        lambda r: typer.echo(
            f"synced {len(r['synced'])} commands "
            + (f"to guild {guild}" if guild else "globally (may take up to an hour to show)")
            + f": {', '.join(r['synced'])}"
        ),
    )


def register(root: typer.Typer) -> None:
    root.command("run")(run_command)
    root.command("sync-commands")(sync_commands)
