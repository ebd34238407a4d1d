"""`tunecluster eda --out DIR`, and the curation funnel table `stats --curation` prints."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from bot.cli.common import JsonFlag, console, execute, reporting

if TYPE_CHECKING:
    from bot.settings import Settings
    from pipeline.eda import EdaResult
    from sql.database import Database


def eda_command(
    out: Annotated[Path, typer.Option("--out", help="Folder for the PNG figures and index.html.")],
    as_json: JsonFlag = False,
) -> None:
    """Figures of the catalogue vs the curated set, and the funnel (PNGs + index.html)."""
    from pipeline.curation import CurationFilters  # pandas and matplotlib load slowly:
    from pipeline.eda import write_eda  # only when this command runs

    async def body(config: Settings, db: Database) -> EdaResult:
        with reporting("loading the catalogue and drawing", transient=True):
            return await write_eda(
                db, out, CurationFilters.from_settings(config), genre_map_file=config.genre_map_file
            )

    def render(r: dict[str, Any]) -> None:
        render_funnel(r["curation"])
        console.print(f"{len(r['figures'])} figures and {r['index']}")
        for warning in r["warnings"]:
            console.print(f"warning: {warning}", highlight=False)

    execute(body, as_json=as_json, render=render)


def render_funnel(curation: dict[str, Any]) -> None:
    """The funnel as a table: rows in and out per filter, and what each noticed."""
    table = Table("filter", "rule", "rows in", "rows out", "dropped", "detail", box=None)
    for step in curation["funnel"]:
        detail = describe_detail(step["detail"])
        table.add_row(
            step["filter"],
            step["rule"],
            f"{step['rows_in']:,}",
            f"{step['rows_out']:,}",
            f"{step['dropped']:,}",
            detail,
        )
    console.print(table)
    sources = ", ".join(f"{k} {v:,}" for k, v in curation["popularity_sources"].items())
    console.print(
        f"curated: {curation['rows_out']:,} of {curation['rows_in']:,} tracks; popularity "
        f"for the floor from: {sources}; fingerprint {curation['fingerprint'][:16]}",
        highlight=False,
    )


def describe_detail(detail: dict[str, Any]) -> str:
    """'missing per feature: time_signature 13,881; …' from a funnel step's detail."""
    parts = []
    for key, value in detail.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v:,}" for k, v in value.items()) or "none"
        elif isinstance(value, int):
            value = f"{value:,}"
        elif isinstance(value, float):
            value = f"{value:,.0f}"
        parts.append(f"{key.replace('_', ' ')}: {value}")
    return "; ".join(parts)


def register(root: typer.Typer) -> None:
    root.command("eda")(eda_command)
