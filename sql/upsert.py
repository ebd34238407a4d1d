"""Batch upserts that read the same on MySQL and SQLite.

The merge rule is the catalogue's: a value that arrives wins, a NULL that arrives never
erases what is known (sources differ in what they carry, so a later import of a poorer
source must not wipe an earlier richer one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import islice
from typing import Any, Literal

from sqlalchemy import Table, func
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.base import ColumnCollection
from sqlalchemy.sql.dml import Insert

from sql.statements import compiled

Merge = Literal["coalesce", "overwrite", "ignore", "new"]
CHUNK = 2000
# what an existing row becomes, given the arriving values (`excluded` / `inserted`)
Updates = Callable[[ColumnCollection[str, Any]], dict[str, ColumnElement[Any]]]


def chunked(rows: Iterable[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch


def insert_or_update(dialect: Dialect, table: Table, updates: Updates) -> Insert:
    """An INSERT that turns a row already there (same primary key) into `updates(new)`:
    SQLite's ON CONFLICT DO UPDATE, MySQL's ON DUPLICATE KEY UPDATE."""
    if dialect.name == "sqlite":
        lite = sqlite.insert(table)
        keys = [c.name for c in table.primary_key.columns]
        return lite.on_conflict_do_update(index_elements=keys, set_=updates(lite.excluded))
    my = mysql.insert(table)
    return my.on_duplicate_key_update(updates(my.inserted))


def arriving(*columns: str) -> Updates:
    """Updates that take the arriving values of `columns`."""
    return lambda new: {c: new[c] for c in columns}


def _statement(dialect: Dialect, table: Table, columns: Sequence[str], merge: Merge) -> Insert:
    """The dialect's upsert of `columns` under the merge rule."""
    keys = {c.name for c in table.primary_key.columns}
    updates = [c for c in columns if c not in keys]
    # "new" inserts the absent rows only; the engine counts exactly those
    if merge in ("new", "ignore") or not updates:
        if dialect.name == "sqlite":
            return sqlite.insert(table).on_conflict_do_nothing()
        if merge == "new":
            return mysql.insert(table).prefix_with("IGNORE")
        first_key = next(iter(keys))
        return mysql.insert(table).on_duplicate_key_update({first_key: table.c[first_key]})
    return insert_or_update(dialect, table, lambda new: _updates(table, new, updates, merge))


def _updates(
    table: Table, new: ColumnCollection[str, Any], updates: Sequence[str], merge: Merge
) -> dict[str, ColumnElement[Any]]:
    """What an existing row's `updates` columns become; `new` holds the arriving values."""
    values: dict[str, ColumnElement[Any]]
    if merge == "coalesce":
        values = {c: func.coalesce(new[c], table.c[c]) for c in updates}
    else:
        values = {c: new[c] for c in updates}
    if "updated_at" in table.c and "updated_at" not in values:
        values["updated_at"] = func.now()
    return values


def _sql(dialect: Dialect, table: Table, columns: Sequence[str], merge: Merge) -> str:
    """The upsert's SQL with positional parameters in `columns` order (compiled once)."""
    key = tuple(columns)
    return compiled(dialect, _statement, table, key, merge, columns=key).sql


async def upsert(
    conn: AsyncConnection,
    table: Table,
    rows: Iterable[Sequence[Any]],
    *,
    columns: Sequence[str],
    merge: Merge = "coalesce",
    chunk: int = CHUNK,
) -> int:
    """Insert or merge `rows` (tuples in `columns` order); returns rows sent.

    SQLAlchemy writes the statement for the engine; the rows go to the driver's
    `executemany` as tuples, which skips per-row parameter processing (half the cost of a
    bulk load, see benchmarks/bulk_load.py). aiomysql turns it into multi-row INSERTs.
    """
    sql = _sql(conn.dialect, table, columns, merge)
    sent = 0
    for batch in chunked(rows, chunk):
        await conn.exec_driver_sql(sql, batch)
        sent += len(batch)
    return sent


async def insert_new(
    conn: AsyncConnection,
    table: Table,
    rows: Iterable[Sequence[Any]],
    *,
    columns: Sequence[str],
    chunk: int = CHUNK,
) -> int:
    """Insert the rows whose key the table lacks, leave the others; returns rows inserted.

    The engines count differently: SQLite's changes count only inserted rows of an
    `INSERT … ON CONFLICT DO NOTHING`, but MySQL's affected rows for `upsert`'s
    `ON DUPLICATE KEY UPDATE key = key` count a found row as 1 too (SQLAlchemy connects
    with CLIENT_FOUND_ROWS), the same as an insert. So MySQL gets `INSERT IGNORE`, whose
    affected rows are the inserted rows. IGNORE also turns data errors into warnings:
    for callers whose values are already clipped and checked (the MPD writer).
    """
    sql = _sql(conn.dialect, table, columns, "new")
    inserted = 0
    for batch in chunked(rows, chunk):
        result = await conn.exec_driver_sql(sql, batch)
        inserted += max(int(result.rowcount or 0), 0)
    return inserted
