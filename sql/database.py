"""The handle the rest of the code holds: one pooled engine and its transactions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from sql.engine import (
    CONNECT_TIMEOUT,
    STATEMENT_TIMEOUT,
    create_engine,
    describe,
    is_sqlite,
    masked,
    parse_url,
    translate_errors,
)


class DatabaseSettings(Protocol):
    """What `Database.from_settings` reads (`bot.settings.Settings` has it; sql/ cannot
    import it)."""

    @property
    def database_url(self) -> str: ...
    @property
    def db_connect_timeout_seconds(self) -> float: ...
    @property
    def db_statement_timeout_seconds(self) -> float: ...


class Database:
    """A pooled async engine for one URL.

    Queries live in plain functions that take an `AsyncConnection`, so several of them
    compose into one transaction: `async with db.transaction() as conn: ...`.
    """

    def __init__(
        self,
        url: str | URL,
        *,
        pool_size: int = 10,
        connect_timeout: float = CONNECT_TIMEOUT,
        statement_timeout: float = STATEMENT_TIMEOUT,
    ) -> None:
        self.url = parse_url(url) if isinstance(url, str) else url
        self.connect_timeout = connect_timeout
        self.statement_timeout = statement_timeout
        self.engine: AsyncEngine = create_engine(
            self.url,
            pool_size=pool_size,
            connect_timeout=connect_timeout,
            statement_timeout=statement_timeout,
        )

    @classmethod
    def from_settings(cls, settings: DatabaseSettings, *, pool_size: int = 10) -> Database:
        """The configured database with the configured timeouts."""
        return cls(
            settings.database_url,
            pool_size=pool_size,
            connect_timeout=settings.db_connect_timeout_seconds,
            statement_timeout=settings.db_statement_timeout_seconds,
        )

    @property
    def dialect(self) -> str:
        """'mysql' or 'sqlite'."""
        return "sqlite" if is_sqlite(self.url) else "mysql"

    @property
    def location(self) -> str:
        return describe(self.url)

    @property
    def masked_url(self) -> str:
        return masked(self.url)

    def __repr__(self) -> str:
        return f"Database({self.masked_url!r})"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction: committed on success, rolled back on any error."""
        with translate_errors(self.url):
            async with self.engine.begin() as conn:
                yield conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads (autobegun transaction, rolled back at the end)."""
        with translate_errors(self.url):
            async with self.engine.connect() as conn:
                yield conn

    async def ping(self) -> None:
        """Raise DatabaseUnavailable with a one-line reason when the server is unreachable."""
        async with self.connection() as conn:
            await conn.execute(text("SELECT 1"))

    async def create_database_if_missing(self) -> bool:
        """Create the MySQL database named in the URL; True when it had to be created."""
        if is_sqlite(self.url):
            return False
        database = self.url.database
        assert database is not None, "parse_url refuses a MySQL URL that names no database"
        server_url = URL.create(
            self.url.drivername,
            username=self.url.username,
            password=self.url.password,
            host=self.url.host,
            port=self.url.port,
            query=self.url.query,
        )
        server = create_engine(
            server_url,
            pool_size=1,
            connect_timeout=self.connect_timeout,
            statement_timeout=self.statement_timeout,
        )
        try:
            with translate_errors(self.url):
                async with server.begin() as conn:
                    found = await conn.scalar(
                        text(
                            "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = :n"
                        ),
                        {"n": database},
                    )
                    if found:
                        return False
                    name = database.replace("`", "``")
                    await conn.execute(
                        text(
                            f"CREATE DATABASE IF NOT EXISTS `{name}` "
                            "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                        )
                    )
                    return True
        finally:
            await server.dispose()

    async def dispose(self) -> None:
        await self.engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.dispose()
