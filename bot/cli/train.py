"""`tunecluster train`: fit a new model version, or switch to a kept one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from bot.cli.common import JsonFlag, console, execute, reporting, settings
from recommender.taxonomy import display

if TYPE_CHECKING:
    from bot.services.train import TrainReport
    from bot.settings import Settings
    from sql.database import Database


def train(
    activate: Annotated[
        str | None,
        typer.Option(
            "--activate", metavar="VERSION", help="Switch serving to a kept VERSION (rollback)."
        ),
    ] = None,
    list_versions: Annotated[
        bool, typer.Option("--list", help="List the model versions and which one serves.")
    ] = False,
    no_activate: Annotated[
        bool, typer.Option("--no-activate", help="Train, but keep the current version serving.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Curate the catalogue, fit one scaler + K-Means per genre bucket (k chosen per bucket),
    write every track's cluster, then make the new version serve."""
    from bot.services import train as service  # heavy (scikit-learn): only when used
    from recommender.store import open_store

    config = settings()
    options = service.TrainSettings.from_settings(config)

    async def body(config: Settings, db: Database) -> dict[str, Any] | TrainReport:
        if list_versions:
            return {"versions": await service.list_versions(db)}
        if activate:
            switched = await service.activate(
                db, options.models_dir, activate, open_store(options.store, db)
            )
            return {
                "activated": switched.version,
                "previous": switched.previous,
                "genres_mapped": switched.genres_mapped,
            }
        with reporting("training") as report:
            return await service.train(db, options, activate=not no_activate, progress=report)

    execute(body, as_json=as_json, render=_render, config=config)


def _render(r: dict[str, Any]) -> None:
    if "versions" in r:
        _render_versions(r["versions"])
        return
    if "activated" in r and "version" not in r:
        before = r["previous"] or "none"
        console.print(f"now serving [bold]{r['activated']}[/] (was {before})")
        return
    console.print(f"model [bold]{r['version']}[/] (data fingerprint {r['fingerprint'][:12]})")
    _render_data(r)
    _render_buckets(r["buckets"])
    seconds = ", ".join(f"{k} {v:.1f} s" for k, v in r["seconds"].items())
    console.print(f"{r['assignments']:,} assignments written; {seconds}")
    if r["activated"]:
        console.print(f"now serving [bold]{r['version']}[/] (was {r['previous'] or 'none'})")
    else:
        console.print(f"trained, not activated: `tunecluster train --activate {r['version']}`")
    if r["pruned"]:
        console.print(f"pruned old versions: {', '.join(r['pruned'])}")


def _render_data(r: dict[str, Any]) -> None:
    """What was trained on: the curation funnel, the features, the tracks."""
    data, curation = r["data"], r["curation"]
    funnel = Table("curation", "rule", "rows in", "rows out", box=None)
    for step in curation["funnel"]:
        funnel.add_row(
            step["filter"], step["rule"], f"{step['rows_in']:,}", f"{step['rows_out']:,}"
        )
    console.print(funnel)
    features = r["features"]
    dropped = ", ".join(f"{k} ({v:.0%} coverage)" for k, v in features["dropped"].items())
    console.print(
        f"features: {', '.join(features['sound'])}"
        + (f"; dropped {dropped}" if dropped else "")
        + f"; imputed when missing: {', '.join(features['imputed_when_missing']) or 'none'}"
    )
    console.print(
        f"{data['trained_tracks']:,} tracks trained ({data['tracks_without_genre']:,} curated"
        f" tracks have no genre); others: {data['others_genre_share']:.1%} of distinct genres,"
        f" {data['others_track_share']:.1%} of tracks"
    )


def _render_buckets(buckets: dict[str, Any]) -> None:
    table = Table(
        "bucket", "tracks", "k", "criterion", "silhouette", "largest / smallest", box=None
    )
    for bucket, b in buckets.items():
        sizes = b["cluster_sizes"]
        silhouette = "-" if b["silhouette_at_k"] is None else f"{b['silhouette_at_k']:.3f}"
        table.add_row(
            display(bucket),
            f"{b['tracks']:,}",
            str(b["k"]),
            b["criterion"],
            silhouette,
            f"{max(sizes):,} / {min(sizes):,}",
        )
    console.print(table)


def _render_versions(rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print("no model trained yet: run `tunecluster train`")
        return
    table = Table("", "version", "status", "created", "error", box=None)
    for row in rows:
        table.add_row(
            "*" if row["active"] else "",
            row["version"],
            row["status"],
            str(row["created_at"])[:19],
            (row["error"] or "")[:60],
        )
    console.print(table)


def register(root: typer.Typer) -> None:
    root.command("train")(train)
