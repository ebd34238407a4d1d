"""`tunecluster stats`: what the catalogue holds and where it lives."""

from __future__ import annotations

import typer
from rich.table import Table

from bot.cli.common import JsonFlag, console, emit, open_database, run, settings
from sql import catalogue
from sql.migrate import schema_revision


def stats(as_json: JsonFlag = False) -> None:
    """Rows per table, the database engine and its location (password masked)."""
    config = settings()

    async def body() -> dict:
        async with open_database(config) as db:
            async with db.connection() as conn:
                counts = await catalogue.counts(conn)
            return {
                "engine": db.dialect,
                "location": db.location,
                "url": db.masked_url,
                "revision": await schema_revision(db),
                "counts": counts,
            }

    def render(r: dict) -> None:
        console.print(f"[bold]{r['engine']}[/] at {r['location']} (schema {r['revision']})")
        table = Table("table", "rows", box=None)
        for name, count in r["counts"].items():
            table.add_row(name, f"{count:,}")
        console.print(table)

    emit(run(body()), as_json, render)


def register(root: typer.Typer) -> None:
    root.command("stats")(stats)
