"""Shared fixtures: a fresh database on each engine, the shared public data.

MySQL is never mocked: the `mysql` engine runs against the real server named by
TUNECLUSTER_TEST_MYSQL_URL. Each pytest process gets a database of its own
(`<name>_<pid>`, dropped at the end), so concurrent runs do not collide. Without a
server the MySQL cases skip locally with the reason, and fail in CI (CI=true).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from sql.database import Database
from tests.support.databases import (
    MYSQL_URL,
    clear_mysql,
    drop_mysql,
    empty_database,
    in_fresh_loop,
    prepare_mysql,
)
from tests.support.environment import SHARED_DATA, unavailable


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data; its absence is reported, never silently skipped."""
    if not (SHARED_DATA / "README.md").exists():
        unavailable(f"the shared public data is missing at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def mysql_database() -> Iterator[str]:
    """A migrated MySQL database for this pytest process, dropped at the end."""
    problem = in_fresh_loop(prepare_mysql(MYSQL_URL))
    if problem:
        unavailable(f"MySQL/MariaDB is needed for these tests: {problem}")
    yield MYSQL_URL
    in_fresh_loop(drop_mysql(MYSQL_URL))


@pytest.fixture(params=["sqlite", "mysql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty, migrated database on each engine."""
    database = await empty_database(request, request.param, tmp_path / "test.db")
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
async def mariadb(mysql_database: str) -> AsyncIterator[Database]:
    """This process's MySQL/MariaDB database, emptied (for tests on that engine alone)."""
    database = Database(mysql_database)
    await clear_mysql(database)
    try:
        yield database
    finally:
        await database.dispose()
