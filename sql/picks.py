"""The reads serving makes on every request, kept cheap.

Picks seek through the `track_cluster` primary key (version, bucket, cluster, position):
a request reads a bounded number of rows whatever the catalogue's size. A request makes
two round trips: one for the input track (the active version, its details and the
genres it is filed by, its own or else its artists', in one statement), one for the candidates (every seek, or every chosen position, of the
request in one UNION ALL over the primary key, joined to the candidates' details). The statements are compiled once per engine and
shape (`sql.statements`: SQLAlchemy writes the SQL; values go to the driver as tuples):
statement building and result processing were most of a recommendation's time. Variable
lengths (seeks, id lists) are rounded up to a power of two and padded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    FromClause,
    Join,
    ScalarSelect,
    Select,
    and_,
    bindparam,
    exists,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.engine import Dialect, Row
from sqlalchemy.ext.asyncio import AsyncConnection

from sql.model_versions import ACTIVE_KEY, active_version
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
    track_genre,
)
from sql.statements import compiled

MAX_ARMS = 128  # seeks per statement (SQLite allows 500 compound terms)
MAX_IDS = 512

# A track's details as the statements read them: (name in the track dict, column).
_DETAILS = (
    ("track_id", track.c.track_id),
    ("name", track.c.name),
    ("track_popularity", track.c.popularity),
    ("album_popularity", album.c.popularity),
    ("release_year", album.c.release_year),
    ("features_id", audio_features.c.track_id),
    *((name, audio_features.c[name]) for name in FEATURE_COLUMNS),
)
DETAIL_COLUMNS = tuple(name for name, _ in _DETAILS)
# After the details, one credited artist per row: (position, artist_id, name).
_CREDIT = (artist_track.c.position, artist.c.artist_id, artist.c.name)


def _shape(size: int) -> int:
    """The next power of two ≥ size (few compiled shapes)."""
    shape = 1
    while shape < size:
        shape *= 2
    return shape


def _build(dialect: Dialect, name: str, size: Any) -> Statement:
    return _BUILDERS[name](size, dialect.name)


async def _run(
    conn: AsyncConnection, name: str, size: Any, params: dict[str, Any]
) -> list[Row[Any]]:
    statement = compiled(conn.dialect, _build, name, size)
    result = await conn.exec_driver_sql(statement.sql, statement.values(params))
    return list(result.all())


# --- statements ------------------------------------------------------------------------------


# what a builder makes: one SELECT, or a UNION ALL of one per arm
Statement = Select[Any] | CompoundSelect


def _details_columns() -> list[ColumnElement[Any]]:
    return [*(column for _, column in _DETAILS), *_CREDIT]


def _details_from(base: FromClause) -> Join:
    """`base` (track, or candidates joined to track) with album, features and artists."""
    return (
        base.outerjoin(album, album.c.album_id == track.c.album_id)
        .outerjoin(audio_features, audio_features.c.track_id == track.c.track_id)
        .outerjoin(artist_track, artist_track.c.track_id == track.c.track_id)
        .outerjoin(artist, artist.c.artist_id == artist_track.c.artist_id)
    )


def _active_value() -> ScalarSelect[Any]:
    return select(app_state.c.value).where(app_state.c.key == ACTIVE_KEY).scalar_subquery()


def _input(_: int, __: str) -> Select[Any]:
    """The active version, the track's details and artists, and the genres it is filed
    by: its own (`track_genre`), or, only when it has none, its artists' (the join to
    `artist_genre` is off when an uncorrelated EXISTS finds an own genre). One row per
    artist and genre, a handful for one track; plain joins, no UNION or derived table
    (MariaDB would build a temporary table on every call)."""
    own = track_genre.alias("own")
    has_own = exists().where(own.c.track_id == bindparam("track_id"))
    return (
        select(_active_value(), *_details_columns(), track_genre.c.genre, artist_genre.c.genre)
        .select_from(
            _details_from(track)
            .outerjoin(track_genre, track_genre.c.track_id == track.c.track_id)
            .outerjoin(
                artist_genre,
                and_(artist_genre.c.artist_id == artist_track.c.artist_id, ~has_own),
            )
        )
        .where(track.c.track_id == bindparam("track_id"))
    )


def _cluster(i: int) -> ColumnElement[bool]:
    return and_(
        track_cluster.c.model_version == bindparam("version"),
        track_cluster.c.bucket == bindparam(f"b{i}"),
        track_cluster.c.cluster == bindparam(f"c{i}"),
    )


def _arm_select(i: int) -> Select[Any]:
    return select(
        literal_column(str(i)).label("arm"), track_cluster.c.position, track_cluster.c.track_id
    ).where(_cluster(i), track_cluster.c.position >= bindparam(f"s{i}"))


def _ranges(arms: int, _: str) -> Statement:
    """Rows with start <= position < end, per arm: a plain UNION ALL of index ranges."""
    parts = [
        _arm_select(i).where(track_cluster.c.position < bindparam(f"e{i}")) for i in range(arms)
    ]
    return parts[0] if arms == 1 else union_all(*parts)


def _seeks(arms: int, dialect: str) -> Statement:
    """Up to n rows from `start` on, per arm. MySQL takes parenthesised arms with their own
    ORDER BY … LIMIT; SQLite needs each arm as a derived table."""
    parts = []
    for i in range(arms):
        arm = (
            _arm_select(i)
            .order_by(track_cluster.c.position)
            .limit(bindparam(f"n{i}"))
            .offset(bindparam(f"o{i}"))
        )
        if dialect == "sqlite":
            inner = arm.subquery(f"seek{i}")
            arm = select(inner.c.arm, inner.c.position, inner.c.track_id)
        parts.append(arm)
    return parts[0] if arms == 1 else union_all(*parts)


def _at(shape: tuple[int, int], _: str) -> Statement:
    """Given positions, per arm (primary-key lookups)."""
    arms, width = shape
    parts = [
        select(
            literal_column(str(i)).label("arm"), track_cluster.c.position, track_cluster.c.track_id
        )
        .where(_cluster(i))
        .where(track_cluster.c.position.in_([bindparam(f"p{i}_{j}") for j in range(width)]))
        for i in range(arms)
    ]
    return parts[0] if arms == 1 else union_all(*parts)


def _with_details(arms: Statement) -> Select[Any]:
    """Candidates (arm, position, track_id) joined to their details and artists."""
    found = arms.subquery("found")
    return select(found.c.arm, found.c.position, *_details_columns()).select_from(
        _details_from(found.join(track, track.c.track_id == found.c.track_id))
    )


def _sought(arms: int, dialect: str) -> Select[Any]:
    return _with_details(_seeks(arms, dialect))


def _found_at(shape: tuple[int, int], dialect: str) -> Select[Any]:
    return _with_details(_at(shape, dialect))


def _ids(size: int) -> list[BindParameter[Any]]:
    return [bindparam(f"id{i}") for i in range(size)]


def _details(size: int, _: str) -> Select[Any]:
    return (
        select(*_details_columns())
        .select_from(_details_from(track))
        .where(track.c.track_id.in_(_ids(size)))
    )


def _recent(size: int, _: str) -> Select[Any]:
    return select(recommendation_log.c.pick_track_id).where(
        recommendation_log.c.guild_id == bindparam("guild_id"),
        recommendation_log.c.created_at >= bindparam("since"),
        recommendation_log.c.pick_track_id.in_(_ids(size)),
    )


_BUILDERS: dict[str, Callable[[Any, str], Statement]] = {
    "input": _input,
    "ranges": _ranges,
    "seeks": _seeks,
    "sought": _sought,
    "found_at": _found_at,
    "details": _details,
    "recent": _recent,
}


# --- rows → tracks ----------------------------------------------------------------------------------


class _Tracks:
    """Builds track dicts from detail rows (one row per credited artist)."""

    def __init__(self) -> None:
        self.found: dict[str, dict[str, Any]] = {}
        self.credits: dict[str, set[tuple]] = {}

    def add(self, row: Sequence[Any]) -> str:
        track_id = row[0]
        if track_id not in self.found:
            item = dict(zip(DETAIL_COLUMNS, row[: len(DETAIL_COLUMNS)], strict=True))
            item["has_features"] = item.pop("features_id") is not None
            self.found[track_id] = item
            self.credits[track_id] = set()
        position, artist_id, name = row[len(DETAIL_COLUMNS) : len(DETAIL_COLUMNS) + len(_CREDIT)]
        if artist_id is not None:
            self.credits[track_id].add((position or 0, name or "", artist_id))
        return track_id

    def done(self) -> dict[str, dict[str, Any]]:
        for track_id, item in self.found.items():
            item["artists"] = [
                {"artist_id": a, "name": n} for _, n, a in sorted(self.credits[track_id])
            ]
        return self.found


# --- reads ----------------------------------------------------------------------------------------


async def track_genres(conn: AsyncConnection, track_id: str) -> list[str]:
    """The genres the track is filed by: its own where it has any, else its artists'."""
    _, _, genres = await input_track(conn, track_id)
    return genres


async def input_track(
    conn: AsyncConnection, track_id: str
) -> tuple[str | None, dict[str, Any] | None, list[str]]:
    """(active version, the track's details or None, the genres it is filed by) in one
    trip. The genres are the track's own (`track_genre`) where it has any, else its
    artists'; `details["genres_from"]` says which: "track", "artists" or None."""
    rows = await _run(conn, "input", 1, {"track_id": track_id})
    if not rows:
        return await active_version(conn), None, []
    tracks = _Tracks()
    own: dict[str, None] = {}
    borrowed: dict[str, None] = {}
    for row in rows:
        tracks.add(row[1:-2])
        if row[-2] is not None:
            own[row[-2]] = None
        if row[-1] is not None:
            borrowed[row[-1]] = None
    origin = "track" if own else "artists" if borrowed else None
    details = tracks.done()[track_id]
    details["genres_from"] = origin
    return rows[0][0], details, sorted(own or borrowed)


def _arm_params(version: str, batch: list[dict[str, Any]], pad: dict) -> tuple[int, dict]:
    size = _shape(len(batch))
    params: dict[str, Any] = {"version": version}
    for i in range(size):
        arm = batch[i] if i < len(batch) else {**batch[0], **pad}
        for key, value in arm.items():
            params[f"{key}{i}"] = value
    return size, params


async def _arms(
    conn: AsyncConnection,
    name: str,
    version: str,
    arms: list[dict[str, Any]],
    pad: dict,
    tracks: _Tracks | None = None,
) -> list[list[tuple[int, str]]]:
    """Every arm's (position, track_id) rows; with `tracks`, the statement also carries
    the tracks' details (one row per credited artist), collected there."""
    found: list[list[tuple[int, str]]] = [[] for _ in arms]
    for first in range(0, len(arms), MAX_ARMS):
        batch = arms[first : first + MAX_ARMS]
        size, params = _arm_params(version, batch, pad)
        seen: set[tuple[int, int]] = set()
        for row in await _run(conn, name, size, params):
            arm, position = int(row[0]), int(row[1])
            track_id = tracks.add(row[2:]) if tracks is not None else row[2]
            if arm < len(batch) and (arm, position) not in seen:
                seen.add((arm, position))
                found[first + arm].append((position, track_id))
    for rows in found:
        rows.sort()
    return found


def _seek_arms(requests: Sequence[tuple[str, int, int]], limit: int) -> list[dict[str, Any]]:
    return [{"b": b, "c": int(c), "s": int(s), "n": int(limit), "o": 0} for b, c, s in requests]


def _range_arms(requests: Sequence[tuple[str, int, int, int]]) -> list[dict[str, Any]]:
    return [{"b": b, "c": int(c), "s": int(s), "e": int(e)} for b, c, s, e in requests]


SEEK_PAD = {"s": 0, "n": 0}
RANGE_PAD = {"s": 0, "e": 0}


async def seek(
    conn: AsyncConnection,
    version: str,
    requests: Sequence[tuple[str, int, int]],
    limit: int,
) -> list[list[tuple[int, str]]]:
    """For each (bucket, cluster, start): up to `limit` (position, track_id) from `start`
    on, through the primary key; every seek in one statement."""
    arms = _seek_arms(requests, limit)
    return await _arms(conn, "seeks", version, arms, SEEK_PAD) if arms else []


async def position_ranges(
    conn: AsyncConnection, version: str, requests: Sequence[tuple[str, int, int, int]]
) -> list[list[tuple[int, str]]]:
    """For each (bucket, cluster, start, end): the rows with start <= position < end."""
    arms = _range_arms(requests)
    return await _arms(conn, "ranges", version, arms, RANGE_PAD) if arms else []


async def seek_with_details(
    conn: AsyncConnection,
    version: str,
    requests: Sequence[tuple[str, int, int]],
    limit: int,
) -> tuple[list[list[tuple[int, str]]], dict[str, dict[str, Any]]]:
    """`seek`, and the details of every track found, in the same statement (a track
    deleted from the catalogue since training is not returned)."""
    tracks = _Tracks()
    arms = _seek_arms(requests, limit)
    found = await _arms(conn, "sought", version, arms, SEEK_PAD, tracks) if arms else []
    return found, tracks.done()


async def at_positions_with_details(
    conn: AsyncConnection, version: str, requests: Sequence[tuple[str, int, Sequence[int]]]
) -> tuple[list[list[tuple[int, str]]], dict[str, dict[str, Any]]]:
    """For each (bucket, cluster, positions): the (position, track_id) rows at those
    positions, and the tracks' details; one statement of primary-key lookups."""
    found: list[list[tuple[int, str]]] = [[] for _ in requests]
    tracks = _Tracks()
    for first in range(0, len(requests), MAX_ARMS):
        batch = requests[first : first + MAX_ARMS]
        width = _shape(max(len(p) for _, _, p in batch) or 1)
        arms = _shape(len(batch))
        params: dict[str, Any] = {"version": version}
        for i in range(arms):
            bucket, number, positions = batch[i] if i < len(batch) else ("", -1, [])
            params[f"b{i}"], params[f"c{i}"] = bucket, int(number)
            padded = [int(p) for p in positions] + [-1] * (width - len(positions))
            params.update({f"p{i}_{j}": value for j, value in enumerate(padded)})
        seen: set[tuple[int, int]] = set()
        for row in await _run(conn, "found_at", (arms, width), params):
            arm, position = int(row[0]), int(row[1])
            track_id = tracks.add(row[2:])
            if arm < len(batch) and (arm, position) not in seen:
                seen.add((arm, position))
                found[first + arm].append((position, track_id))
    for rows in found:
        rows.sort()
    return found, tracks.done()


async def _by_ids(
    conn: AsyncConnection, name: str, ids: Sequence[str], extra: dict[str, Any] | None = None
) -> list[Row[Any]]:
    unique = list(dict.fromkeys(ids))
    rows: list[Row[Any]] = []
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
    tracks = _Tracks()
    for row in await _by_ids(conn, "details", ids):
        tracks.add(row)
    return tracks.done()


async def recently_recommended(
    conn: AsyncConnection, guild_id: int, track_ids: Sequence[str], since: datetime
) -> set[str]:
    """Which of `track_ids` the guild was recommended at or after `since` (an index seek)."""
    if not track_ids:
        return set()
    rows = await _by_ids(conn, "recent", track_ids, {"guild_id": guild_id, "since": since})
    return {r[0] for r in rows}
