"""`tunecluster enrich`: complete what the catalogue lacks from Spotify and ReccoBeats."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from bot.cli.common import JsonFlag, console, execute, progress, settings
from sql.errors import TuneclusterError

if TYPE_CHECKING:
    from bot.settings import Settings
    from sql.database import Database

# pipeline.enrichment.TYPES, named here so `--help` loads no HTTP client (a test checks)
TYPES = ("tracks", "albums", "artists", "features")

log = logging.getLogger("tunecluster.enrich")


def _types(values: list[str] | None) -> list[str]:
    chosen = [p.strip() for v in values or [] for p in v.split(",") if p.strip()]
    unknown = sorted(set(chosen) - set(TYPES))
    if unknown:
        raise TuneclusterError(
            f"unknown type(s) {', '.join(unknown)} (choose from {', '.join(TYPES)})"
        )
    return [t for t in TYPES if t in chosen] if chosen else list(TYPES)


def enrich_command(
    types: Annotated[
        list[str] | None,
        typer.Option("--types", help=f"What to complete, comma-separated: {', '.join(TYPES)}."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="At most N entities per type.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Complete artist genres, album dates, popularity, ISRCs and audio features; resumable."""
    config = settings()
    chosen = _types(types)

    async def body(config: Settings, db: Database) -> dict[str, Any]:
        from bot.clients import open_clients
        from pipeline.enrichment import enrich

        async with open_clients(config, db) as (spotify, recco):
            with progress() as bar:  # a bar per type
                tasks = {name: bar.add_task(name, total=None) for name in chosen}

                def report(name: str, done: int, total: int) -> None:
                    bar.update(tasks[name], completed=done, total=total)

                summary = await enrich(
                    db,
                    spotify=spotify,
                    reccobeats=recco,
                    types=chosen,
                    limit=limit,
                    progress=report,
                )
            return summary.as_dict()

    result = execute(body, as_json=as_json, render=_render, config=config)
    if result["stopped"]:
        raise TuneclusterError(result["stopped"])


def _render(r: dict) -> None:
    table = Table(
        "type", "to do", "fetched", "not found", "unavailable", "failed", "req/entity", box=None
    )
    for name, t in r["types"].items():
        if t["skipped"]:
            table.add_row(name, "-", "-", "-", "-", "-", "-", end_section=False)
            continue
        table.add_row(
            name,
            f"{t['pending']:,}",
            f"{t['fetched']:,}",
            f"{t['not_found']:,}",
            f"{t['unavailable']:,}",
            f"{t['failed']:,}",
            f"{r['requests_per_entity'].get(name, 0):.3f}",
        )
    console.print(table)
    for name, t in r["types"].items():
        if t["skipped"]:
            console.print(f"{name}: skipped ({t['skipped']})")
    spotify, recco = r["spotify"], r["reccobeats"]
    console.print(
        f"requests: {r['requests']:,} (Spotify {spotify.get('requests', 0):,}, "
        f"ReccoBeats {recco.get('requests', 0):,}); throttled {spotify.get('throttled', 0) + recco.get('throttled', 0)}, "
        f"retried {spotify.get('retried', 0) + recco.get('retried', 0)}"
    )
    if spotify.get("requests_per_endpoint"):
        per = ", ".join(f"{k} {v:,}" for k, v in spotify["requests_per_endpoint"].items())
        console.print(f"Spotify per endpoint: {per}")
    console.print(
        f"waiting on limits: {r['waited_seconds']:.1f} s summed over requests, "
        f"{r['paused_seconds']:.1f} s of cool-down; elapsed {r['elapsed_seconds']:.1f} s"
    )
    if r["capabilities"]:
        console.print("this app: " + ", ".join(f"{k}={v}" for k, v in r["capabilities"].items()))


def register(root: typer.Typer) -> None:
    root.command("enrich")(enrich_command)
