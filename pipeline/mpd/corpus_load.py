"""Loading a generated corpus (`pipeline.mpd.corpus`) into a catalogue database.

Tracks, artists with their genres, albums with release dates, audio features, artist
links, playlists and their entries go in through the data layer's batch upserts
(`sql.bulk`, rows as tuples, as `ingest-mpd` writes), in transactions of `chunk`
rows, parents first. Playlists are generated and written a block of 1,000 at a time,
so memory stays flat whatever the size. Every row says `source = corpus-generated`;
no popularity is written (a 2026 development-mode app gets none).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncConnection

from pipeline.mpd.corpus import SOURCE, Block, Corpus, playlist_ids
from sql import bulk
from sql.catalogue import normalise_genre
from sql.database import Database
from sql.normalize import clip_name, norm_name
from sql.schema import FEATURE_COLUMNS
from sql.upsert import chunked

ProgressFn = Callable[[str, int, int], None]
Begin = Callable[[], AbstractAsyncContextManager[AsyncConnection]]
CHUNK = 50_000
FRESH_CHUNK = 1_000_000  # rows per transaction of a fresh load


@dataclass
class LoadReport:
    """Rows written per table and seconds per step."""

    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "total_rows": self.total_rows,
            "total_seconds": round(self.total_seconds, 2),
            "rows_per_second": round(self.total_rows / max(self.total_seconds, 1e-9)),
        }


async def load_corpus(
    db: Database,
    corpus: Corpus,
    *,
    chunk: int | None = None,
    progress: ProgressFn | None = None,
    fresh: bool = False,
) -> LoadReport:
    """Write the whole corpus; rerunning it rewrites the same rows (upserts).

    `fresh`: the load is the catalogue's only writer and nothing reads it meanwhile (a
    benchmark's or an evaluation's own database): one connection with the engine's bulk
    settings (`sql.bulk.fresh_load`: on SQLite no foreign-key checks or fsync, the
    track index built once at the end) and transactions of `FRESH_CHUNK` rows. The rows
    written are the same either way."""
    if not fresh:
        return await _load(db.transaction, corpus, chunk or CHUNK, progress)
    async with db.connection() as conn, bulk.fresh_load(conn):

        @asynccontextmanager
        async def begin() -> AsyncIterator[AsyncConnection]:
            async with conn.begin():
                yield conn

        report = await _load(begin, corpus, chunk or FRESH_CHUNK, progress)
        indexed = time.perf_counter()
    report.seconds["index"] = time.perf_counter() - indexed  # built as fresh_load exits
    return report


async def _load(
    begin: Begin, corpus: Corpus, chunk: int, progress: ProgressFn | None
) -> LoadReport:
    report = LoadReport()
    steps = (  # in the order of sql.bulk.CORPUS, parents first
        ("artist", _artists),
        ("genre", _genres),
        ("artist_genre", _artist_genres),
        ("album", _albums),
        ("artist_album", _artist_albums),
        ("track", _tracks),
        ("artist_track", _artist_tracks),
        ("audio_features", _features),
    )
    for name, rows in steps:
        started = time.perf_counter()
        report.rows[name] = await _write(begin, name, rows(corpus), chunk)
        report.seconds[name] = time.perf_counter() - started
        if progress:
            progress(name, report.rows[name], report.rows[name])
    await _playlists(begin, corpus, report, chunk, progress)
    return report


async def _write(begin: Begin, table: str, rows: Iterable[tuple], chunk: int) -> int:
    written = 0
    for batch in chunked(rows, chunk):
        async with begin() as conn, bulk.parents_first(conn):
            written += await bulk.rewrite(conn, table, batch)
    return written


# --- rows --------------------------------------------------------------------------------------


def _artists(corpus: Corpus) -> Iterator[tuple]:
    for artist_id, name in zip(corpus.artist_ids(), corpus.artist_names(), strict=True):
        yield artist_id, name, norm_name(name), False, SOURCE


def _genres(corpus: Corpus) -> Iterator[tuple]:
    names = {normalise_genre(g) for genres in corpus.style_genres for g in genres}
    return ((name,) for name in sorted(names))


def _artist_genres(corpus: Corpus) -> Iterator[tuple]:
    for artist_id, genres in zip(corpus.artist_ids(), corpus.artist_genres(), strict=True):
        for name in genres:
            yield artist_id, normalise_genre(name), SOURCE


def _albums(corpus: Corpus) -> Iterator[tuple]:
    rng = np.random.default_rng([corpus.config.seed, 8])
    n = corpus.albums
    month, day = rng.integers(1, 13, n), rng.integers(1, 29, n)
    year_only = rng.random(n) < 0.12  # older releases often carry only a year
    sizes = np.bincount(corpus.track_album, minlength=n)
    rows = zip(
        corpus.album_ids(),
        corpus.album_names(),
        corpus.album_year.tolist(),
        month.tolist(),
        day.tolist(),
        year_only.tolist(),
        sizes.tolist(),
        strict=True,
    )
    for album_id, name, year, m, d, only_year, size in rows:
        date = f"{year:04d}" if only_year else f"{year:04d}-{m:02d}-{d:02d}"
        kind = "single" if size <= 2 else "album"
        yield album_id, name, kind, date, "year" if only_year else "day", year, size, SOURCE


def _artist_albums(corpus: Corpus) -> Iterator[tuple]:
    artist_ids = corpus.artist_ids()
    return zip(artist_ids[corpus.album_artist], corpus.album_ids(), strict=True)


def _tracks(corpus: Corpus) -> Iterator[tuple]:
    rng = np.random.default_rng([corpus.config.seed, 9])
    rap = np.array(["hip hop" in b for b in corpus.style_buckets])[corpus.track_style]
    explicit = rng.random(corpus.config.tracks) < np.where(rap, 0.6, 0.08)
    first = np.searchsorted(corpus.track_album, corpus.track_album)  # tracks are album-ordered
    number = np.arange(corpus.config.tracks) - first + 1
    rows = zip(
        corpus.track_ids(),
        corpus.track_names(),
        corpus.album_ids()[corpus.track_album],
        corpus.durations().tolist(),
        explicit.tolist(),
        number.tolist(),
        strict=True,
    )
    for track_id, name, album_id, duration, is_explicit, at in rows:
        clipped = clip_name(name)
        yield track_id, clipped, norm_name(clipped), album_id, duration, is_explicit, at, SOURCE


def _artist_tracks(corpus: Corpus) -> Iterator[tuple]:
    artist_ids = corpus.artist_ids()[corpus.track_artist]
    return ((a, t, 0) for a, t in zip(artist_ids, corpus.track_ids(), strict=True))


def _features(corpus: Corpus) -> Iterator[tuple]:
    frame = corpus.features
    columns = [frame[c].tolist() for c in FEATURE_COLUMNS]
    for track_id, *values in zip(corpus.track_ids(), *columns, strict=True):
        yield track_id, *values, SOURCE


async def _playlists(
    begin: Begin, corpus: Corpus, report: LoadReport, chunk: int, progress: ProgressFn | None
) -> None:
    """Each block of 1,000 playlists is generated, then written with its entries."""
    track_ids = corpus.track_ids()
    rng = np.random.default_rng([corpus.config.seed, 10])
    report.rows["playlist"] = report.rows["playlist_track"] = 0
    report.seconds["playlist"] = report.seconds["playlist_generate"] = 0.0
    pending_lists: list[tuple] = []
    pending_entries: list[tuple] = []

    async def flush() -> None:
        started = time.perf_counter()
        async with begin() as conn, bulk.parents_first(conn):
            await bulk.write_playlists(conn, pending_lists, bulk.CORPUS_PLAYLIST)
            await bulk.write_entries(conn, pending_entries)
        report.rows["playlist"] += len(pending_lists)
        report.rows["playlist_track"] += len(pending_entries)
        report.seconds["playlist"] += time.perf_counter() - started
        pending_lists.clear()
        pending_entries.clear()

    for block in corpus.iter_blocks():
        started = time.perf_counter()
        lists, entries = _block_rows(corpus, block, rng, track_ids)
        pending_lists += lists
        pending_entries += entries
        report.seconds["playlist_generate"] += time.perf_counter() - started
        if len(pending_entries) >= chunk:
            await flush()
        if progress:
            progress("playlists", block.first + len(lists), corpus.config.playlists)
    if pending_lists:
        await flush()


def _block_rows(
    corpus: Corpus, block: Block, rng: np.random.Generator, track_ids: np.ndarray
) -> tuple[list[tuple], list[tuple]]:
    """A block's playlists (bulk.CORPUS_PLAYLIST order) and entries (bulk.ENTRY order)."""
    n = len(block.lengths)
    ids = playlist_ids(np.arange(block.first, block.first + n))
    followers = (1 + rng.pareto(1.5, n)).astype(np.int64).tolist()
    modified = (1_300_000_000 + rng.integers(0, 210_000_000, n)).tolist()
    collaborative = (rng.random(n) < 0.02).tolist()
    lists = [
        (ids[i], corpus.playlist_name(style), followers[i], modified[i], collaborative[i], SOURCE)
        for i, style in enumerate(block.styles[:, 0].tolist())
    ]
    owners = np.repeat(ids, block.lengths)
    starts = np.repeat(np.cumsum(block.lengths) - block.lengths, block.lengths)
    positions = (np.arange(len(block.tracks)) - starts).tolist()
    return lists, list(zip(owners, positions, track_ids[block.tracks], strict=True))
