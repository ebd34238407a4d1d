"""A silent database (a TCP proxy that accepts and never answers) and a cut one: every
wait ends within its timeout with one line, and the same process works again when the
server answers. `asyncio.timeout` around each step only guards against a hang (it is far
above the configured timeouts); no step asserts on elapsed time."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.replies import NOT_ANSWERING, message_for
from bot.scheduler import LEASE, BotScheduler
from sql import jobs
from sql.database import Database
from sql.errors import DatabaseTimeout, DatabaseUnavailable
from sql.migrate import init_schema
from sql.schema import lease
from tests.fakes.tcp_proxy import TcpProxy
from tests.support.jobs import until

GUARD = 60  # seconds: only a hang reaches it
FAST = {"connect_timeout": 1.0, "statement_timeout": 2.0}


@pytest.fixture
async def proxy(mysql_database: str) -> AsyncIterator[tuple[TcpProxy, str]]:
    server = make_url(mysql_database)
    async with TcpProxy(server.host or "127.0.0.1", server.port or 3306) as running:
        url = server.set(host="127.0.0.1", port=running.port)
        yield running, url.render_as_string(hide_password=False)


async def _running_queries(direct: Database, marker: str) -> int:
    async with direct.connection() as conn:
        return int(
            await conn.scalar(
                text(
                    "SELECT COUNT(*) FROM information_schema.processlist "
                    "WHERE info LIKE :m AND info NOT LIKE '%processlist%'"
                ),
                {"m": f"%{marker}%"},
            )
        )


async def test_silent_database_times_out_and_recovers(proxy) -> None:
    running, url = proxy
    db = Database(url, **FAST)
    try:
        async with asyncio.timeout(GUARD):
            await db.ping()  # a pooled connection exists before the silence

            running.silence()
            with pytest.raises(DatabaseTimeout) as pooled:  # the pool's health check
                await db.ping()
            with pytest.raises(DatabaseTimeout) as fresh:  # a new connection's handshake
                await db.ping()
            for raised in (pooled, fresh):
                line = str(raised.value)
                assert "not answering" in line and "\n" not in line
                assert "handshake" not in line and "unexpected" not in line

            running.restore()
            await db.ping()  # the same Database, no restart
    finally:
        await db.dispose()


async def test_silence_during_a_statement_is_a_timeout(proxy, mysql_database: str) -> None:
    running, url = proxy
    db = Database(url, **FAST)
    try:
        async with asyncio.timeout(GUARD):
            with pytest.raises(DatabaseTimeout, match="not answering"):
                async with db.connection() as conn:
                    await conn.execute(text("SELECT 1"))
                    running.silence()
                with pytest.raises(DatabaseTimeout, match="not answering"):
                    await conn.execute(text("SELECT 2"))
            running.restore()
            await db.ping()
    finally:
        await db.dispose()


async def test_connection_lost_mid_query_does_not_say_handshake(proxy, mysql_database: str) -> None:
    running, url = proxy
    db = Database(url, connect_timeout=5, statement_timeout=30)
    direct = Database(mysql_database)
    try:
        async with asyncio.timeout(GUARD):

            async def slow() -> None:
                async with db.connection() as conn:
                    await conn.execute(text("SELECT SLEEP(20) AS lost_mid_query"))

            query = asyncio.create_task(slow())
            await until(lambda: _running_queries(direct, "lost_mid_query"), GUARD, "the query")
            running.cut()
            with pytest.raises(DatabaseUnavailable) as raised:
                await query
        line = str(raised.value)
        assert "during a query" in line and "handshake" not in line
        assert not isinstance(raised.value, DatabaseTimeout)
    finally:
        await db.dispose()
        await direct.dispose()


def test_members_read_that_the_catalogue_is_not_answering() -> None:
    line = message_for(DatabaseTimeout("the catalogue is not answering: database at x:1/y"))
    assert line == NOT_ANSWERING and "x:1" not in line


async def test_sqlite_waits_on_a_lock_no_longer_than_the_statement_timeout(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'locked.db'}"
    holder = Database(url)
    waiter = Database(url, statement_timeout=0.5)
    try:
        await init_schema(holder)
        async with asyncio.timeout(GUARD), holder.transaction() as conn:
            await conn.execute(text("INSERT INTO app_state (key, value) VALUES ('a', 'b')"))
            with pytest.raises(Exception, match="locked"):
                async with waiter.transaction() as other:
                    await other.execute(
                        text("INSERT INTO app_state (key, value) VALUES ('c', 'd')")
                    )
    finally:
        await holder.dispose()
        await waiter.dispose()


# --- the lease through a silence -----------------------------------------------------------------


async def test_the_lease_is_handed_over_cleanly_when_its_holder_goes_silent(
    proxy, mysql_database: str
) -> None:
    running, url = proxy
    direct = Database(mysql_database)
    silent = Database(url, **FAST)
    first = BotScheduler(silent, holder="A", lease_seconds=3)
    second = BotScheduler(direct, holder="B", lease_seconds=3)
    try:
        async with direct.transaction() as conn:
            await conn.execute(lease.delete())
        async with asyncio.timeout(GUARD):
            assert await first.heartbeat()
            assert not await second.heartbeat()
            async with direct.transaction() as conn:
                run = await jobs.start_run(conn, "retrain", "A")

            running.silence()
            assert not await first.heartbeat()  # ends within its timeout, logged
            await until(second.heartbeat, GUARD, "B to take the expired lease")
            async with direct.connection() as conn:
                closed = await jobs.runs(conn, "retrain", limit=1)
                holder = await jobs.lease_holder(conn, LEASE)
            assert closed[0]["id"] == run and closed[0]["outcome"] == "abandoned"
            assert holder is not None and holder[0] == "B"

            running.restore()
            assert not await first.heartbeat()  # back, and standing by: one leader
            assert second.leader and not first.leader
    finally:
        await silent.dispose()
        await direct.dispose()


# --- every command line ------------------------------------------------------------------------

COMMANDS = [
    ["stats"],
    ["db", "init"],
    ["recommend", "anything"],
    ["genres", "anything"],
    ["train"],
    ["train", "--list"],
    ["train", "--activate", "some-version"],
    ["evaluate", "--seeds", "5"],
    ["import", "tidytuesday", "{data}/tracks.csv"],
    ["ingest-mpd", "{data}"],
    ["enrich", "--limit", "1"],
    ["eda", "--out", "{tmp}/eda"],
    ["jobs"],
    ["jobs", "run", "retrain"],
    ["jobs", "run", "enrich"],
    ["discovery", "post", "--due"],
]


async def test_every_command_ends_with_one_line_on_a_silent_database(proxy, tmp_path: Path) -> None:
    running, url = proxy
    data = tmp_path / "data"
    data.mkdir()
    (data / "tracks.csv").write_text("id,name\n")
    env = {
        **os.environ,
        "TUNECLUSTER_DATABASE_URL": url,
        "TUNECLUSTER_MODELS_DIR": str(tmp_path / "models"),
        "TUNECLUSTER_DB_CONNECT_TIMEOUT_SECONDS": "1",
        "TUNECLUSTER_DB_STATEMENT_TIMEOUT_SECONDS": "2",
        "TUNECLUSTER_SPOTIFY_CLIENT_ID": "",
    }
    running.silence()

    async def one(args: list[str]) -> None:
        argv = [a.format(data=data, tmp=tmp_path) for a in args]
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "tunecluster"),
            *argv,
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(GUARD * 4):  # a loaded machine starts Python slowly
            out, err = await process.communicate()
        lines = err.decode().strip().splitlines()
        assert process.returncode == 1, (argv, out, err)
        assert len(lines) == 1 and "not answering" in lines[0], (argv, lines)

    for start in range(0, len(COMMANDS), 4):  # four at a time: a 2-core machine
        await asyncio.gather(*(one(args) for args in COMMANDS[start : start + 4]))
