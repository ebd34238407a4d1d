"""Catalogue reads and writes: the queries importers, enrichment, training and the bot call.

Every function takes an `AsyncConnection`, so callers group writes that must land
together in one `Database.transaction()`. Writes are batch upserts (see `sql.upsert`
for the merge rule); reads by many ids are chunked so an IN list stays small.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Column, ColumnElement, Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from sql.normalize import clip_name, norm_name
from sql.schema import (
    FEATURE_COLUMNS,
    album,
    artist,
    artist_album,
    artist_genre,
    artist_track,
    audio_features,
    genre,
    metadata,
    playlist,
    playlist_track,
    track,
    track_cluster,
    track_genre,
)
from sql.upsert import chunked, upsert

Row = Mapping[str, Any]
ID_CHUNK = 500

ARTIST_COLUMNS = (
    "artist_id",
    "name",
    "name_norm",
    "popularity",
    "followers",
    "image_url",
    "name_keyed",
    "source",
)
ALBUM_COLUMNS = (
    "album_id",
    "name",
    "album_type",
    "release_date",
    "release_date_precision",
    "release_year",
    "popularity",
    "label",
    "image_url",
    "total_tracks",
    "source",
)
TRACK_COLUMNS = (
    "track_id",
    "name",
    "name_norm",
    "album_id",
    "duration_ms",
    "popularity",
    "explicit",
    "isrc",
    "disc_number",
    "track_number",
    "source",
)
AUDIO_FEATURE_COLUMNS = ("track_id", *FEATURE_COLUMNS, "source")
PLAYLIST_COLUMNS = (
    "playlist_id",
    "name",
    "description",
    "genre",
    "subgenre",
    "num_followers",
    "modified_at",
    "collaborative",
    "source",
)


def _values(row: Row, columns: Sequence[str]) -> tuple[Any, ...]:
    return tuple(map(row.get, columns))


def _named(columns: Sequence[str]) -> Callable[[Row], tuple[Any, ...]]:
    """A shaper for tables with `name` and its searchable `name_norm`."""
    name_at, norm_at = columns.index("name"), columns.index("name_norm")

    def shape(row: Row) -> tuple[Any, ...]:
        values = list(map(row.get, columns))
        values[name_at] = name = clip_name(str(row["name"]))
        values[norm_at] = norm_name(name)
        return tuple(values)

    return shape


def release_year(release_date: str | None) -> int | None:
    """The year of a Spotify release date (YYYY, YYYY-MM or YYYY-MM-DD); None when absent."""
    if not release_date or len(release_date) < 4 or not release_date[:4].isdigit():
        return None
    year = int(release_date[:4])
    return year if year > 0 else None


# --- writes -----------------------------------------------------------------------------------
# Rows are mappings; a missing key is NULL (which never erases a stored value).


async def upsert_artists(conn: AsyncConnection, rows: Iterable[Row]) -> int:
    named = _named(ARTIST_COLUMNS)
    keyed_at = ARTIST_COLUMNS.index("name_keyed")

    def shape(row: Row) -> tuple[Any, ...]:
        values = list(named(row))
        values[keyed_at] = bool(row.get("name_keyed", False))
        return tuple(values)

    return await upsert(conn, artist, map(shape, rows), columns=ARTIST_COLUMNS)


async def upsert_albums(conn: AsyncConnection, rows: Iterable[Row]) -> int:
    def shape(row: Row) -> tuple[Any, ...]:
        values = dict(zip(ALBUM_COLUMNS, map(row.get, ALBUM_COLUMNS), strict=True))
        if values["name"] is not None:
            values["name"] = clip_name(str(values["name"]))
        if values["release_year"] is None:
            values["release_year"] = release_year(values["release_date"])
        return tuple(values.values())

    return await upsert(conn, album, map(shape, rows), columns=ALBUM_COLUMNS)


async def upsert_tracks(conn: AsyncConnection, rows: Iterable[Row]) -> int:
    return await upsert(conn, track, map(_named(TRACK_COLUMNS), rows), columns=TRACK_COLUMNS)


async def upsert_audio_features(conn: AsyncConnection, rows: Iterable[Row]) -> int:
    columns = AUDIO_FEATURE_COLUMNS
    return await upsert(conn, audio_features, (_values(r, columns) for r in rows), columns=columns)


async def link_artist_tracks(conn: AsyncConnection, rows: Iterable[Row]) -> int:
    """Rows of artist_id, track_id and position (0 = primary artist)."""
    columns = ("artist_id", "track_id", "position")
    shaped = ((r["artist_id"], r["track_id"], r.get("position") or 0) for r in rows)
    return await upsert(conn, artist_track, shaped, columns=columns, merge="overwrite")


async def link_artist_albums(conn: AsyncConnection, rows: Iterable[Row]) -> int:
    shaped = ((r["artist_id"], r["album_id"]) for r in rows)
    return await upsert(
        conn, artist_album, shaped, columns=("artist_id", "album_id"), merge="ignore"
    )


async def upsert_artist_genres(conn: AsyncConnection, rows: Iterable[Row]) -> int:
    """Rows of artist_id, genre and source; genre names are created as needed."""
    shaped = [(r["artist_id"], g, r["source"]) for r in rows if (g := normalise_genre(r["genre"]))]
    names = sorted({g for _, g, _ in shaped})
    await upsert(conn, genre, ((n,) for n in names), columns=("name",), merge="ignore")
    return await upsert(
        conn, artist_genre, shaped, columns=("artist_id", "genre", "source"), merge="ignore"
    )


async def upsert_track_genres(conn: AsyncConnection, rows: Iterable[Row]) -> int:
    """Rows of track_id, genre and source (a genre a source gives this one track); the
    merge rule of artist genres: a stored (track, genre) keeps its first source."""
    shaped = [(r["track_id"], g, r["source"]) for r in rows if (g := normalise_genre(r["genre"]))]
    names = sorted({g for _, g, _ in shaped})
    await upsert(conn, genre, ((n,) for n in names), columns=("name",), merge="ignore")
    return await upsert(
        conn, track_genre, shaped, columns=("track_id", "genre", "source"), merge="ignore"
    )


async def delete_artist_genres(conn: AsyncConnection, source: str) -> int:
    """Remove every artist genre of `source`: what an import of a per-track source stored
    at artist level before track genres existed (its re-import stores them per track)."""
    result = await conn.execute(artist_genre.delete().where(artist_genre.c.source == source))
    return int(result.rowcount or 0)


def normalise_genre(name: str) -> str:
    """Spotify genres are lower case already; sources differ in spaces and case."""
    return " ".join(str(name).lower().split())[:191]


async def upsert_playlists(conn: AsyncConnection, rows: Iterable[Row]) -> int:
    name_at = PLAYLIST_COLUMNS.index("name")

    def shape(row: Row) -> tuple[Any, ...]:
        values = list(map(row.get, PLAYLIST_COLUMNS))
        if values[name_at] is not None:
            values[name_at] = clip_name(str(values[name_at]))
        return tuple(values)

    return await upsert(conn, playlist, map(shape, rows), columns=PLAYLIST_COLUMNS)


async def upsert_playlist_tracks(conn: AsyncConnection, rows: Iterable[Row]) -> int:
    """Rows of playlist_id, position, track_id."""
    shaped = ((r["playlist_id"], r["position"], r["track_id"]) for r in rows)
    return await upsert(
        conn,
        playlist_track,
        shaped,
        columns=("playlist_id", "position", "track_id"),
        merge="overwrite",
    )


# --- reads ------------------------------------------------------------------------------------


async def _by_ids(conn: AsyncConnection, table: Table, key: str, ids: Iterable[str]) -> dict:
    found: dict[str, dict[str, Any]] = {}
    for batch in chunked(dict.fromkeys(ids), ID_CHUNK):
        result = await conn.execute(select(table).where(table.c[key].in_(batch)))
        for row in result.mappings():
            found[row[key]] = dict(row)
    return found


async def get_tracks(conn: AsyncConnection, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    return await _by_ids(conn, track, "track_id", ids)


async def get_artists(conn: AsyncConnection, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    return await _by_ids(conn, artist, "artist_id", ids)


async def get_albums(conn: AsyncConnection, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    return await _by_ids(conn, album, "album_id", ids)


async def get_audio_features(
    conn: AsyncConnection, ids: Iterable[str]
) -> dict[str, dict[str, Any]]:
    return await _by_ids(conn, audio_features, "track_id", ids)


async def get_playlists(conn: AsyncConnection, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    return await _by_ids(conn, playlist, "playlist_id", ids)


async def get_track(conn: AsyncConnection, track_id: str) -> dict[str, Any] | None:
    return (await get_tracks(conn, [track_id])).get(track_id)


async def track_artists(
    conn: AsyncConnection, track_ids: Iterable[str]
) -> dict[str, list[dict[str, Any]]]:
    """Each track's artists in credit order (primary first)."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for batch in chunked(dict.fromkeys(track_ids), ID_CHUNK):
        query = (
            select(artist_track.c.track_id, artist.c.artist_id, artist.c.name)
            .join(artist, artist.c.artist_id == artist_track.c.artist_id)
            .where(artist_track.c.track_id.in_(batch))
            .order_by(artist_track.c.track_id, artist_track.c.position, artist.c.name)
        )
        for row in (await conn.execute(query)).mappings():
            found[row["track_id"]].append({"artist_id": row["artist_id"], "name": row["name"]})
    return dict(found)


async def artist_genres(conn: AsyncConnection, artist_ids: Iterable[str]) -> dict[str, list[str]]:
    return await _genres_of(conn, artist_genre.c.artist_id, artist_genre.c.genre, artist_ids)


async def own_track_genres(conn: AsyncConnection, track_ids: Iterable[str]) -> dict[str, list[str]]:
    """The genres sources gave each track itself (not its artists'), sorted."""
    return await _genres_of(conn, track_genre.c.track_id, track_genre.c.genre, track_ids)


async def _genres_of(
    conn: AsyncConnection, owner: Column, name: Column, ids: Iterable[str]
) -> dict[str, list[str]]:
    """Each owner's (artist's or track's) genres, sorted; read in chunks of ids."""
    found: dict[str, list[str]] = defaultdict(list)
    for batch in chunked(dict.fromkeys(ids), ID_CHUNK):
        query = select(owner, name).where(owner.in_(batch)).order_by(owner, name)
        for key, genre_name in (await conn.execute(query)).all():
            found[key].append(genre_name)
    return dict(found)


async def playlist_tracks(conn: AsyncConnection, playlist_id: str) -> list[str]:
    query = (
        select(playlist_track.c.track_id)
        .where(playlist_track.c.playlist_id == playlist_id)
        .order_by(playlist_track.c.position)
    )
    return list((await conn.execute(query)).scalars())


async def existing_ids(conn: AsyncConnection, table: Table, ids: Iterable[str]) -> set[str]:
    """Which of `ids` the table holds already (importers report inserted vs updated)."""
    key = next(iter(table.primary_key.columns))
    found: set[str] = set()
    for batch in chunked(dict.fromkeys(ids), ID_CHUNK):
        found.update((await conn.execute(select(key).where(key.in_(batch)))).scalars())
    return found


def key_columns(table: str) -> tuple[str, ...]:
    """The primary-key columns of the catalogue table named `table`, in key order."""
    return tuple(c.name for c in metadata.tables[table].primary_key.columns)


async def stored_rows(
    conn: AsyncConnection, table: str, keys: Sequence[tuple], columns: Sequence[str]
) -> dict[tuple, dict[str, Any]]:
    """The stored rows of `table` whose primary key (a tuple) is in `keys`, with their key
    and `columns`: what an import compares with the rows it is about to write. Read by
    the first key column, in chunks."""
    stored = metadata.tables[table]
    names = key_columns(table)
    selected = [stored.c[n] for n in (*names, *columns)]
    found: dict[tuple, dict[str, Any]] = {}
    wanted = set(keys)
    for batch in chunked(dict.fromkeys(k[0] for k in keys), ID_CHUNK):
        query = select(*selected).where(stored.c[names[0]].in_(batch))
        for row in (await conn.execute(query)).mappings():
            key = tuple(row[n] for n in names)
            if key in wanted:
                found[key] = dict(row)
    return found


async def genre_names(conn: AsyncConnection) -> list[str]:
    """Every genre name the catalogue knows."""
    return list((await conn.execute(select(genre.c.name))).scalars())


# --- search -----------------------------------------------------------------------------------


def _prefix_range(column: Column[Any], prefix: str) -> ColumnElement[bool]:
    """An index seek for `column LIKE prefix%` that behaves the same on both engines."""
    return (column >= prefix) & (column < prefix + "\U0010ffff")


async def search(conn: AsyncConnection, query: str, limit: int = 25) -> list[dict[str, Any]]:
    """Tracks whose name, or whose artist's name, starts with `query` (case and accents
    ignored); most popular first among the candidates an index seek returns."""
    prefix = norm_name(query)
    if not prefix or limit <= 0:
        return []
    wide = limit * 4
    by_name = select(track.c.track_id).where(_prefix_range(track.c.name_norm, prefix)).limit(wide)
    by_artist = (
        select(artist_track.c.track_id)
        .join(artist, artist.c.artist_id == artist_track.c.artist_id)
        .where(_prefix_range(artist.c.name_norm, prefix))
        .limit(wide)
    )
    ids = list((await conn.execute(by_name)).scalars())
    ids += list((await conn.execute(by_artist)).scalars())
    ids = list(dict.fromkeys(ids))
    return await describe_tracks(conn, ids, limit=limit)


async def describe_tracks(
    conn: AsyncConnection, ids: Sequence[str], *, limit: int | None = None
) -> list[dict[str, Any]]:
    """Tracks with their artists, album and year, most popular first (unknown last)."""
    if not ids:
        return []
    query = (
        select(
            track.c.track_id,
            track.c.name,
            track.c.popularity,
            track.c.duration_ms,
            album.c.album_id,
            album.c.name.label("album_name"),
            album.c.release_year,
            album.c.image_url,
        )
        .select_from(track.outerjoin(album, album.c.album_id == track.c.album_id))
        .where(track.c.track_id.in_(list(ids)))
    )
    rows = [dict(r) for r in (await conn.execute(query)).mappings()]
    rows.sort(key=lambda r: (-(r["popularity"] if r["popularity"] is not None else -1), r["name"]))
    rows = rows[:limit] if limit is not None else rows
    artists = await track_artists(conn, [r["track_id"] for r in rows])
    for row in rows:
        row["artists"] = [a["name"] for a in artists.get(row["track_id"], [])]
    return rows


# --- counts -----------------------------------------------------------------------------------


async def counts(conn: AsyncConnection, tables: Iterable[str] | None = None) -> dict[str, int]:
    """Rows per table, by table name."""
    names = list(tables) if tables is not None else sorted(metadata.tables)
    out: dict[str, int] = {}
    for name in names:
        table = metadata.tables[name]
        out[name] = int(await conn.scalar(select(func.count()).select_from(table)) or 0)
    return out


async def example_track_name(conn: AsyncConnection, model_version: str) -> str | None:
    """The name of the most popular track the model placed (a first thing to try)."""
    query = (
        select(track.c.name)
        .select_from(track_cluster.join(track, track.c.track_id == track_cluster.c.track_id))
        .where(track_cluster.c.model_version == model_version, track.c.name != "")
        .order_by(track.c.popularity.desc(), track.c.track_id)
        .limit(1)
    )
    return await conn.scalar(query)


async def search_titles(conn: AsyncConnection) -> list[tuple[str, str, int | None]]:
    """Every track's (id, name_norm, popularity), read in partitions (the search index)."""
    query = select(track.c.track_id, track.c.name_norm, track.c.popularity)
    out: list[tuple[str, str, int | None]] = []
    result = await conn.stream(query)
    async for part in result.partitions(50_000):
        out.extend((row[0], row[1], row[2]) for row in part)
    return out


async def search_artist_names(conn: AsyncConnection) -> dict[str, list[str]]:
    """Each track's artists' name_norm (the search index)."""
    query = select(artist_track.c.track_id, artist.c.name_norm).join(
        artist, artist.c.artist_id == artist_track.c.artist_id
    )
    out: dict[str, list[str]] = {}
    result = await conn.stream(query)
    async for part in result.partitions(50_000):
        for track_id, name in part:
            out.setdefault(track_id, []).append(name)
    return out


async def is_empty(conn: AsyncConnection) -> bool:
    """No track at all (one index probe, not a count)."""
    return await conn.scalar(select(track.c.track_id).limit(1)) is None
