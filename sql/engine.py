"""Engine creation for the two supported engines, and the one-line errors for reaching them.

Every wait on the database is bounded. On MySQL/MariaDB the connection (TCP and
handshake) has `connect_timeout`; each statement, commit and rollback has
`statement_timeout`, a pool health check `connect_timeout`: when the time is up the
connection is cut, the driver reports it lost, the pool drops it, and the caller gets
`DatabaseTimeout` ("the catalogue is not answering"). A server that answers again is
used again by the next checkout, without a restart. On SQLite the only wait is a lock
held by another process: `busy_timeout` is the statement timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from sql.errors import DatabaseTimeout, DatabaseUnavailable, DatabaseUrlError

CONNECT_TIMEOUT = 5.0
STATEMENT_TIMEOUT = 30.0
NOT_ANSWERING = "no answer within"  # the driver error text that marks a timeout

# Plain scheme names a user may type, and the async driver each one means.
_DRIVERS = {
    "mysql": "mysql+aiomysql",
    "mariadb": "mysql+aiomysql",
    "mysql+aiomysql": "mysql+aiomysql",
    "mariadb+aiomysql": "mysql+aiomysql",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


def parse_url(raw: str) -> URL:
    """Parse a database URL and pin it to the async driver; one-line error otherwise."""
    try:
        url = make_url(raw)
    except exc.ArgumentError:
        raise DatabaseUrlError(
            "not a database URL (expected mysql+aiomysql://user:pass@host:3306/name "
            "or sqlite+aiosqlite:///path/to.db)"
        ) from None
    driver = _DRIVERS.get(url.drivername)
    if driver is None:
        raise DatabaseUrlError(
            f"unsupported database driver {url.drivername!r} (use mysql+aiomysql or sqlite+aiosqlite)"
        )
    url = url.set(drivername=driver)
    if driver.startswith("mysql") and not url.database:
        raise DatabaseUrlError("the MySQL URL names no database (…:3306/tunecluster)")
    return url


def masked(url: URL | str) -> str:
    """The URL as safe to print: the password replaced by ***."""
    if isinstance(url, str):
        try:
            url = make_url(url)
        except exc.ArgumentError:
            return "<unparseable URL>"
    return url.render_as_string(hide_password=True)


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def describe(url: URL) -> str:
    """Where the data lives, for people: the file for SQLite, host:port/db for MySQL."""
    if is_sqlite(url):
        return str(Path(url.database or ":memory:").resolve()) if url.database else ":memory:"
    return f"{url.host or 'localhost'}:{url.port or 3306}/{url.database}"


def create_engine(
    url: URL,
    *,
    pool_size: int = 10,
    connect_timeout: float = CONNECT_TIMEOUT,
    statement_timeout: float = STATEMENT_TIMEOUT,
) -> AsyncEngine:
    """An async engine with pooling that survives connections the server dropped, and
    with every wait on the server bounded (see the module's docstring)."""
    if is_sqlite(url):
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, pool_pre_ping=True, connect_args={"timeout": statement_timeout}
        )
        pragmas = functools.partial(_sqlite_pragmas, busy_ms=int(statement_timeout * 1000))
        event.listen(engine.sync_engine, "connect", pragmas)
        return engine
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,  # replaces connections the server closed (restart, wait_timeout)
        pool_recycle=1800,
        pool_timeout=10,
        async_creator=_mysql_creator(url, connect_timeout, statement_timeout),
    )


def _mysql_creator(url: URL, connect_timeout: float, statement_timeout: float) -> Callable[[], Any]:
    from sqlalchemy.dialects.mysql.aiomysql import dialect

    _, kwargs = dialect().create_connect_args(url)
    kwargs.update(charset="utf8mb4", autocommit=False, connect_timeout=connect_timeout)

    async def connect() -> Any:
        return await timed_connect(kwargs, connect_timeout, statement_timeout)

    return connect


async def timed_connect(kwargs: Mapping[str, Any], connect: float, statement: float) -> Any:
    """An aiomysql connection whose handshake and every exchange are bounded."""
    from aiomysql import Connection
    from pymysql.err import OperationalError

    class TimedConnection(Connection):
        """aiomysql's connection, cut when the server stays silent past a deadline."""

        async def _bounded(self, seconds: float, call: Any) -> Any:
            expired = False

            def expire() -> None:
                nonlocal expired
                expired = True
                if self._writer is not None:
                    self._writer.transport.abort()  # the pending read fails at once

            timer = asyncio.get_running_loop().call_later(seconds, expire)
            try:
                return await call
            except OperationalError:
                if expired:
                    raise OperationalError(
                        2013, f"{NOT_ANSWERING} {seconds:g} s (the connection was cut)"
                    ) from None
                raise
            finally:
                timer.cancel()

        async def query(self, sql: Any, unbuffered: bool = False) -> Any:
            return await self._bounded(statement, super().query(sql, unbuffered))

        async def commit(self) -> None:
            await self._bounded(statement, super().commit())

        async def rollback(self) -> None:
            await self._bounded(statement, super().rollback())

        async def ping(self, reconnect: bool = True) -> None:
            await self._bounded(connect, super().ping(reconnect))

    conn = TimedConnection(**kwargs)
    try:
        await asyncio.wait_for(conn._connect(), connect)
    except TimeoutError:
        conn.close()
        raise OperationalError(2013, f"{NOT_ANSWERING} {connect:g} s of connecting") from None
    return conn


def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: object, busy_ms: int = 30000) -> None:
    cursor = dbapi_conn.cursor()
    for pragma in (
        "PRAGMA foreign_keys=ON",
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
        f"PRAGMA busy_timeout={busy_ms}",
        "PRAGMA temp_store=MEMORY",
        "PRAGMA cache_size=-65536",
    ):
        cursor.execute(pragma)
    cursor.close()


def unreachable_message(url: URL, error: BaseException) -> str:
    """One line saying why the database could not be reached, without secrets."""
    where = describe(url)
    original = getattr(error, "orig", None) or error
    args: tuple[Any, ...] = getattr(original, "args", ())
    code = args[0] if args and isinstance(args[0], int) else None
    if is_sqlite(url):
        return f"cannot open SQLite database {where}: {original}"
    if NOT_ANSWERING in str(original):
        return f"the catalogue is not answering: database at {where} sent {args[1]}"
    reasons: dict[int | None, str] = {
        1045: f"access denied for user {url.username!r}",
        1049: f"unknown database {url.database!r} (run `tunecluster db init`)",
        2003: "connection refused or timed out",
        2005: f"unknown host {url.host!r}",
        2013: "lost the connection during a query",
    }
    if code == 2013 and "handshake" in str(original).lower():
        reasons[2013] = "lost the connection during the handshake"
    reason = reasons.get(code) or (str(args[1]) if len(args) > 1 else str(original))
    return f"database unreachable at {where}: {reason}"


@contextlib.contextmanager
def translate_errors(url: URL) -> Iterator[None]:
    """Turn driver connection failures into DatabaseUnavailable (one line, no traceback)."""
    try:
        yield
    except (exc.OperationalError, exc.InterfaceError) as error:
        if _is_connection_error(error):
            message = unreachable_message(url, error)
            kind = DatabaseTimeout if NOT_ANSWERING in str(error.orig) else DatabaseUnavailable
            raise kind(message) from error
        raise
    except TimeoutError as error:  # a connection pool that stays full (pool_timeout)
        raise DatabaseTimeout(
            f"the catalogue is not answering: database at {describe(url)}: {error or 'timed out'}"
        ) from error
    except OSError as error:
        raise DatabaseUnavailable(unreachable_message(url, error)) from error


def _is_connection_error(error: exc.DBAPIError) -> bool:
    if error.connection_invalidated:
        return True
    orig = error.orig
    args = getattr(orig, "args", ())
    code = args[0] if args and isinstance(args[0], int) else None
    if code in (1045, 1049, 2002, 2003, 2005, 2006, 2013, 2055):
        return True
    text = str(orig).lower()
    return "unable to open database" in text or "connection" in text
