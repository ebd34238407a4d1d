"""The reads a discovery post makes besides the pick seeks (`sql.picks`): cluster sizes of
the active model (tens of rows) and what a guild asks for most."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from sql.schema import cluster, recommendation_log

DISCOVERY_STRATEGY = "discovery"


async def cluster_sizes(conn: AsyncConnection, version: str) -> dict[str, list[tuple[int, int]]]:
    """bucket → [(cluster, size)] of a model version (only non-empty clusters)."""
    query = (
        select(cluster.c.bucket, cluster.c.cluster, cluster.c.size)
        .where(cluster.c.model_version == version, cluster.c.size > 0)
        .order_by(cluster.c.bucket, cluster.c.cluster)
    )
    sizes: dict[str, list[tuple[int, int]]] = {}
    for bucket, number, size in (await conn.execute(query)).all():
        sizes.setdefault(bucket, []).append((int(number), int(size)))
    return sizes


async def bucket_demand(
    conn: AsyncConnection, guild_id: int, since: datetime | None = None
) -> list[tuple[str, int]]:
    """The buckets the guild's members were recommended from, most asked first
    (discovery posts themselves do not count, so a rotation does not feed itself)."""
    count = func.count().label("n")
    query = (
        select(recommendation_log.c.bucket, count)
        .where(
            recommendation_log.c.guild_id == guild_id,
            recommendation_log.c.bucket.is_not(None),
            func.coalesce(recommendation_log.c.strategy, "") != DISCOVERY_STRATEGY,
        )
        .group_by(recommendation_log.c.bucket)
        .order_by(count.desc(), recommendation_log.c.bucket)
    )
    if since is not None:
        query = query.where(recommendation_log.c.created_at >= since)
    return [(bucket, int(n)) for bucket, n in (await conn.execute(query)).all()]
