"""Ingesting Million Playlist Dataset slices: parsed in parallel, written in order, resumable.

Worker processes parse slices (`pipeline.mpd.parse`) a few files ahead while this
process writes the previous one. Each slice lands in one transaction together with its
`source_file` row (status `done`), so after a crash or Ctrl-C a rerun skips exactly the
slices that landed and redoes the one that was cut off. A slice that cannot be parsed
is recorded as `failed` with the reason, and the run goes on.

MPD rows only add to the catalogue: tracks, artists and albums are inserted when new
and never overwrite what a richer source stored (the MPD has names and durations,
nothing else); the first slice (in slice order) that has a track decides its names, so
an interrupted and resumed run ends with the same catalogue as an uninterrupted one.
Artist-album links are not derived: an entry's artist is the track's primary artist,
not necessarily the album's (compilations).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from itertools import compress
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy.ext.asyncio import AsyncConnection

from pipeline.mpd.parse import parse_slice, start_worker
from pipeline.mpd.slice_data import SliceData, entry_rows
from sql import bulk, clock, source_files
from sql.database import Database
from sql.errors import TuneclusterError
from sql.normalize import clip_name, norm_name

KIND = "mpd"
SOURCE = "mpd"
SLICE_NAME = re.compile(r"mpd\.slice\.(\d+)-(\d+)\.json")
ProgressFn = Callable[[str, int, int], None]
SliceHook = Callable[[str], Awaitable[None] | None]


@dataclass
class SliceStats:
    name: str
    bytes: int
    playlists: int
    entries: int
    new_tracks: int
    new_artists: int
    new_albums: int
    write_seconds: float
    wait_seconds: float  # waiting for the parsers before this slice could be written


@dataclass
class MpdReport:
    files: int = 0
    ingested: list[str] = field(default_factory=list)
    already_done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    playlists: int = 0
    entries_read: int = 0
    entries: int = 0
    # Rows this run inserted: a track, artist or album the catalogue held already (from
    # another source, or an earlier run) is not new.
    tracks_new: int = 0
    artists_new: int = 0
    albums_new: int = 0
    tracks_new_without_artist: int = 0  # inserted with no artist link (bad artist URI/name)
    num_tracks_mismatch: int = 0
    renumbered: int = 0
    skipped: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    bytes: int = 0
    seconds: float = 0.0
    slices: list[SliceStats] = field(default_factory=list)

    def count_read(self, data: SliceData) -> None:
        """What a slice read, whether it lands or not: its bytes and its skipped rows by
        reason, with up to three examples of each."""
        self.bytes += data.size
        for reason, n in data.skipped.items():
            self.skipped[reason] += n
            kept = self.examples.setdefault(reason, [])
            kept.extend(data.examples.get(reason, [])[: 3 - len(kept)])

    def count_landed(
        self, data: SliceData, entries: int, inserted: Inserted, seconds: float, wait: float
    ) -> None:
        """What a slice that landed brought."""
        self.ingested.append(data.name)
        self.playlists += len(data.playlists)
        self.entries_read += data.entries_read
        self.entries += entries
        self.tracks_new += inserted.tracks
        self.artists_new += inserted.artists
        self.albums_new += inserted.albums
        self.tracks_new_without_artist += inserted.tracks_without_artist
        self.num_tracks_mismatch += data.num_tracks_mismatch
        self.renumbered += data.renumbered
        self.slices.append(
            SliceStats(
                data.name,
                data.size,
                len(data.playlists),
                entries,
                inserted.tracks,
                inserted.artists,
                inserted.albums,
                seconds,
                wait,
            )
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "ingested": len(self.ingested),
            "already_done": len(self.already_done),
            "failed": self.failed,
            "playlists": self.playlists,
            "entries_read": self.entries_read,
            "entries_stored": self.entries,
            "tracks_new": self.tracks_new,
            "artists_new": self.artists_new,
            "albums_new": self.albums_new,
            "tracks_new_without_artist": self.tracks_new_without_artist,
            "num_tracks_mismatch": self.num_tracks_mismatch,
            "playlists_renumbered": self.renumbered,
            "skipped": [
                {"reason": r, "rows": n, "examples": self.examples.get(r, [])}
                for r, n in self.skipped.most_common()
            ],
            "megabytes": round(self.bytes / 1e6, 1),
            "seconds": round(self.seconds, 2),
        }


def slice_paths(paths: Iterable[Path | str]) -> list[Path]:
    """The slice files named or inside the folders named, in slice order."""
    found: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in path.glob("mpd.slice.*.json"):
                found[child] = None
        elif path.is_file():
            found[path] = None
        else:
            raise TuneclusterError(f"{path}: no such file or folder")
    if not found:
        raise TuneclusterError("no mpd.slice.*.json files in the paths given")

    def order(path: Path) -> tuple[int, str]:
        match = SLICE_NAME.fullmatch(path.name)
        return (int(match.group(1)) if match else 1 << 62, path.name)

    return sorted(found, key=order)


async def recorded_slices(db: Database) -> dict[str, tuple[str, int | None]]:
    """name → (status, size) of every MPD slice the database has a record of."""
    async with db.connection() as conn:
        return await source_files.records(conn, KIND)


def landed(path: Path, known: dict[str, tuple[str, int | None]]) -> bool:
    """The slice landed whole: `known` (`recorded_slices`) has it done at its size."""
    status, size = known.get(path.name, (None, None))
    return status == "done" and size == path.stat().st_size


@dataclass
class SliceRows:
    """A parsed slice's rows in the shape the database driver takes."""

    tracks: list[tuple]
    artists: list[tuple]
    albums: list[tuple]
    entries: list[tuple]


@dataclass
class Inserted:
    """What one slice's catalogue write inserted (not what it sent)."""

    tracks: int = 0
    artists: int = 0
    albums: int = 0
    tracks_without_artist: int = 0


@dataclass
class Written:
    """The ids this run has written: a slice brings all its distinct tracks (the same
    popular tracks come in hundreds of slices), and only the new ones are written."""

    tracks: set[str] = field(default_factory=set)
    artists: set[str] = field(default_factory=set)
    albums: set[str] = field(default_factory=set)

    def rows_to_write(self, data: SliceData, with_playlists: bool) -> SliceRows:
        return SliceRows(
            _fresh(data.tracks, self.tracks),
            _fresh(data.artists, self.artists),
            _fresh(data.albums, self.albums),
            entry_rows(data.entries) if with_playlists else [],
        )


async def ingest_mpd(
    db: Database,
    paths: Iterable[Path | str],
    *,
    playlists: bool = True,
    workers: int | None = None,
    export_dir: Path | None = None,
    progress: ProgressFn | None = None,
    after_slice: SliceHook | None = None,
) -> MpdReport:
    """Ingest the slices; `workers=0` parses in this process (tests, tiny inputs)."""
    files = slice_paths(paths)
    if export_dir is not None:
        await asyncio.to_thread(export_dir.mkdir, parents=True, exist_ok=True)
    known = await recorded_slices(db)
    report = MpdReport(files=len(files))
    todo: list[Path] = []
    for path in files:
        if landed(path, known):
            report.already_done.append(path.name)
        else:
            todo.append(path)
    started = time.perf_counter()
    written = Written()
    if progress:
        progress("slices", 0, len(todo))
    parsed = _parsed(todo, playlists, workers, export_dir)
    try:
        waiting = time.perf_counter()
        async for done, data in _enumerate(parsed):
            rewrite = data.name in known
            wait = time.perf_counter() - waiting
            await _land(db, data, written, report, playlists=playlists, rewrite=rewrite, wait=wait)
            if progress:
                progress("slices", done + 1, len(todo))
            if after_slice is not None:
                outcome = after_slice(data.name)
                if outcome is not None:
                    await outcome
            waiting = time.perf_counter()
    finally:
        await parsed.aclose()
        report.seconds = time.perf_counter() - started
    return report


async def _enumerate(source):
    index = 0
    async for item in source:
        yield index, item
        index += 1


async def _parsed(todo: list[Path], with_playlists: bool, workers: int | None, export_dir):
    """Parsed slices in file order, parsing up to a few files ahead in worker processes."""
    export = str(export_dir) if export_dir is not None else None
    job = partial(parse_slice, with_playlists=with_playlists, export_dir=export)
    if workers == 0 or (len(todo) <= 1 and workers is None):
        for path in todo:
            yield await asyncio.to_thread(job, str(path))
        return
    count = max(1, min(workers or os.cpu_count() or 1, len(todo)))
    pool = ProcessPoolExecutor(
        count,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=start_worker,
        initargs=(os.getpid(),),
    )
    pending: deque[Future] = deque()
    queue = iter(todo)
    try:
        for path in queue:
            pending.append(pool.submit(job, str(path)))
            if len(pending) >= count + 1:
                break
        while pending:
            data = await asyncio.wrap_future(pending.popleft())
            nxt = next(queue, None)
            if nxt is not None:
                pending.append(pool.submit(job, str(nxt)))
            yield data
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _fresh(table: pa.Table, seen: set[str]) -> list[tuple]:
    """Rows whose id (first column) is not in `seen`, then added to it."""
    ids = table.column(0).to_pylist()
    keep = [i not in seen for i in ids]
    if not all(keep):
        table = table.filter(pa.array(keep, pa.bool_()))
        ids = list(compress(ids, keep))
    seen.update(ids)
    return list(zip(ids, *(column.to_pylist() for column in table.columns[1:]), strict=True))


async def _land(
    db: Database,
    data: SliceData,
    written: Written,
    report: MpdReport,
    *,
    playlists: bool,
    rewrite: bool,
    wait: float = 0.0,
) -> None:
    """Write one parsed slice (or its failure) with its source_file record."""
    report.count_read(data)
    if data.error is not None:
        report.failed[data.name] = data.error
        async with db.transaction() as conn:
            await _record(conn, data, "failed", data.error)
        return
    started = time.perf_counter()
    # ~50 ms of CPU per slice: off the loop (the bot ingests watched folders on its own)
    new = await asyncio.to_thread(written.rows_to_write, data, playlists)
    async with db.transaction() as conn:
        async with bulk.parents_first(conn):
            inserted = await _write_catalogue(conn, new.tracks, new.artists, new.albums)
            if playlists:
                await _write_playlists(conn, data, new.entries, rewrite)
        detail = (
            f"{len(data.playlists)} playlists, {len(new.entries)} entries, "
            f"{data.distinct_tracks} distinct tracks; num_tracks mismatches: "
            f"{data.num_tracks_mismatch}"
        )
        await _record(conn, data, "done", detail)
    report.count_landed(data, len(new.entries), inserted, time.perf_counter() - started, wait)


async def _write_catalogue(
    conn: AsyncConnection, tracks: list[tuple], artists: list[tuple], albums: list[tuple]
) -> Inserted:
    """Insert-if-absent: the MPD never overwrites what another source stored. The counts
    returned are rows the engine inserted (`sql.upsert.insert_new`), not rows sent: a
    track another source stored first is not new."""
    artist_rows = []
    for artist_id, name in artists:
        clipped = clip_name(name)
        artist_rows.append((artist_id, clipped, norm_name(clipped), False, SOURCE))
    new_artists = await bulk.insert_new_artists(conn, artist_rows)
    album_rows = [(a, clip_name(n) if n else None, SOURCE) for a, n in albums]
    new_albums = await bulk.insert_new_albums(conn, album_rows)
    track_rows, without_artist = [], []
    for track_id, name, album_id, duration, artist_id in tracks:
        clipped = clip_name(name)
        row = (track_id, clipped, norm_name(clipped), album_id, duration, SOURCE)
        (track_rows if artist_id is not None else without_artist).append(row)
    new_tracks = await bulk.insert_new_tracks(conn, track_rows)
    new_without = await bulk.insert_new_tracks(conn, without_artist)
    await bulk.add_credits(conn, [(t[4], t[0], 0) for t in tracks if t[4] is not None])
    return Inserted(new_tracks + new_without, new_artists, new_albums, new_without)


async def _write_playlists(
    conn: AsyncConnection, data: SliceData, entries: list[tuple], rewrite: bool
) -> None:
    if rewrite:  # a slice seen before (failed, or changed on disk): drop its old entries
        await bulk.delete_entries(conn, [p[0] for p in data.playlists])
    rows = [(p[0], clip_name(p[1]) if p[1] else None, *p[2:], SOURCE) for p in data.playlists]
    await bulk.write_playlists(conn, rows)
    await bulk.write_entries(conn, entries)


async def _record(conn: AsyncConnection, data: SliceData, status: str, detail: str) -> None:
    row = {
        "name": data.name[:255],
        "kind": KIND,
        "size_bytes": data.size,
        "status": status,
        "rows_read": data.entries_read,
        "detail": detail,
        "finished_at": clock.naive_now(),
    }
    await source_files.record(conn, [row])
