"""Writing a parsed dataset into the catalogue in one transaction, counting what changed.

An importer fills a `CatalogueBatch` (first value wins inside one file; a later row only
fills what an earlier one left empty). `write_batch` compares each row with what the
catalogue already holds to report inserted / updated / unchanged per table, then writes
through the batch upserts of `sql.catalogue` (whose merge rule never lets a NULL erase
a known value), and records the files read in `source_file`. The whole import lands
or nothing does.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from pipeline.importers.reading import name_key
from pipeline.importers.report import ImportReport
from sql import catalogue, clock, source_files
from sql.database import Database
from sql.normalize import clip_name

Row = dict[str, Any]
ProgressFn = Callable[[str, int, int], None]


@dataclass
class CatalogueBatch:
    """Rows for each catalogue table, keyed by primary key (first row wins, gaps filled)."""

    artists: dict[str, Row] = field(default_factory=dict)
    albums: dict[str, Row] = field(default_factory=dict)
    tracks: dict[str, Row] = field(default_factory=dict)
    features: dict[str, Row] = field(default_factory=dict)
    artist_tracks: dict[tuple[str, str], Row] = field(default_factory=dict)
    artist_albums: dict[tuple[str, str], Row] = field(default_factory=dict)
    artist_genres: dict[tuple[str, str], Row] = field(default_factory=dict)
    track_genres: dict[tuple[str, str], Row] = field(default_factory=dict)
    # Artist-genre sources this import supersedes: an earlier import stored its per-track
    # genres at artist level; their rows are removed when this batch is written.
    supersedes_artist_genres: set[str] = field(default_factory=set)
    playlists: dict[str, Row] = field(default_factory=dict)
    playlist_tracks: dict[tuple[str, int], Row] = field(default_factory=dict)
    conflicts: dict[str, int] = field(default_factory=dict)

    def put_genres(self, artist_id: str, genres: Iterable[Any], source: str) -> None:
        """The artist's genres, normalised; empty and non-text values are left out."""
        self._put_genres("artist_genres", "artist_id", artist_id, genres, source)

    def put_track_genres(self, track_id: str, genres: Iterable[Any], source: str) -> None:
        """Genres the source gives this one track, normalised; empty values left out."""
        self._put_genres("track_genres", "track_id", track_id, genres, source)

    def _put_genres(
        self, table: str, key: str, owner: str, genres: Iterable[Any], source: str
    ) -> None:
        for genre in genres:
            if isinstance(genre, str) and (name := catalogue.normalise_genre(genre)):
                self.put(table, (owner, name), {key: owner, "genre": name, "source": source})

    def put_features(self, track_id: str, features: Row, source: str) -> None:
        """The track's audio features (`reading.feature_values`)."""
        self.put("features", track_id, {"track_id": track_id, **features, "source": source})

    def credit(self, artist_id: str, track_id: str, position: int) -> None:
        """The artist on the track, at credit `position` (0 = primary)."""
        row = {"artist_id": artist_id, "track_id": track_id, "position": position}
        self.put("artist_tracks", (artist_id, track_id), row)

    def credit_names(self, track_id: str, names: Sequence[str], source: str) -> int:
        """Artists a source names without ids, credited in the order given: each gets a
        name key (`reading.name_key`, `name_keyed=True`); a name spelled twice (case,
        accents, spacing) counts once, under its first spelling. Returns how many."""
        spellings: dict[str, str] = {}
        for name in names:
            spellings.setdefault(name_key(name), name)
        for position, (artist_id, name) in enumerate(spellings.items()):
            row = {"artist_id": artist_id, "name": name, "name_keyed": True, "source": source}
            self.put("artists", artist_id, row)
            self.credit(artist_id, track_id, position)
        return len(spellings)

    def put(self, table: str, key: Any, row: Row) -> bool:
        """Add `row` under `key`; an existing row keeps its values and gains missing ones.

        Returns True when the key was new. Differing non-empty values count as a
        conflict of `table` (reported; the first value is kept).
        """
        rows: dict = getattr(self, table)
        old = rows.get(key)
        if old is None:
            rows[key] = dict(row)
            return True
        if old == row:  # the common repeat (a track in several playlists): nothing to merge
            return False
        conflict = False
        for name, value in row.items():
            if value is None:
                continue
            if old.get(name) is None:
                old[name] = value
            elif not _same(old[name], value):
                conflict = True
        if conflict:
            self.conflicts[table] = self.conflicts.get(table, 0) + 1
        return False


@dataclass(frozen=True)
class _Target:
    name: str
    table: str  # the catalogue table written
    write: Callable[[AsyncConnection, list[Row]], Awaitable[int]]
    compare: tuple[str, ...]  # non-key columns whose change counts as "updated"
    coalesce: bool  # True: a None in the new row changes nothing


# Columns the data layer derives from others (a searchable name, a year from a date).
_DERIVED = {"name_norm", "release_year"}


def _compared(columns: tuple[str, ...]) -> tuple[str, ...]:
    """A data-layer column list without its key (first) and derived columns."""
    return tuple(c for c in columns[1:] if c not in _DERIVED)


_TARGETS = (
    _Target(
        "artists", "artist", catalogue.upsert_artists, _compared(catalogue.ARTIST_COLUMNS), True
    ),
    _Target("albums", "album", catalogue.upsert_albums, _compared(catalogue.ALBUM_COLUMNS), True),
    _Target("tracks", "track", catalogue.upsert_tracks, _compared(catalogue.TRACK_COLUMNS), True),
    _Target(
        "features",
        "audio_features",
        catalogue.upsert_audio_features,
        _compared(catalogue.AUDIO_FEATURE_COLUMNS),
        True,
    ),
    _Target("artist_tracks", "artist_track", catalogue.link_artist_tracks, ("position",), False),
    _Target("artist_albums", "artist_album", catalogue.link_artist_albums, (), False),
    _Target("artist_genres", "artist_genre", catalogue.upsert_artist_genres, (), False),
    _Target("track_genres", "track_genre", catalogue.upsert_track_genres, (), False),
    _Target(
        "playlists",
        "playlist",
        catalogue.upsert_playlists,
        _compared(catalogue.PLAYLIST_COLUMNS),
        True,
    ),
    _Target(
        "playlist_tracks", "playlist_track", catalogue.upsert_playlist_tracks, ("track_id",), False
    ),
)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-9)
        except (TypeError, ValueError):
            return False
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b)
    return a == b


def _changed(target: _Target, new: Row, old: Row) -> bool:
    for name in target.compare:
        value = new.get(name)
        if value is None and target.coalesce:
            continue
        if name == "name" and value is not None:
            value = clip_name(str(value))
        if value is None or old.get(name) is None:
            if value is not old.get(name):
                return True
        elif not _same(value, old[name]):
            return True
    return False


async def _write_target(
    conn: AsyncConnection, target: _Target, rows: list[Row], report: ImportReport
) -> None:
    names = catalogue.key_columns(target.table)
    keys = [tuple(r[n] for n in names) for r in rows]
    stored = await catalogue.stored_rows(conn, target.table, keys, target.compare)
    counts = report.table(target.table)
    for key, row in zip(keys, rows, strict=True):
        old = stored.get(key)
        if old is None:
            counts.inserted += 1
        elif _changed(target, row, old):
            counts.updated += 1
        else:
            counts.unchanged += 1
        if target.table == "track" and row.get("name") is None:
            # The source lacks the name: keep a known one, else store it empty.
            row["name"] = (old or {}).get("name") or ""
    await target.write(conn, rows)


async def write_batch(
    db: Database, batch: CatalogueBatch, report: ImportReport, *, progress: ProgressFn | None = None
) -> None:
    """Write everything in `batch` in one transaction and record the files read."""
    for table, n in batch.conflicts.items():
        report.note(f"{n} {table} appeared again with different values: the first was kept")
    async with db.transaction() as conn:
        genres_before = (await catalogue.counts(conn, ["genre"]))["genre"]
        for source in sorted(batch.supersedes_artist_genres):
            removed = await catalogue.delete_artist_genres(conn, source)
            if removed:
                report.note(
                    f"removed {removed} artist genre row(s) of source '{source}' left by an "
                    "earlier import: these genres are now stored per track"
                )
        for done, target in enumerate(_TARGETS):
            rows = list(getattr(batch, target.name).values())
            if progress:
                progress(target.table, done, len(_TARGETS))
            if rows:
                await _write_target(conn, target, rows, report)
        genres_after = (await catalogue.counts(conn, ["genre"]))["genre"]
        if genres_after != genres_before:
            report.table("genre").inserted = genres_after - genres_before
        read = source_file_rows(report.format, report.files, report.summary())
        await source_files.record(conn, read)
        if progress:
            progress("done", len(_TARGETS), len(_TARGETS))


def source_file_rows(
    kind: str, files: dict[str, int], detail: str, status: str = "done"
) -> list[Row]:
    """One `source_file` row per file read (name: kind and absolute path)."""
    now = clock.naive_now()
    return [
        {
            "name": f"{kind}:{Path(path).resolve()}"[:255],
            "kind": kind,
            "size_bytes": Path(path).stat().st_size if Path(path).exists() else None,
            "status": status,
            "rows_read": rows_read,
            "detail": detail,
            "finished_at": now,
        }
        for path, rows_read in files.items()
    ]
