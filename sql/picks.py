"""The reads serving makes on every request, kept cheap.

Picks seek through the `track_cluster` primary key (version, bucket, cluster, position):
a request reads a bounded number of rows whatever the catalogue's size, and all the
seeks of a request go in one UNION ALL statement. These statements are compiled once per
engine and shape (SQLAlchemy writes the SQL; the rows go to the driver as tuples, like
`sql.upsert`): per-request statement building and result processing were most of a
recommendation's time. Variable lengths (id lists, seeks) are rounded up to a power of
two and padded, so a handful of compiled shapes serve every request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, bindparam, literal_column, select, union_all
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from sql.schema import (
    FEATURE_COLUMNS,
    album,
    app_state,
    artist,
    artist_genre,
    artist_track,
    audio_features,
    recommendation_log,
    track,
    track_cluster,
)

ACTIVE_KEY = "active_model"
MAX_ARMS = 128  # seeks per statement (SQLite allows 500 compound terms)
MAX_IDS = 512


def _shape(size: int) -> int:
    """The next power of two ≥ size (few compiled shapes)."""
    shape = 1
    while shape < size:
        shape *= 2
    return shape


@lru_cache(maxsize=256)
def _compiled(dialect: Dialect, name: str, size: int) -> tuple[str, tuple[str, ...]]:
    compiled = _BUILDERS[name](size).compile(dialect=dialect)
    return str(compiled), tuple(compiled.positiontup or ())


async def _run(conn: AsyncConnection, name: str, size: int, params: dict[str, Any]) -> list[tuple]:
    sql, order = _compiled(conn.dialect, name, size)
    result = await conn.exec_driver_sql(sql, tuple(params[key] for key in order))
    return list(result.all())


# --- statements ------------------------------------------------------------------------------


def _active(_: int):
    return select(app_state.c.value).where(app_state.c.key == bindparam("key"))


def _cluster(i: int):
    return and_(
        track_cluster.c.model_version == bindparam("version"),
        track_cluster.c.bucket == bindparam(f"b{i}"),
        track_cluster.c.cluster == bindparam(f"c{i}"),
    )


def _ranges(arms: int):
    """Rows with start <= position < end, per arm; a plain UNION ALL of index ranges."""
    parts = [
        select(
            literal_column(str(i)).label("arm"), track_cluster.c.position, track_cluster.c.track_id
        )
        .where(_cluster(i))
        .where(track_cluster.c.position >= bindparam(f"s{i}"))
        .where(track_cluster.c.position < bindparam(f"e{i}"))
        for i in range(arms)
    ]
    return parts[0] if arms == 1 else union_all(*parts)


def _seeks(arms: int):
    """Up to `limit` rows from `start` on, per arm: ORDER BY … LIMIT inside derived tables
    (both engines accept that in a UNION ALL)."""
    parts = []
    for i in range(arms):
        inner = (
            select(
                literal_column(str(i)).label("arm"),
                track_cluster.c.position,
                track_cluster.c.track_id,
            )
            .where(_cluster(i))
            .where(track_cluster.c.position >= bindparam(f"s{i}"))
            .order_by(track_cluster.c.position)
            .limit(bindparam(f"n{i}"))
            .offset(bindparam(f"o{i}"))  # explicit: SQLite renders an OFFSET anyway
            .subquery(f"seek{i}")
        )
        parts.append(select(inner.c.arm, inner.c.position, inner.c.track_id))
    return parts[0] if arms == 1 else union_all(*parts)


def _ids(size: int):
    return [bindparam(f"id{i}") for i in range(size)]


DETAIL_COLUMNS = (
    "track_id",
    "name",
    "track_popularity",
    "album_popularity",
    "release_year",
    "features_id",
    *FEATURE_COLUMNS,
    "artist_position",
    "artist_id",
    "artist_name",
)


def _details(size: int):
    return (
        select(
            track.c.track_id,
            track.c.name,
            track.c.popularity,
            album.c.popularity,
            album.c.release_year,
            audio_features.c.track_id,
            *(audio_features.c[c] for c in FEATURE_COLUMNS),
            artist_track.c.position,
            artist.c.artist_id,
            artist.c.name,
        )
        .select_from(
            track.outerjoin(album, album.c.album_id == track.c.album_id)
            .outerjoin(audio_features, audio_features.c.track_id == track.c.track_id)
            .outerjoin(artist_track, artist_track.c.track_id == track.c.track_id)
            .outerjoin(artist, artist.c.artist_id == artist_track.c.artist_id)
        )
        .where(track.c.track_id.in_(_ids(size)))
    )


def _genres(_: int):
    return (
        select(artist_genre.c.genre)
        .join(artist_track, artist_track.c.artist_id == artist_genre.c.artist_id)
        .where(artist_track.c.track_id == bindparam("track_id"))
        .distinct()
        .order_by(artist_genre.c.genre)
    )


def _recent(size: int):
    return select(recommendation_log.c.pick_track_id).where(
        recommendation_log.c.guild_id == bindparam("guild_id"),
        recommendation_log.c.created_at >= bindparam("since"),
        recommendation_log.c.pick_track_id.in_(_ids(size)),
    )


_BUILDERS: dict[str, Callable[[int], Any]] = {
    "active": _active,
    "ranges": _ranges,
    "seeks": _seeks,
    "details": _details,
    "genres": _genres,
    "recent": _recent,
}


# --- reads ----------------------------------------------------------------------------------------


async def active_version(conn: AsyncConnection) -> str | None:
    rows = await _run(conn, "active", 1, {"key": ACTIVE_KEY})
    return rows[0][0] if rows else None


async def _arms(
    conn: AsyncConnection, name: str, version: str, arms: list[dict[str, Any]]
) -> list[list[tuple[int, str]]]:
    found: list[list[tuple[int, str]]] = [[] for _ in arms]
    for first in range(0, len(arms), MAX_ARMS):
        batch = arms[first : first + MAX_ARMS]
        size = _shape(len(batch))
        params: dict[str, Any] = {"version": version}
        for i in range(size):
            arm = batch[i] if i < len(batch) else {**batch[0], "s": 0, "e": 0, "n": 0}
            for key, value in arm.items():
                params[f"{key}{i}"] = value
        for arm, position, track_id in await _run(conn, name, size, params):
            if int(arm) < len(batch):
                found[first + int(arm)].append((int(position), track_id))
    for rows in found:
        rows.sort()
    return found


async def seek(
    conn: AsyncConnection,
    version: str,
    requests: Sequence[tuple[str, int, int]],
    limit: int,
) -> list[list[tuple[int, str]]]:
    """For each (bucket, cluster, start): up to `limit` (position, track_id) from `start`
    on, through the primary key; every seek of the call in one statement."""
    arms = [{"b": b, "c": int(c), "s": int(s), "n": int(limit), "o": 0} for b, c, s in requests]
    return await _arms(conn, "seeks", version, arms) if arms else []


async def position_ranges(
    conn: AsyncConnection, version: str, requests: Sequence[tuple[str, int, int, int]]
) -> list[list[tuple[int, str]]]:
    """For each (bucket, cluster, start, end): the rows with start <= position < end."""
    arms = [{"b": b, "c": int(c), "s": int(s), "e": int(e)} for b, c, s, e in requests]
    return await _arms(conn, "ranges", version, arms) if arms else []


async def _by_ids(
    conn: AsyncConnection, name: str, ids: Sequence[str], extra: dict[str, Any] | None = None
) -> list[tuple]:
    unique = list(dict.fromkeys(ids))
    rows: list[tuple] = []
    for first in range(0, len(unique), MAX_IDS):
        batch = unique[first : first + MAX_IDS]
        size = _shape(len(batch))
        padded = batch + [batch[0]] * (size - len(batch))
        params = {f"id{i}": value for i, value in enumerate(padded)}
        rows += await _run(conn, name, size, {**params, **(extra or {})})
    return rows


async def track_details(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Name, artists (credit order), release year, popularity and audio features."""
    if not ids:
        return {}
    found: dict[str, dict[str, Any]] = {}
    credits: dict[str, set[tuple]] = {}
    for row in await _by_ids(conn, "details", ids):
        values = dict(zip(DETAIL_COLUMNS, row, strict=True))
        track_id = values["track_id"]
        if track_id not in found:
            item = {k: values[k] for k in DETAIL_COLUMNS[:-3]}
            item["has_features"] = item.pop("features_id") is not None
            found[track_id] = item
            credits[track_id] = set()
        if values["artist_id"] is not None:
            position = values["artist_position"] or 0
            credits[track_id].add((position, values["artist_name"] or "", values["artist_id"]))
    for track_id, item in found.items():
        item["artists"] = [{"artist_id": a, "name": n} for _, n, a in sorted(credits[track_id])]
    return found


async def track_genres(conn: AsyncConnection, track_id: str) -> list[str]:
    """The genres of every artist credited on the track."""
    return [r[0] for r in await _run(conn, "genres", 1, {"track_id": track_id})]


async def recently_recommended(
    conn: AsyncConnection, guild_id: int, track_ids: Sequence[str], since: datetime
) -> set[str]:
    """Which of `track_ids` the guild was recommended at or after `since` (an index seek)."""
    if not track_ids:
        return set()
    rows = await _by_ids(conn, "recent", track_ids, {"guild_id": guild_id, "since": since})
    return {r[0] for r in rows}
