"""Model versions, the active model, cluster assignments and the recommendation log.

A version's rows are written while it is `training`; only when its bundle and every
assignment are in place is it marked `ready`, and activation is a single statement on
`app_state`, so serving never reads a half-written model. The reads serving makes on
every request live in `sql.picks`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Select, Table, and_, bindparam, delete, insert, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from sql import clock
from sql.catalogue import genre_names
from sql.schema import (
    app_state,
    cluster,
    genre_bucket,
    model_version,
    recommendation_log,
    track_cluster,
)
from sql.statements import compiled
from sql.upsert import arriving, chunked, insert_or_update

ACTIVE_KEY = "active_model"
ASSIGNMENT_CHUNK = 5000


# --- model versions -----------------------------------------------------------------------------


async def insert_model_version(
    conn: AsyncConnection, version: str, *, fingerprint: str, path: str
) -> None:
    await conn.execute(
        insert(model_version).values(
            version=version,
            status="training",
            fingerprint=fingerprint,
            path=path,
            created_at=clock.naive_now(),
        )
    )


async def finish_model_version(
    conn: AsyncConnection,
    version: str,
    *,
    status: str,
    meta: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    values: dict[str, Any] = {"status": status, "finished_at": clock.naive_now()}
    if meta is not None:
        values["meta"] = json.dumps(meta, default=str)
    if error is not None:
        values["error"] = error[:4000]
    await conn.execute(
        update(model_version).where(model_version.c.version == version).values(values)
    )


async def set_model_status(conn: AsyncConnection, version: str, status: str) -> None:
    await conn.execute(
        update(model_version).where(model_version.c.version == version).values(status=status)
    )


async def get_model_version(conn: AsyncConnection, version: str) -> dict[str, Any] | None:
    row = (
        (await conn.execute(select(model_version).where(model_version.c.version == version)))
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def list_model_versions(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Every version, newest first, without the (large) metadata."""
    columns = [c for c in model_version.c if c.name != "meta"]
    query = select(*columns).order_by(
        model_version.c.created_at.desc(), model_version.c.version.desc()
    )
    return [dict(r) for r in (await conn.execute(query)).mappings()]


# --- the active model ---------------------------------------------------------------------------


def _active(_: Dialect) -> Select:
    return select(app_state.c.value).where(app_state.c.key == bindparam("key"))


async def active_version(conn: AsyncConnection) -> str | None:
    """The version serving now (None before the first activation); compiled once, as
    serving reads it on requests."""
    statement = compiled(conn.dialect, _active)
    row = (await conn.exec_driver_sql(statement.sql, statement.values({"key": ACTIVE_KEY}))).first()
    return row[0] if row else None


async def set_active_version(conn: AsyncConnection, version: str) -> None:
    """Switch serving to `version` in one statement."""
    values = {"key": ACTIVE_KEY, "value": version, "updated_at": clock.naive_now()}
    stmt = insert_or_update(conn.dialect, app_state, arriving("value", "updated_at"))
    await conn.execute(stmt.values(values))


async def replace_genre_buckets(conn: AsyncConnection, mapping: Mapping[str, Sequence[str]]) -> int:
    """The genre → bucket table as the active model's taxonomy files it (for people and SQL)."""
    known = set(await genre_names(conn))
    await conn.execute(delete(genre_bucket))
    rows = [(g, b) for g, buckets in mapping.items() if g in known for b in dict.fromkeys(buckets)]
    await _insert_many(conn, genre_bucket, ("genre", "bucket"), rows, ASSIGNMENT_CHUNK)
    return len(rows)


# --- clusters and assignments -------------------------------------------------------------------


async def write_clusters(
    conn: AsyncConnection, version: str, sizes: Iterable[tuple[str, int, int]]
) -> int:
    """Rows of (bucket, cluster, size)."""
    rows = [(version, b, int(c), int(n)) for b, c, n in sizes]
    await _insert_many(
        conn, cluster, ("model_version", "bucket", "cluster", "size"), rows, ASSIGNMENT_CHUNK
    )
    return len(rows)


async def write_assignments(
    conn: AsyncConnection, rows: Sequence[tuple[str, str, int, int, str]]
) -> int:
    """Rows of (version, bucket, cluster, position, track_id), sent in big batches."""
    columns = ("model_version", "bucket", "cluster", "position", "track_id")
    await _insert_many(conn, track_cluster, columns, rows, ASSIGNMENT_CHUNK)
    return len(rows)


async def delete_version_rows(conn: AsyncConnection, version: str) -> int:
    """Remove a version's assignments and clusters (a failed or pruned version)."""
    removed = 0
    buckets = (
        await conn.execute(
            select(track_cluster.c.bucket, track_cluster.c.cluster)
            .where(track_cluster.c.model_version == version)
            .distinct()
        )
    ).all()
    for bucket, number in buckets:
        result = await conn.execute(
            delete(track_cluster).where(
                and_(
                    track_cluster.c.model_version == version,
                    track_cluster.c.bucket == bucket,
                    track_cluster.c.cluster == number,
                )
            )
        )
        removed += result.rowcount or 0
    await conn.execute(delete(cluster).where(cluster.c.model_version == version))
    return removed


async def versions_with_rows(conn: AsyncConnection) -> set[str]:
    """Every version that has clusters or assignments in the database."""
    found = set((await conn.execute(select(cluster.c.model_version).distinct())).scalars())
    assigned = select(track_cluster.c.model_version).distinct()
    return found | set((await conn.execute(assigned)).scalars())


async def assignments(conn: AsyncConnection, version: str) -> list[tuple[str, str, int]]:
    """(track_id, bucket, cluster) of every assignment of a version (offline evaluation)."""
    query = select(track_cluster.c.track_id, track_cluster.c.bucket, track_cluster.c.cluster).where(
        track_cluster.c.model_version == version
    )
    return [tuple(r) for r in (await conn.execute(query)).all()]


# --- the recommendation log -------------------------------------------------------------------------


async def log_recommendations(
    conn: AsyncConnection,
    rows: Iterable[dict[str, Any]],
) -> int:
    """Rows of guild_id, user_id, input_track_id, pick_track_id, bucket, strategy."""
    now = clock.naive_now()
    shaped = [
        (
            r.get("guild_id"),
            r.get("user_id"),
            r.get("input_track_id"),
            r["pick_track_id"],
            r.get("bucket"),
            r.get("strategy"),
            r.get("created_at") or now,
        )
        for r in rows
    ]
    columns = (
        "guild_id",
        "user_id",
        "input_track_id",
        "pick_track_id",
        "bucket",
        "strategy",
        "created_at",
    )
    await _insert_many(conn, recommendation_log, columns, shaped, ASSIGNMENT_CHUNK)
    return len(shaped)


# --- bulk inserts ----------------------------------------------------------------------------------


def _insert(_: Dialect, table: Table) -> Insert:
    return insert(table)


async def _insert_many(
    conn: AsyncConnection,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    chunk: int,
) -> None:
    """Plain INSERTs through the driver's executemany (multi-row INSERTs on aiomysql)."""
    key = tuple(columns)
    sql = compiled(conn.dialect, _insert, table, columns=key).sql
    for batch in chunked(rows, chunk):
        await conn.exec_driver_sql(sql, batch)
