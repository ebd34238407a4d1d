"""`tunecluster setup`: database, datasets, import, training, in one command."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli.common import JsonFlag, console, execute, reporting, settings
from recommender.taxonomy import display

if TYPE_CHECKING:
    from bot.services.setup import SetupReport
    from bot.settings import Settings
    from sql.database import Database


def setup(
    dataset_names: Annotated[
        str,
        typer.Option(
            "--datasets",
            metavar="NAMES",
            help="Comma-separated: tidytuesday, kaggle-tracks (musicoset: see docs).",
        ),
    ] = "tidytuesday",
    as_json: JsonFlag = False,
) -> None:
    """From nothing to a trained model: creates the database, downloads the public datasets
    (checksums pinned, cached), imports them and trains. Rerun it: it does only what is missing.
    """
    from bot.services.setup import run_setup  # heavy: only when used
    from bot.services.train import TrainSettings
    from pipeline import datasets

    config = settings()
    chosen = datasets.parse_names(dataset_names)
    cache_dir = Path(config.datasets_cache_dir or datasets.default_cache_dir())

    async def body(config: Settings, db: Database) -> SetupReport:
        with reporting("setup", transient=True) as report:
            return await run_setup(
                db,
                TrainSettings.from_settings(config),
                chosen,
                cache_dir=cache_dir,
                mirror=config.datasets_mirror,
                progress=report,
            )

    # no schema yet is what setup is for: it creates it
    execute(body, as_json=as_json, render=_render, config=config, require_schema=False)


def _render(r: dict[str, Any]) -> None:
    console.print(
        f"database: {r['location']}" + (" (schema created)" if r["schema_changed"] else ""),
        highlight=False,
    )
    for d in r["datasets"]:
        got = "downloaded" if d["downloaded"] else "already downloaded"
        done = f"imported {d['rows_read']:,} rows" if d["imported"] else "already imported"
        console.print(f"{d['name']}: {got}, {done} ({d['path']})", highlight=False)
    if r["trained"]:
        console.print(f"trained model {r['model_version']}", highlight=False)
    else:
        console.print(f"model {r['model_version']} already serves; nothing new to train on")
    buckets = ", ".join(f"{display(name)} (k={b.get('k')})" for name, b in r["buckets"].items())
    console.print(
        f"the bot will serve {r['tracks']:,} catalogue tracks; genres with a model: "
        f"{buckets or 'none'}",
        highlight=False,
    )
    example = (r["example"] or "a track name").replace('"', "")
    console.print("next:", style="bold")
    console.print(f'  tunecluster recommend "{example}"', highlight=False)
    console.print(
        "  the Discord bot: docs/discord.md (create the application, set "
        "TUNECLUSTER_DISCORD_TOKEN, then tunecluster run)",
        highlight=False,
    )


def register(root: typer.Typer) -> None:
    root.command("setup")(setup)
