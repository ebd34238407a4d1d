"""Engine creation for the two supported engines, and the one-line errors for reaching them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import event, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from sql.errors import DatabaseUnavailable, DatabaseUrlError

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


def create_engine(url: URL, *, pool_size: int = 10) -> AsyncEngine:
    """An async engine with pooling that survives connections the server dropped."""
    if is_sqlite(url):
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, pool_pre_ping=True, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,  # replaces connections the server closed (restart, wait_timeout)
        pool_recycle=1800,
        pool_timeout=10,
        connect_args={"charset": "utf8mb4", "connect_timeout": 5, "autocommit": False},
    )


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cursor = dbapi_conn.cursor()
    for pragma in (
        "PRAGMA foreign_keys=ON",
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
        "PRAGMA busy_timeout=30000",
        "PRAGMA temp_store=MEMORY",
        "PRAGMA cache_size=-65536",
    ):
        cursor.execute(pragma)
    cursor.close()


def unreachable_message(url: URL, error: BaseException) -> str:
    """One line saying why the database could not be reached, without secrets."""
    where = describe(url)
    original = getattr(error, "orig", None) or error
    args = getattr(original, "args", ())
    code = args[0] if args and isinstance(args[0], int) else None
    if is_sqlite(url):
        return f"cannot open SQLite database {where}: {original}"
    reasons = {
        1045: f"access denied for user {url.username!r}",
        1049: f"unknown database {url.database!r} (run `tunecluster db init`)",
        2003: "connection refused or timed out",
        2005: f"unknown host {url.host!r}",
        2013: "lost connection during the handshake",
    }
    reason = reasons.get(code) or (str(args[1]) if len(args) > 1 else str(original))
    return f"database unreachable at {where}: {reason}"


@contextlib.contextmanager
def translate_errors(url: URL) -> Iterator[None]:
    """Turn driver connection failures into DatabaseUnavailable (one line, no traceback)."""
    try:
        yield
    except (exc.OperationalError, exc.InterfaceError) as error:
        if _is_connection_error(error):
            raise DatabaseUnavailable(unreachable_message(url, error)) from error
        raise
    except (OSError, TimeoutError) as error:
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
