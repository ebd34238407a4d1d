"""Batch upserts that read the same on MySQL and SQLite.

The merge rule is the catalogue's: a value that arrives wins, a NULL that arrives never
erases what is known (sources differ in what they carry, so a later import of a poorer
source must not wipe an earlier richer one).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import islice
from typing import Any, Literal

from sqlalchemy import Table, func
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

Merge = Literal["coalesce", "overwrite", "ignore"]
CHUNK = 2000


def chunked(rows: Iterable[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch


def _statement(conn: AsyncConnection, table: Table, columns: Sequence[str], merge: Merge):
    keys = {c.name for c in table.primary_key.columns}
    updates = [c for c in columns if c not in keys]
    if conn.dialect.name == "sqlite":
        stmt = sqlite.insert(table)
        new = stmt.excluded
    else:
        stmt = mysql.insert(table)
        new = stmt.inserted
    if merge == "ignore" or not updates:
        if conn.dialect.name == "sqlite":
            return stmt.on_conflict_do_nothing()
        first_key = next(iter(keys))
        return stmt.on_duplicate_key_update({first_key: table.c[first_key]})
    if merge == "coalesce":
        values = {c: func.coalesce(new[c], table.c[c]) for c in updates}
    else:
        values = {c: new[c] for c in updates}
    if "updated_at" in table.c and "updated_at" not in values:
        values["updated_at"] = func.now()
    if conn.dialect.name == "sqlite":
        return stmt.on_conflict_do_update(index_elements=sorted(keys), set_=values)
    return stmt.on_duplicate_key_update(values)


async def upsert(
    conn: AsyncConnection,
    table: Table,
    rows: Iterable[Mapping[str, Any]],
    *,
    columns: Sequence[str],
    merge: Merge = "coalesce",
    chunk: int = CHUNK,
) -> int:
    """Insert or merge `rows` (each holding every name in `columns`); returns rows sent."""
    stmt = _statement(conn, table, columns, merge)
    sent = 0
    for batch in chunked(rows, chunk):
        await conn.execute(stmt, batch)
        sent += len(batch)
    return sent
