"""Enrichment bookkeeping: what is still missing, what each attempt came to, what an
outside API allows this app, and a persisted cool-down.

The work list is computed from the catalogue itself (a column still NULL, no audio
features row…) minus what `enrichment` says is settled: fetched, not found, or waiting
for its retry date. So a crash loses nothing and a rerun does only what is left.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Table, and_, exists, func, literal_column, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.base import ColumnCollection
from sqlalchemy.sql.selectable import Exists

from sql import clock
from sql.schema import (
    album,
    api_capability,
    artist,
    artist_genre,
    audio_features,
    enrichment,
    track,
)
from sql.upsert import arriving, chunked, insert_or_update

FETCHED, NOT_FOUND, UNAVAILABLE, FAILED = "fetched", "not_found", "unavailable", "failed"
# A fetch whose answer had no popularity (development-mode access): settled while the
# app cannot get popularity, owed again once it can.
WITHOUT_POPULARITY = "fetched without popularity (development-mode access)"
ENTITY_TABLES = {"artist": artist, "album": album, "track": track}


@dataclass(frozen=True)
class Outcome:
    """What one attempt at one entity came to. `retry_after` None means 'next run'."""

    entity_id: str
    status: str
    reason: str | None = None
    retry_after: datetime | None = None


def _missing(
    entity_type: str, aspect: str, *, with_popularity: bool
) -> tuple[Table, Column[Any], ColumnElement[bool]]:
    """(table, key column, condition meaning 'the catalogue lacks this aspect')."""
    lacks: ColumnElement[bool]
    if (entity_type, aspect) == ("track", "details"):
        lacks = or_(
            track.c.isrc.is_(None), track.c.duration_ms.is_(None), track.c.album_id.is_(None)
        )
        if with_popularity:
            lacks = or_(lacks, track.c.popularity.is_(None))
        return track, track.c.track_id, lacks
    if (entity_type, aspect) == ("track", "audio_features"):
        has = exists().where(audio_features.c.track_id == track.c.track_id)
        return track, track.c.track_id, not_(has)
    if (entity_type, aspect) == ("album", "details"):
        lacks = or_(album.c.release_date.is_(None), album.c.image_url.is_(None))
        if with_popularity:
            lacks = or_(lacks, album.c.popularity.is_(None), album.c.label.is_(None))
        return album, album.c.album_id, lacks
    if (entity_type, aspect) == ("artist", "details"):
        spotify_genres = exists().where(
            and_(artist_genre.c.artist_id == artist.c.artist_id, artist_genre.c.source == "spotify")
        )
        lacks = or_(not_(spotify_genres), artist.c.image_url.is_(None))
        if with_popularity:
            lacks = or_(lacks, artist.c.popularity.is_(None), artist.c.followers.is_(None))
        return artist, artist.c.artist_id, and_(artist.c.name_keyed.is_(False), lacks)
    raise ValueError(f"unknown enrichment aspect {entity_type}/{aspect}")


def _settled(
    entity_type: str, aspect: str, key: Column[Any], now: datetime, *, with_popularity: bool
) -> Exists:
    done: ColumnElement[bool] = enrichment.c.status.in_((FETCHED, NOT_FOUND))
    if with_popularity:
        done = and_(done, func.coalesce(enrichment.c.reason, "") != WITHOUT_POPULARITY)
    return exists().where(
        and_(
            enrichment.c.entity_type == entity_type,
            enrichment.c.aspect == aspect,
            enrichment.c.entity_id == key,
            or_(done, enrichment.c.retry_after > now),
        )
    )


async def pending(
    conn: AsyncConnection,
    entity_type: str,
    aspect: str,
    *,
    now: datetime,
    with_popularity: bool = False,
    after: str | None = None,
    limit: int = 5000,
) -> list[str]:
    """The next `limit` ids (in id order, after `after`) that still lack `aspect`."""
    _table, key, lacks = _missing(entity_type, aspect, with_popularity=with_popularity)
    settled = _settled(entity_type, aspect, key, now, with_popularity=with_popularity)
    query = select(key).where(lacks, not_(settled))
    if after is not None:
        query = query.where(key > after)
    query = query.order_by(key).limit(limit)
    return list((await conn.execute(query)).scalars())


async def fetched_without_popularity(
    conn: AsyncConnection, entity_type: str, aspect: str, *, limit: int
) -> list[str]:
    """Entities whose fetch came back without popularity, in id order."""
    query = (
        select(enrichment.c.entity_id)
        .where(
            enrichment.c.entity_type == entity_type,
            enrichment.c.aspect == aspect,
            enrichment.c.status == FETCHED,
            enrichment.c.reason == WITHOUT_POPULARITY,
        )
        .order_by(enrichment.c.entity_id)
        .limit(limit)
    )
    return list((await conn.execute(query)).scalars())


async def count_pending(
    conn: AsyncConnection,
    entity_type: str,
    aspect: str,
    *,
    now: datetime,
    with_popularity: bool = False,
) -> int:
    table, key, lacks = _missing(entity_type, aspect, with_popularity=with_popularity)
    query = (
        select(func.count())
        .select_from(table)
        .where(
            lacks, not_(_settled(entity_type, aspect, key, now, with_popularity=with_popularity))
        )
    )
    return int(await conn.scalar(query) or 0)


def _recorded(new: ColumnCollection[str, Any]) -> dict[str, ColumnElement[Any]]:
    """What an existing enrichment row becomes; `new` holds the arriving values."""
    return {
        "status": new.status,
        "attempts": enrichment.c.attempts + literal_column("1"),  # no bound parameter: executemany
        "last_attempt_at": new.last_attempt_at,
        "retry_after": new.retry_after,
        "reason": new.reason,
    }


async def record(
    conn: AsyncConnection,
    entity_type: str,
    aspect: str,
    outcomes: Iterable[Outcome],
    *,
    now: datetime,
) -> int:
    """Store each outcome (one row per entity and aspect), counting attempts."""
    rows = [
        {
            "entity_type": entity_type,
            "entity_id": o.entity_id,
            "aspect": aspect,
            "status": o.status,
            "attempts": 1,
            "last_attempt_at": now,
            "retry_after": o.retry_after,
            "reason": (o.reason or None) and o.reason[:255],
        }
        for o in outcomes
    ]
    if not rows:
        return 0
    stmt = insert_or_update(conn.dialect, enrichment, _recorded)
    for batch in chunked(rows, 1000):
        await conn.execute(stmt, batch)
    return len(rows)


async def outcomes(
    conn: AsyncConnection, entity_type: str, aspect: str, ids: Sequence[str] | None = None
) -> dict[str, dict[str, Any]]:
    """The recorded rows for one aspect, by entity id (all of them when ids is None)."""
    query = select(enrichment).where(
        enrichment.c.entity_type == entity_type, enrichment.c.aspect == aspect
    )
    found: dict[str, dict[str, Any]] = {}
    if ids is None:
        for row in (await conn.execute(query)).mappings():
            found[row["entity_id"]] = dict(row)
        return found
    for batch in chunked(dict.fromkeys(ids), 500):
        result = await conn.execute(query.where(enrichment.c.entity_id.in_(batch)))
        for row in result.mappings():
            found[row["entity_id"]] = dict(row)
    return found


async def existing_sources(
    conn: AsyncConnection, entity_type: str, ids: Iterable[str]
) -> dict[str, str]:
    """The `source` of each id already in the catalogue (`artist`, `album` or `track`):
    enrichment keeps where an entity came from when it completes it."""
    table = ENTITY_TABLES[entity_type]
    key = next(iter(table.primary_key.columns))
    known: dict[str, str] = {}
    for batch in chunked(list(ids), 500):
        query = select(key, table.c.source).where(key.in_(batch))
        known.update({one: source for one, source in await conn.execute(query)})
    return known


# --- capabilities and the persisted cool-down ---------------------------------------------------

COOLDOWN = "cooldown_until"
COOLDOWN_REASON = "cooldown_reason"


async def capabilities(conn: AsyncConnection, service: str) -> dict[str, tuple[str, datetime]]:
    """What `service` allows this app: name → (value, when it was learned)."""
    query = select(api_capability.c.capability, api_capability.c.value, api_capability.c.learned_at)
    query = query.where(api_capability.c.service == service)
    return {name: (value, learned) for name, value, learned in await conn.execute(query)}


async def set_capability(
    conn: AsyncConnection, service: str, name: str, value: str, *, now: datetime
) -> None:
    row = {"service": service, "capability": name, "value": value[:255], "learned_at": now}
    stmt = insert_or_update(conn.dialect, api_capability, arriving("value", "learned_at"))
    await conn.execute(stmt.values(row))


async def cooldown(conn: AsyncConnection, service: str) -> tuple[datetime, str] | None:
    """The persisted 'do not call until' (naive UTC, like every time the database
    gives), with its reason; None when there is none."""
    known = await capabilities(conn, service)
    if COOLDOWN not in known:
        return None
    until = clock.to_naive(datetime.fromisoformat(known[COOLDOWN][0]))
    return until, known.get(COOLDOWN_REASON, ("", until))[0]


async def set_cooldown(
    conn: AsyncConnection, service: str, until: datetime, reason: str, *, now: datetime
) -> None:
    await set_capability(conn, service, COOLDOWN, until.isoformat(), now=now)
    await set_capability(conn, service, COOLDOWN_REASON, reason, now=now)
