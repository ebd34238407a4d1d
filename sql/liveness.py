"""Is the process that started this still there? Leases that say "alive" for work in flight.

A training (`train:<version>`) and a recorded job run (`run:<id>`) each hold a lease of
their own, renewed by a background task while they work and dropped when they end. A
process killed outright stops renewing: once its lease has expired, or at once when it
ran on this host and its process id is gone, the next `train`, the next start-up or the
next lease holder closes what it left (see `recommender.versions.recover` and
`sql.jobs.abandon_dead_runs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from sql import clock, jobs
from sql.database import Database
from sql.schema import job_run, lease

log = logging.getLogger(__name__)

ALIVE_SECONDS = 60.0  # a lease unrenewed this long belongs to a process that is gone


def holder_id(kind: str = "bot") -> str:
    """Who does some work (kind, host, process, and a random part: process ids are
    reused), as stored in `job_run` and `lease`."""
    return f"{kind}:{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"[:128]


def process_gone(holder: str) -> bool:
    """True only when `holder` ran on this host and its process no longer exists."""
    parts = holder.split(":")
    if len(parts) < 4 or parts[1] != socket.gethostname()[: len(parts[1])]:
        return False
    try:
        pid = int(parts[2])
    except ValueError:
        return False
    return pid_gone(pid)


def pid_gone(pid: int) -> bool:
    """True when no process `pid` runs on this host (a zombie counts as gone)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process: alive
        return False
    return _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


async def alive_names(conn: AsyncConnection, prefix: str) -> set[str]:
    """Names of the `prefix…` leases whose holder is still working."""
    now = clock.naive_now()
    rows = (
        await conn.execute(
            select(lease.c.name, lease.c.holder, lease.c.expires_at).where(
                lease.c.name.like(f"{prefix}%")
            )
        )
    ).all()
    return {name for name, holder, until in rows if _alive(holder, until, now)}


def _alive(holder: str, until: datetime, now: datetime) -> bool:
    return until >= now and not process_gone(holder)


async def drop(conn: AsyncConnection, names: list[str]) -> None:
    if names:
        await conn.execute(delete(lease).where(lease.c.name.in_(names)))


@contextlib.asynccontextmanager
async def kept_alive(
    db: Database, name: str, holder: str, seconds: float = ALIVE_SECONDS
) -> AsyncIterator[None]:
    """Hold the lease `name` while the body runs (renewed every third of `seconds`)."""
    async with db.transaction() as conn:
        await jobs.take_lease(conn, name, holder, seconds)

    async def renew() -> None:
        while True:
            await asyncio.sleep(seconds / 3)
            try:
                async with db.transaction() as conn:
                    await jobs.take_lease(conn, name, holder, seconds)
            except Exception as error:  # the database is away: the next renewal retries
                log.warning("could not renew %s: %s", name, str(error).splitlines()[0])

    renewing = asyncio.create_task(renew(), name=f"renew {name}")
    try:
        yield
    finally:
        renewing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewing
        try:
            async with db.transaction() as conn:
                await drop(conn, [name])
        except Exception as error:  # it expires by itself
            log.warning("could not drop %s: %s", name, str(error).splitlines()[0])


async def abandon_dead_runs(conn: AsyncConnection) -> int:
    """Close the runs left `running` by a process that is gone (killed, lost its host)."""
    running = (
        await conn.execute(
            select(job_run.c.id, job_run.c.holder).where(job_run.c.outcome == "running")
        )
    ).all()
    if not running:
        return 0
    alive = await alive_names(conn, "run:")
    dead = [(run_id, holder) for run_id, holder in running if f"run:{run_id}" not in alive]
    for run_id, holder in dead:
        await conn.execute(
            update(job_run)
            .where(job_run.c.id == run_id, job_run.c.outcome == "running")
            .values(
                finished_at=clock.naive_now(),
                outcome="abandoned",
                error=f"abandoned: its process stopped ({holder})"[:2000],
            )
        )
    await drop(conn, [f"run:{run_id}" for run_id, _ in dead])
    return len(dead)
