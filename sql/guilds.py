"""Per-guild settings: the discovery schedule, its state, and the slot claim.

A scheduled post first claims its slot with one conditional UPDATE (`claim_slot`); only
the caller that changed the row posts. Two processes, a restart that catches up, and a
cron run therefore never post the same slot twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from sql import clock
from sql.schema import guild_settings

REASON_LEN = 255


async def get_guild(conn: AsyncConnection, guild_id: int) -> dict[str, Any] | None:
    row = (
        (await conn.execute(select(guild_settings).where(guild_settings.c.guild_id == guild_id)))
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def discovery_guilds(conn: AsyncConnection, *, enabled_only: bool = True) -> list[dict]:
    """Every guild with a discovery channel (only the enabled ones by default)."""
    query = select(guild_settings).where(guild_settings.c.discovery_channel_id.is_not(None))
    if enabled_only:
        query = query.where(guild_settings.c.enabled.is_(True))
    query = query.order_by(guild_settings.c.guild_id)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def set_discovery(
    conn: AsyncConnection,
    guild_id: int,
    *,
    channel_id: int,
    every: str,
    at: str,
    weekday: int | None,
    timezone: str,
    buckets: str | None,
) -> dict[str, Any]:
    """Store (or replace) the guild's schedule, enabled, from now on; returns the row."""
    values = {
        "discovery_channel_id": channel_id,
        "discovery_every": every,
        "discovery_at": at,
        "discovery_weekday": weekday,
        "timezone": timezone,
        "buckets": buckets,
        "enabled": True,
        "disabled_reason": None,
        "discovery_set_at": clock.naive_now(),
        "updated_at": clock.naive_now(),
    }
    changed = await conn.execute(
        update(guild_settings).where(guild_settings.c.guild_id == guild_id).values(values)
    )
    if not changed.rowcount:
        await conn.execute(insert(guild_settings).values(guild_id=guild_id, **values))
    row = await get_guild(conn, guild_id)
    assert row is not None
    return row


async def disable_discovery(conn: AsyncConnection, guild_id: int, reason: str) -> bool:
    """Turn the guild's posts off with a reason people can read; True if it was on."""
    result = await conn.execute(
        update(guild_settings)
        .where(guild_settings.c.guild_id == guild_id, guild_settings.c.enabled.is_(True))
        .values(enabled=False, disabled_reason=reason[:REASON_LEN], updated_at=clock.naive_now())
    )
    return bool(result.rowcount)


async def claim_slot(conn: AsyncConnection, guild_id: int, slot: datetime) -> bool:
    """Take the scheduled slot `slot` (naive UTC) for posting; False when it is taken
    (already posted, by this process or another) or discovery is off."""
    result = await conn.execute(
        update(guild_settings)
        .where(
            guild_settings.c.guild_id == guild_id,
            guild_settings.c.enabled.is_(True),
            or_(guild_settings.c.last_slot.is_(None), guild_settings.c.last_slot < slot),
        )
        .values(last_slot=slot)
    )
    return bool(result.rowcount)


async def release_slot(
    conn: AsyncConnection, guild_id: int, slot: datetime, before: datetime | None
) -> bool:
    """Give a claimed slot back (nothing was posted for it): `last_slot` returns to
    `before`, unless someone has claimed a later slot meanwhile."""
    result = await conn.execute(
        update(guild_settings)
        .where(guild_settings.c.guild_id == guild_id, guild_settings.c.last_slot == slot)
        .values(last_slot=before)
    )
    return bool(result.rowcount)


async def record_post(conn: AsyncConnection, guild_id: int) -> None:
    """A post went out: count it (the rotation moves on) and remember when."""
    await conn.execute(
        update(guild_settings)
        .where(guild_settings.c.guild_id == guild_id)
        .values(posts=guild_settings.c.posts + 1, last_post_at=clock.naive_now())
    )
