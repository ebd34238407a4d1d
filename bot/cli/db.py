"""`tunecluster db init`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from bot.cli.common import JsonFlag, execute

if TYPE_CHECKING:
    from bot.settings import Settings
    from sql.database import Database

app = typer.Typer(help="Create and upgrade the database schema.", no_args_is_help=True)


@app.command("init")
def init(as_json: JsonFlag = False) -> None:
    """Create the database (MySQL) and apply every migration; safe to rerun."""
    from sql.migrate import init_schema

    async def body(config: Settings, db: Database) -> dict[str, Any]:
        result = await init_schema(db)
        return {
            "engine": db.dialect,
            "location": db.location,
            "database_created": result.database_created,
            "revision_before": result.revision_before,
            "revision": result.revision_after,
            "changed": result.changed,
        }

    def render(r: dict[str, Any]) -> None:
        if not r["changed"]:
            typer.echo(
                f"schema already at revision {r['revision']} in {r['location']}; nothing to do"
            )
            return
        created = " (database created)" if r["database_created"] else ""
        before = r["revision_before"] or "empty"
        typer.echo(f"schema {before} → {r['revision']} in {r['location']}{created}")

    execute(body, as_json=as_json, render=render, require_schema=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="db")
