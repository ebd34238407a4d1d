"""`tunecluster stats`: what the catalogue holds and where it lives."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from bot.cli.common import JsonFlag, console, execute

if TYPE_CHECKING:
    from bot.settings import Settings
    from sql.database import Database


def stats(
    as_json: JsonFlag = False,
    curation: Annotated[
        bool,
        typer.Option("--curation", help="Also show the curation funnel (rows in/out per filter)."),
    ] = False,
) -> None:
    """Rows per table, the database engine and its location (password masked)."""
    from sql import catalogue
    from sql.migrate import schema_revision

    async def body(config: Settings, db: Database) -> dict[str, Any]:
        async with db.connection() as conn:
            counts = await catalogue.counts(conn)
        result = {
            "engine": db.dialect,
            "location": db.location,
            "url": db.masked_url,
            "revision": await schema_revision(db),
            "counts": counts,
        }
        if curation:  # imported here: pandas is slow to load for the plain counts
            from pipeline.curation import CurationFilters, curate_catalogue

            filters = CurationFilters.from_settings(config)
            result["curation"] = (await curate_catalogue(db, filters)).to_dict()
        return result

    def render(r: dict[str, Any]) -> None:
        console.print(f"[bold]{r['engine']}[/] at {r['location']} (schema {r['revision']})")
        table = Table("table", "rows", box=None)
        for name, count in r["counts"].items():
            table.add_row(name, f"{count:,}")
        console.print(table)
        if "curation" in r:
            from bot.cli.eda import render_funnel

            render_funnel(r["curation"])

    execute(body, as_json=as_json, render=render)


def register(root: typer.Typer) -> None:
    root.command("stats")(stats)
