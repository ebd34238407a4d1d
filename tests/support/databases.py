"""The test databases. MySQL/MariaDB: one per pytest process (`<name>_<pid>`), so
concurrent runs do not collide; made, emptied and dropped here, handed out by the
fixtures of tests/conftest.py. SQLite: a new file each time."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from sql.database import Database
from sql.errors import DatabaseUnavailable
from sql.migrate import init_schema
from sql.schema import metadata

MYSQL_BASE_URL = os.environ.get(
    "TUNECLUSTER_TEST_MYSQL_URL", "mysql+aiomysql://root@127.0.0.1:3306/tunecluster_test"
)


def _process_mysql_url() -> str:
    url = make_url(MYSQL_BASE_URL)
    return url.set(database=f"{url.database}_{os.getpid()}").render_as_string(hide_password=False)


MYSQL_URL = _process_mysql_url()


def in_fresh_loop(coro):
    """Run a coroutine to completion on its own loop in a worker thread.

    Lets a session fixture prepare MySQL even when it is first requested from inside an
    async fixture, where the test loop is already running.
    """
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def prepare_mysql(url: str) -> str | None:
    """Migrate the database at `url` (creating it); what went wrong, or None."""
    db = Database(url)
    try:
        await init_schema(db)
        return None
    except DatabaseUnavailable as error:
        return str(error)
    finally:
        await db.dispose()


async def drop_mysql(url: str) -> None:
    db = Database(url)
    try:
        async with db.transaction() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS `{db.url.database}`"))
    finally:
        await db.dispose()


async def clear_mysql(db: Database) -> None:
    """Empty every table, keeping the schema."""
    async with db.transaction() as conn:
        await conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for table in reversed(metadata.sorted_tables):
            await conn.execute(table.delete())
        await conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))


async def empty_database(request: pytest.FixtureRequest, engine: str, sqlite: Path) -> Database:
    """An empty, migrated database on `engine`: a new SQLite file at `sqlite`, or this
    process's MySQL database emptied (through the `mysql_database` fixture, which skips
    or fails without a server). The caller disposes of it."""
    if engine == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{sqlite}")
        await init_schema(db)
        return db
    db = Database(request.getfixturevalue("mysql_database"))
    await clear_mysql(db)
    return db
