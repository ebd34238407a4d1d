"""Catalogue writes of rows already shaped as tuples: the way in of the bulk writers, the
MPD ingest (`pipeline.mpd.ingest`) and the generated corpus (`pipeline.mpd.corpus_load`).

Each writer builds its tuples in the column order named here (the catalogue's columns,
`sql.catalogue`, less those a source lacks) and they go to the driver as they are
(`sql.upsert`), without the per-row mapping of `sql.catalogue`'s writes. Both write
parents first, so MySQL's per-row foreign-key lookups are redundant: `parents_first`
switches them off around the writes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from sql.catalogue import (
    ALBUM_COLUMNS,
    ARTIST_COLUMNS,
    AUDIO_FEATURE_COLUMNS,
    PLAYLIST_COLUMNS,
    TRACK_COLUMNS,
)
from sql.schema import (
    album,
    artist,
    artist_album,
    artist_genre,
    artist_track,
    audio_features,
    genre,
    playlist,
    playlist_track,
    track,
)
from sql.upsert import insert_new, upsert

Rows = Iterable[Sequence[Any]]
ENTRY_CHUNK = 10_000  # playlist entries and corpus rows per executemany


def _without(columns: tuple[str, ...], *absent: str) -> tuple[str, ...]:
    return tuple(c for c in columns if c not in absent)


ARTIST = _without(ARTIST_COLUMNS, "popularity", "followers", "image_url")
CREDIT = ("artist_id", "track_id", "position")
ENTRY = ("playlist_id", "position", "track_id")


@asynccontextmanager
async def parents_first(conn: AsyncConnection) -> AsyncIterator[None]:
    """MySQL's foreign-key checks off while rows are written parents first; back on
    before the pooled connection goes to anyone else, whatever happens."""
    mysql = conn.dialect.name != "sqlite"
    if mysql:
        await conn.exec_driver_sql("SET SESSION foreign_key_checks = 0")
    try:
        yield
    finally:
        if mysql:
            await conn.exec_driver_sql("SET SESSION foreign_key_checks = 1")


# SQLite, during a one-off load into a fresh catalogue only (`fresh_load`); the values
# the engine sets on every connection (sql.engine) are put back afterwards.
_FAST = ("PRAGMA foreign_keys=OFF", "PRAGMA synchronous=OFF", "PRAGMA cache_size=-1048576")
_USUAL = ("PRAGMA foreign_keys=ON", "PRAGMA synchronous=NORMAL", "PRAGMA cache_size=-65536")
# built once after the load, from sorted keys, instead of row by row in random order
_DEFERRED = tuple(i for i in playlist_track.indexes if i.name == "ix_playlist_track_track_id")


@asynccontextmanager
async def fresh_load(conn: AsyncConnection) -> AsyncIterator[None]:
    """Settings for writing a whole catalogue on this one connection (SQLite; on MySQL
    nothing changes): foreign-key checks off (rows are written parents first, as
    `parents_first` does for MySQL), no fsync, a 1 GB page cache, and playlist_track's
    index on track_id dropped, then built once at the end. The caller commits its own
    transactions inside; the settings and the index are back when this exits, whatever
    happens (a load that failed leaves the index built over what was written)."""
    if conn.dialect.name != "sqlite":
        yield
        return
    for pragma in _FAST:
        await conn.exec_driver_sql(pragma)
    for index in _DEFERRED:
        await conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index.name}")
    await conn.commit()
    try:
        yield
    finally:
        if conn.in_transaction():
            await conn.rollback()
        for index in _DEFERRED:
            await conn.run_sync(partial(index.create, checkfirst=True))
        await conn.commit()
        for pragma in _USUAL:
            await conn.exec_driver_sql(pragma)
        await conn.commit()


async def write_entries(conn: AsyncConnection, rows: Rows) -> int:
    """Playlist entries (ENTRY order), replacing what stood at those positions."""
    return await upsert(
        conn, playlist_track, rows, columns=ENTRY, merge="overwrite", chunk=ENTRY_CHUNK
    )


# --- MPD slices: only what the catalogue lacks is inserted --------------------------------------

MPD_ALBUM = ("album_id", "name", "source")
MPD_TRACK = _without(TRACK_COLUMNS, "popularity", "explicit", "isrc", "disc_number", "track_number")
MPD_PLAYLIST = _without(PLAYLIST_COLUMNS, "genre", "subgenre")


async def insert_new_artists(conn: AsyncConnection, rows: Rows) -> int:
    """Rows in ARTIST order; returns the rows the engine inserted (`insert_new`)."""
    return await insert_new(conn, artist, rows, columns=ARTIST)


async def insert_new_albums(conn: AsyncConnection, rows: Rows) -> int:
    """Rows in MPD_ALBUM order; returns the rows inserted."""
    return await insert_new(conn, album, rows, columns=MPD_ALBUM)


async def insert_new_tracks(conn: AsyncConnection, rows: Rows) -> int:
    """Rows in MPD_TRACK order; returns the rows inserted."""
    return await insert_new(conn, track, rows, columns=MPD_TRACK)


async def add_credits(conn: AsyncConnection, rows: Rows) -> int:
    """Artist-track links (CREDIT order); a stored link is left as it is."""
    return await upsert(conn, artist_track, rows, columns=CREDIT, merge="ignore")


async def delete_entries(conn: AsyncConnection, playlist_ids: Sequence[str]) -> None:
    """Every entry of these playlists (a slice written again replaces its entries)."""
    await conn.execute(
        playlist_track.delete().where(playlist_track.c.playlist_id.in_(playlist_ids))
    )


async def write_playlists(
    conn: AsyncConnection, rows: Rows, columns: tuple[str, ...] = MPD_PLAYLIST
) -> int:
    """Playlists in `columns` order (MPD_PLAYLIST, or CORPUS_PLAYLIST: the corpus has no
    descriptions), replacing the stored values."""
    return await upsert(conn, playlist, rows, columns=columns, merge="overwrite")


# --- the generated corpus: every row rewritten ---------------------------------------------------

CORPUS = {  # table → the columns of its rows, in the order the corpus writes the tables
    "artist": (artist, ARTIST),
    "genre": (genre, ("name",)),
    "artist_genre": (artist_genre, ("artist_id", "genre", "source")),
    "album": (album, _without(ALBUM_COLUMNS, "popularity", "label", "image_url")),
    "artist_album": (artist_album, ("artist_id", "album_id")),
    "track": (track, _without(TRACK_COLUMNS, "popularity", "isrc", "disc_number")),
    "artist_track": (artist_track, CREDIT),
    "audio_features": (audio_features, AUDIO_FEATURE_COLUMNS),
}
CORPUS_PLAYLIST = _without(MPD_PLAYLIST, "description")


async def rewrite(conn: AsyncConnection, table: str, rows: Rows) -> int:
    """Rows of the corpus table `table` (in its CORPUS column order), replacing the
    stored values; returns the rows sent."""
    target, columns = CORPUS[table]
    return await upsert(conn, target, rows, columns=columns, merge="overwrite", chunk=ENTRY_CHUNK)
