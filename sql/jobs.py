"""Background job runs and the lease that lets one process run the global jobs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from sql import clock
from sql.schema import job_run, lease


async def start_run(conn: AsyncConnection, job: str, holder: str) -> int:
    result = await conn.execute(
        insert(job_run).values(
            job=job, holder=holder, started_at=clock.naive_now(), outcome="running"
        )
    )
    key = result.inserted_primary_key
    assert key is not None  # None only for an executemany
    return int(key[0])


async def finish_run(
    conn: AsyncConnection,
    run_id: int,
    outcome: str,
    *,
    counts: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    await conn.execute(
        update(job_run)
        .where(job_run.c.id == run_id, job_run.c.outcome == "running")  # first close wins
        .values(
            finished_at=clock.naive_now(),
            outcome=outcome,
            counts=json.dumps(counts, default=str) if counts else None,
            error=error[:2000] if error else None,
        )
    )


async def last_runs(conn: AsyncConnection, limit: int = 10) -> list[dict[str, Any]]:
    """The newest run of each job, newest first."""
    newest = (
        select(job_run.c.job, func.max(job_run.c.id).label("id")).group_by(job_run.c.job).subquery()
    )
    query = (
        select(job_run)
        .join(newest, newest.c.id == job_run.c.id)
        .order_by(job_run.c.started_at.desc())
        .limit(limit)
    )
    return [_run(row) for row in (await conn.execute(query)).mappings()]


async def runs(conn: AsyncConnection, job: str | None = None, limit: int = 50) -> list[dict]:
    query = select(job_run).order_by(job_run.c.id.desc()).limit(limit)
    if job is not None:
        query = query.where(job_run.c.job == job)
    return [_run(row) for row in (await conn.execute(query)).mappings()]


def _run(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["counts"] = json.loads(out["counts"]) if out.get("counts") else {}
    return out


async def take_lease(conn: AsyncConnection, name: str, holder: str, seconds: float) -> bool:
    """Take or renew the lease `name` for `holder`; True when `holder` now holds it.

    A lease whose holder stopped renewing expires and is taken over. The conditional
    UPDATE is the arbiter: of two processes racing for an expired lease, one updates.
    """
    now = clock.naive_now()
    until = now + timedelta(seconds=seconds)
    taken = await conn.execute(
        update(lease)
        .where(lease.c.name == name, or_(lease.c.holder == holder, lease.c.expires_at < now))
        .values(holder=holder, expires_at=until)
    )
    if taken.rowcount:
        return True
    exists = await conn.scalar(select(func.count()).select_from(lease).where(lease.c.name == name))
    if exists:
        return False
    try:
        async with conn.begin_nested():
            await conn.execute(insert(lease).values(name=name, holder=holder, expires_at=until))
        return True
    except Exception:  # another process inserted it first
        return False


async def release_lease(conn: AsyncConnection, name: str, holder: str) -> None:
    await conn.execute(
        update(lease)
        .where(and_(lease.c.name == name, lease.c.holder == holder))
        .values(expires_at=clock.naive_now())
    )


async def lease_holder(conn: AsyncConnection, name: str) -> tuple[str, datetime] | None:
    row = (
        await conn.execute(select(lease.c.holder, lease.c.expires_at).where(lease.c.name == name))
    ).first()
    return (row[0], row[1]) if row else None


# --- used by the scheduler (bot/scheduler.py) ---------------------------------------------------


async def started_since(conn: AsyncConnection, job: str, since: datetime) -> bool:
    """Whether a run of `job` (any outcome, any process) started at or after `since`:
    the scheduler's once-per-period rule."""
    found = await conn.scalar(
        select(job_run.c.id)
        .where(job_run.c.job == job, job_run.c.started_at >= since)
        .order_by(job_run.c.started_at.desc())
        .limit(1)
    )
    return found is not None


async def abandon_runs(
    conn: AsyncConnection, holder: str, error: str, outcome: str = "abandoned"
) -> int:
    """Close the runs `holder` left `running`: `abandoned` when its lease was taken
    over, `cancelled` when it stopped cleanly before they could record themselves."""
    result = await conn.execute(
        update(job_run)
        .where(job_run.c.holder == holder, job_run.c.outcome == "running")
        .values(finished_at=clock.naive_now(), outcome=outcome, error=error[:2000])
    )
    return int(result.rowcount or 0)
