"""Shared fixtures: a fresh database on each engine, the shared public data.

MySQL is never mocked: the `mysql` engine runs against the real server named by
TUNECLUSTER_TEST_MYSQL_URL. Each pytest process gets a database of its own
(`<name>_<pid>`, dropped at the end), so concurrent runs do not collide. Without a
server the MySQL cases skip locally with the reason, and fail in CI (CI=true).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from sql.database import Database
from sql.errors import DatabaseUnavailable
from sql.migrate import init_schema
from sql.schema import metadata

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TUNECLUSTER_SHARED_DATA", ROOT.parent / "shared" / "data"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
MYSQL_BASE_URL = os.environ.get(
    "TUNECLUSTER_TEST_MYSQL_URL", "mysql+aiomysql://root@127.0.0.1:3306/tunecluster_test"
)


def _process_mysql_url() -> str:
    url = make_url(MYSQL_BASE_URL)
    return url.set(database=f"{url.database}_{os.getpid()}").render_as_string(hide_password=False)


MYSQL_URL = _process_mysql_url()


def unavailable(reason: str) -> None:
    """Fail in CI, skip (saying why) elsewhere."""
    if IN_CI:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data; its absence is reported, never silently skipped."""
    if not (SHARED_DATA / "README.md").exists():
        unavailable(f"the shared public data is missing at {SHARED_DATA}")
    return SHARED_DATA


def in_fresh_loop(coro):
    """Run a coroutine to completion on its own loop in a worker thread.

    Lets a session fixture prepare MySQL even when it is first requested from inside an
    async fixture, where the test loop is already running.
    """
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _prepare_mysql(url: str) -> str | None:
    db = Database(url)
    try:
        await init_schema(db)
        return None
    except DatabaseUnavailable as error:
        return str(error)
    finally:
        await db.dispose()


async def _drop_mysql(url: str) -> None:
    db = Database(url)
    try:
        async with db.transaction() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS `{db.url.database}`"))
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
def mysql_database() -> Iterator[str]:
    """A migrated MySQL database for this pytest process, dropped at the end."""
    problem = in_fresh_loop(_prepare_mysql(MYSQL_URL))
    if problem:
        unavailable(f"MySQL/MariaDB is needed for these tests: {problem}")
    yield MYSQL_URL
    in_fresh_loop(_drop_mysql(MYSQL_URL))


async def clear_mysql(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for table in reversed(metadata.sorted_tables):
            await conn.execute(table.delete())
        await conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))


@pytest.fixture(params=["sqlite", "mysql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty, migrated database on each engine."""
    if request.param == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
        await init_schema(database)
    else:
        url = request.getfixturevalue("mysql_database")
        database = Database(url)
        await clear_mysql(database)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
