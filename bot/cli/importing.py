"""`tunecluster import FORMAT PATH` and `tunecluster ingest-mpd PATH...`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from bot.cli.common import JsonFlag, console, execute, reporting, settings

if TYPE_CHECKING:
    from bot.settings import Settings
    from pipeline.importers.report import ImportReport
    from pipeline.mpd.ingest import MpdReport
    from sql.database import Database

FORMAT_HELP = (
    "seed-csv (folder of the original sample_*.csv), musicoset (folder of the tab-separated "
    "files), tidytuesday (spotify_songs.csv), kaggle-tracks (the Spotify Tracks Dataset CSV)"
)


def import_command(
    fmt: Annotated[str, typer.Argument(metavar="FORMAT", help=FORMAT_HELP)],
    path: Annotated[Path, typer.Argument(help="The dataset's file or folder.")],
    as_json: JsonFlag = False,
) -> None:
    """Import a dataset; reports rows read, inserted, updated, unchanged and skipped."""
    config = settings()
    from pipeline.importers import import_dataset  # pandas: only for this command

    async def body(config: Settings, db: Database) -> ImportReport:
        with reporting(f"import {fmt}", prefix=f"{fmt}: ", transient=True) as report:
            return await import_dataset(db, fmt, path, progress=report)

    execute(body, as_json=as_json, render=_render_import, config=config)


def _render_import(r: dict[str, Any]) -> None:
    console.print(
        f"[bold]{r['format']}[/] {r['path']}: {r['rows_read']:,} rows read, "
        f"{r['rows_skipped']:,} skipped"
    )
    table = Table("table", "inserted", "updated", "unchanged", box=None)
    for name, c in r["tables"].items():
        table.add_row(name, f"{c['inserted']:,}", f"{c['updated']:,}", f"{c['unchanged']:,}")
    console.print(table)
    for skip in r["skipped"]:
        examples = "; ".join(skip["examples"])
        console.print(
            f"skipped {skip['rows']:,}: {skip['reason']}"
            + (f" (e.g. {examples})" if examples else "")
        )
    for note in r["notes"]:
        console.print(f"note: {note}", highlight=False)


def ingest_mpd_command(
    paths: Annotated[
        list[Path], typer.Argument(help="mpd.slice.*.json files or folders holding them.")
    ],
    no_playlists: Annotated[
        bool, typer.Option("--no-playlists", help="Only tracks, artists and albums.")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=0, help="Parsing processes (default: one per core)."),
    ] = None,
    export_extracted: Annotated[
        Path | None,
        typer.Option(
            "--export-extracted",
            help="Also write the original project's extracted.mpd.slice.*.json files here.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Ingest Million Playlist Dataset slices, in parallel; a rerun skips finished slices."""
    config = settings()
    from pipeline.mpd.ingest import ingest_mpd  # pyarrow: only for this command

    async def body(config: Settings, db: Database) -> MpdReport:
        with reporting("slices") as report:  # the service's step is "slices" too
            return await ingest_mpd(
                db,
                paths,
                playlists=not no_playlists,
                workers=workers,
                export_dir=export_extracted,
                progress=report,
            )

    execute(body, as_json=as_json, render=_render_mpd, config=config)


def _render_mpd(r: dict[str, Any]) -> None:
    rate = r["megabytes"] / r["seconds"] if r["seconds"] else 0.0
    console.print(
        f"{r['ingested']:,} slice(s) ingested, {r['already_done']:,} already done, "
        f"{len(r['failed']):,} failed ({r['megabytes']:,} MB in {r['seconds']:.1f} s, "
        f"{rate:.1f} MB/s)"
    )
    console.print(
        f"{r['playlists']:,} playlists, {r['entries_stored']:,} entries; new: "
        f"{r['tracks_new']:,} tracks, {r['artists_new']:,} artists, {r['albums_new']:,} albums"
    )
    if r["tracks_new_without_artist"]:
        console.print(
            f"{r['tracks_new_without_artist']:,} new track(s) stored without an artist "
            "(bad artist URI or name)"
        )
    if r["num_tracks_mismatch"]:
        console.print(f"{r['num_tracks_mismatch']:,} playlist(s) whose num_tracks disagrees")
    for name, error in r["failed"].items():
        console.print(f"[red]failed[/] {name}: {error}", highlight=False)
    for skip in r["skipped"]:
        console.print(f"skipped {skip['rows']:,}: {skip['reason']}", highlight=False)


def register(root: typer.Typer) -> None:
    root.command("import")(import_command)
    root.command("ingest-mpd")(ingest_mpd_command)


__all__ = ["register"]
