"""`tunecluster import FORMAT PATH` and `tunecluster ingest-mpd PATH...`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bot.cli.common import JsonFlag, console, emit, open_database, progress, run, settings

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

    async def body() -> dict:
        async with open_database(config) as db:
            with progress(transient=True) as bar:
                task = bar.add_task(f"import {fmt}", total=None)

                def step(stage: str, done: int, total: int) -> None:
                    bar.update(task, description=f"{fmt}: {stage}", completed=done, total=total)

                report = await import_dataset(db, fmt, path, progress=step)
            return report.to_dict()

    emit(run(body()), as_json, _render_import)


def _render_import(r: dict) -> None:
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

    async def body() -> dict:
        async with open_database(config) as db:
            with progress() as bar:
                task = bar.add_task("slices", total=None)

                def step(_: str, done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                report = await ingest_mpd(
                    db,
                    paths,
                    playlists=not no_playlists,
                    workers=workers,
                    export_dir=export_extracted,
                    progress=step,
                )
            return report.to_dict()

    result = run(body())
    emit(result, as_json, _render_mpd)


def _render_mpd(r: dict) -> None:
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
