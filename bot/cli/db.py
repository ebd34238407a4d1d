"""`tunecluster db init`."""

from __future__ import annotations

import typer

from bot.cli.common import JsonFlag, emit, run, settings

app = typer.Typer(help="Create and upgrade the database schema.", no_args_is_help=True)


@app.command("init")
def init(as_json: JsonFlag = False) -> None:
    """Create the database (MySQL) and apply every migration; safe to rerun."""
    from sql.database import Database
    from sql.migrate import init_schema

    config = settings()

    async def body() -> dict:
        async with Database.from_settings(config) as db:
            result = await init_schema(db)
            return {
                "engine": db.dialect,
                "location": db.location,
                "database_created": result.database_created,
                "revision_before": result.revision_before,
                "revision": result.revision_after,
                "changed": result.changed,
            }

    def render(r: dict) -> None:
        if not r["changed"]:
            typer.echo(
                f"schema already at revision {r['revision']} in {r['location']}; nothing to do"
            )
            return
        created = " (database created)" if r["database_created"] else ""
        before = r["revision_before"] or "empty"
        typer.echo(f"schema {before} → {r['revision']} in {r['location']}{created}")

    emit(run(body()), as_json, render)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="db")
