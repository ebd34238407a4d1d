"""Statements compiled once per engine and shape, their values sent as tuples.

SQLAlchemy writes the SQL (one definition for MySQL and SQLite), but building and
compiling a statement, and processing its parameters row by row, cost more than the
database's own work for the hot paths: bulk loads (`sql.upsert`, half the cost of a
load), a version's assignments (`sql.model_versions`) and every recommendation's reads
(`sql.picks`). So each is compiled here once per dialect and shape (a table and its
columns, a number of seeks…), and the values go to the driver's `exec_driver_sql` as a
tuple in the compiled parameter order.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Builder = Callable[..., ClauseElement]


@dataclass(frozen=True)
class Compiled:
    """A statement's SQL, the names of its parameters in the order the driver takes
    them, and the values bound into the statement itself (those a caller may omit)."""

    sql: str
    order: tuple[str, ...]
    defaults: Mapping[str, Any]

    def values(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        """`params` (and the defaults for what it omits) as the driver's tuple."""
        merged = {**self.defaults, **params}
        return tuple(merged[key] for key in self.order)


@lru_cache(maxsize=1024)
def compiled(
    dialect: Dialect,
    build: Builder,
    *shape: Hashable,
    columns: tuple[str, ...] | None = None,
) -> Compiled:
    """`build(dialect, *shape)` compiled for `dialect`, once per dialect, builder and shape.

    With `columns` (an INSERT's), the statement takes exactly those columns and its
    parameters must come in that order, so rows can be sent as tuples as they are.
    """
    statement = build(dialect, *shape)
    keys = list(columns) if columns is not None else None
    # a DML or SELECT statement: SQL, whose compiler knows its parameters' order
    result = cast(SQLCompiler, statement.compile(dialect=dialect, column_keys=keys))
    order = tuple(result.positiontup or ())
    if columns is not None and order != columns:
        raise AssertionError(f"unexpected parameter order for {shape[0]}: {order}")
    return Compiled(str(result), order, dict(result.params))
