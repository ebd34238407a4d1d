"""`tunecluster discovery post [GUILD] [--due]`: a discovery post from the command line,
through Discord's REST API only (log in with the token, send; no gateway connection).

Without `--due` it posts to GUILD's channel now. With `--due` it posts the slot each
guild (or GUILD) owes now, claimed like the bot's scheduler claims it, so cron (every
few minutes) and a running bot never post one slot twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli.common import JsonFlag, console, execute, settings
from sql.errors import TuneclusterError

if TYPE_CHECKING:  # discord.py and the bot load only when a post is sent
    import discord

    from bot.services.discovery import Deliver
    from bot.settings import Settings
    from sql.database import Database

app = typer.Typer(help="Scheduled discovery posts.", no_args_is_help=True)


@asynccontextmanager
async def rest_client(config: Settings) -> AsyncIterator[discord.Client]:
    """A discord.py client logged in over REST only (it never opens the gateway)."""
    import discord

    from bot.app import point_discord_at, reaching_discord

    token = config.require_discord_token()
    point_discord_at(config.discord_api_url, config.discord_gateway_url)
    client = discord.Client(intents=discord.Intents.none())
    try:
        with reaching_discord(config):
            await client.login(token)
        yield client
    finally:
        await client.close()


@app.command("post")
def post_command(
    guild: Annotated[int | None, typer.Argument(help="The guild (server) id.")] = None,
    due: Annotated[
        bool,
        typer.Option("--due", help="Only the slot due now, if not posted yet (for cron)."),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Post one track per genre to a guild's discovery channel (or every due guild)."""
    if guild is None and not due:
        raise TuneclusterError("name a GUILD id to post now, or use --due for every due guild")
    config = settings()
    from bot.discovery_messages import deliverer

    async def body(config: Settings, db: Database) -> list[dict[str, Any]]:
        async with rest_client(config) as client:
            deliver = deliverer(client, db, config)
            if due:
                return await _post_due(db, config, deliver, guild)
            assert guild is not None
            return [await _post_now(db, config, deliver, guild)]

    results = execute(body, as_json=as_json, render=_render, config=config)
    failed = [r for r in results if r["outcome"] == "failed"]
    if failed:
        raise TuneclusterError(failed[0].get("error") or "a discovery post failed")


async def _post_now(db: Database, config: Settings, deliver: Deliver, guild: int) -> dict[str, Any]:
    from bot.services import discovery as service

    post = await service.post_now(db, guild, deliver, no_repeat_days=config.no_repeat_days)
    return {"guild_id": guild, "outcome": "ok", **post.to_dict()}


async def _post_due(
    db: Database, config: Settings, deliver: Deliver, guild: int | None
) -> list[dict[str, Any]]:
    """The slot each guild (or `guild`) owes now, claimed as the bot's scheduler claims it."""
    from bot.services import discovery as service
    from bot.services.jobs import holder_id
    from sql import guilds

    async with db.connection() as conn:
        rows = await guilds.discovery_guilds(conn)
    holder = holder_id("cli")
    results = []
    for row in rows:
        if guild is not None and row["guild_id"] != guild:
            continue
        outcome = await service.scheduled_post(
            db, row["guild_id"], deliver, holder, no_repeat_days=config.no_repeat_days
        )
        if outcome is not None:
            detail = outcome.detail.to_dict() if outcome.detail is not None else {}
            results.append(
                {
                    "guild_id": row["guild_id"],
                    "outcome": outcome.outcome,
                    "error": outcome.error,
                    **detail,
                }
            )
    return results


def _render(results: list[dict[str, Any]]) -> None:
    if not results:
        console.print("no discovery slot is due")
    for r in results:
        if r["outcome"] != "ok":
            console.print(
                f"guild {r['guild_id']}: {r['outcome']} — {r.get('error')}", highlight=False
            )
            continue
        picks = ", ".join(f"{p['name']} ({p['bucket_label']})" for p in r["picks"])
        console.print(
            f"guild {r['guild_id']}: posted in channel {r['channel_id']}: {picks}", highlight=False
        )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="discovery")
