"""The files taken in (`source_file`): what makes imports, MPD slices and the watched
folder resumable. A file is recorded `done` in the transaction that lands its rows, or
`failed` with the reason; it is taken again only when it is not done or its size changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from sql.schema import source_file
from sql.upsert import upsert


async def records(conn: AsyncConnection, kind: str) -> dict[str, tuple[str, int | None]]:
    """name → (status, size in bytes) of every file of `kind` recorded."""
    query = select(source_file.c.name, source_file.c.status, source_file.c.size_bytes).where(
        source_file.c.kind == kind
    )
    return {name: (status, size) for name, status, size in (await conn.execute(query)).all()}


async def status(conn: AsyncConnection, name: str) -> str | None:
    """The recorded status of the file called `name`, None when it was never taken in."""
    return await conn.scalar(select(source_file.c.status).where(source_file.c.name == name))


async def record(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write file records (each row with the same columns), replacing earlier ones."""
    if rows:
        columns = tuple(rows[0])
        values = [tuple(r[c] for c in columns) for r in rows]
        await upsert(conn, source_file, values, columns=columns, merge="overwrite")
