"""`tunecluster demo`: build a generated catalogue, train, recommend — offline, in seconds."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from bot.cli import evaluate as evaluate_cli
from bot.cli import recommend as recommend_cli
from bot.cli.common import JsonFlag, console, emit, reporting, run
from recommender.taxonomy import display


def demo(
    tracks: Annotated[
        int, typer.Option("--tracks", min=200, max=200_000, help="Generated tracks.")
    ] = 3000,
    as_json: JsonFlag = False,
) -> None:
    """Offline demo on a GENERATED catalogue in its own SQLite file (data/demo.db, models in
    data/demo-models/): never touches your database or models."""
    from bot.services.demo import DemoSettings, run_demo  # heavy: only when used

    async def body() -> dict[str, Any]:  # its own SQLite file: no settings, no database
        with reporting("demo", prefix="demo: ", transient=True) as report:
            return await run_demo(DemoSettings(tracks=tracks), progress=report)

    emit(run(body()), as_json, _render)


def _render(r: dict[str, Any]) -> None:
    label = r["catalogue"]
    console.rule(f"[bold]{label}[/]")
    g = r["generated"]
    console.print(
        f"{g['tracks']:,} tracks, {g['artists']:,} artists, {g['playlists']:,} playlists, all"
        f" generated, in {r['database']} (models in {r['models_dir']})"
    )
    t = r["training"]
    k = ", ".join(f"{display(b)} {m['k']}" for b, m in t["buckets"].items())
    console.print(
        f"trained {t['version']} on {t['data']['trained_tracks']:,} curated tracks; k per bucket: {k}"
    )
    for result in r["recommendations"]:
        console.rule(f"{label}: like this generated track")
        recommend_cli._render_recommendation(result)
    console.rule(f"{label}: offline evaluation on generated playlists")
    evaluate_cli.render(r["evaluation"], brief=True)
    console.print(f"{label}: done in {r['seconds']:.1f} s", style="bold")


def register(root: typer.Typer) -> None:
    root.command("demo")(demo)
