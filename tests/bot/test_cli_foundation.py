"""The command line end to end, in a subprocess as a user runs it: db init, stats, errors."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from sql.database import Database
from sql.migrate import head_revision
from tests.support.cli import run_cli, settings_env
from tests.support.databases import MYSQL_URL, in_fresh_loop


def tunecluster(*args: str, url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=settings_env(database_url=url), cwd=cwd)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _schema_snapshot(url: str) -> list[tuple]:
    db = Database(url)
    try:
        async with db.connection() as conn:
            if db.dialect == "sqlite":
                rows = await conn.execute(
                    text("SELECT type, name, sql FROM sqlite_master ORDER BY name")
                )
            else:
                rows = await conn.execute(
                    text(
                        "SELECT table_name, column_name, column_type, collation_name "
                        "FROM information_schema.columns WHERE table_schema = DATABASE() "
                        "ORDER BY table_name, ordinal_position"
                    )
                )
            return [tuple(r) for r in rows]
    finally:
        await db.dispose()


def _assert_init_is_idempotent(url: str, cwd: Path) -> None:
    first = tunecluster("db", "init", "--json", url=url, cwd=cwd)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["changed"] is True
    snapshot = in_fresh_loop(_schema_snapshot(url))
    second = tunecluster("db", "init", "--json", url=url, cwd=cwd)
    assert second.returncode == 0, second.stderr
    result = json.loads(second.stdout)
    assert result["changed"] is False and result["revision"] == head_revision()
    assert in_fresh_loop(_schema_snapshot(url)) == snapshot
    assert len(snapshot) > 20


def test_db_init_twice_on_sqlite(tmp_path: Path) -> None:
    _assert_init_is_idempotent(f"sqlite+aiosqlite:///{tmp_path / 'sub' / 'tc.db'}", tmp_path)
    assert (tmp_path / "sub" / "tc.db").exists()


def test_db_init_twice_on_mysql_creates_the_database(tmp_path: Path, mysql_database: str) -> None:
    url = make_url(MYSQL_URL)
    fresh = url.set(database=f"{url.database}_cli").render_as_string(hide_password=False)

    async def drop() -> None:
        db = Database(mysql_database)  # connected to another database, drops the fresh one
        async with db.transaction() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS `{url.database}_cli`"))
        await db.dispose()

    in_fresh_loop(drop())
    try:
        first = tunecluster("db", "init", url=fresh, cwd=tmp_path)
        assert "(database created)" in first.stdout, first.stderr
        in_fresh_loop(drop())
        _assert_init_is_idempotent(fresh, tmp_path)
    finally:
        in_fresh_loop(drop())


def test_stats_json(tmp_path: Path, sqlite_url: str) -> None:
    assert tunecluster("db", "init", url=sqlite_url, cwd=tmp_path).returncode == 0
    done = tunecluster("stats", "--json", url=sqlite_url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout)
    assert stats["engine"] == "sqlite"
    assert stats["counts"]["track"] == 0 and "audio_features" in stats["counts"]
    human = tunecluster("stats", url=sqlite_url, cwd=tmp_path)
    assert "sqlite at" in human.stdout and "track" in human.stdout


def test_stats_masks_the_password(tmp_path: Path) -> None:
    port = closed_port()
    done = tunecluster(
        "stats", url=f"mysql+aiomysql://root:hunter2@127.0.0.1:{port}/tc", cwd=tmp_path
    )
    assert "hunter2" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("nonsense", "TUNECLUSTER_DATABASE_URL: not a database URL"),
        ("mysql+aiomysql://root@127.0.0.1:{port}/tc", "127.0.0.1:{port}"),
        ("sqlite+aiosqlite:///{tmp}/empty.db", "run `tunecluster db init` first"),
    ],
)
def test_errors_are_one_line(tmp_path: Path, url: str, expected: str) -> None:
    port = closed_port()
    url = url.format(port=port, tmp=tmp_path)
    done = tunecluster("stats", url=url, cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert expected.format(port=port) in lines[0]
    assert "Traceback" not in done.stderr


def test_version_and_help(tmp_path: Path, sqlite_url: str) -> None:
    assert tunecluster("--version", url=sqlite_url, cwd=tmp_path).stdout.startswith("tunecluster ")
    helped = tunecluster("--help", url=sqlite_url, cwd=tmp_path)
    assert helped.returncode == 0 and "db" in helped.stdout and "stats" in helped.stdout


@pytest.mark.parametrize(
    ("args", "expected", "status"),
    [
        ([b"genres"], "error: missing LINK-OR-QUERY (see --help)", 2),
        ([b"train", b"--bogus"], "error: No such option: --bogus", 2),
        ([b"recommend", b"caf\xe9"], "error: argument 2 ('caf?') is not valid UTF-8", 1),
        ([b"sync-commands"], "error: cannot reach Discord at http://127.0.0.1:", 1),
    ],
)
def test_usage_encoding_and_unreachable_discord_name_their_cause(
    tmp_path: Path, sqlite_url: str, args: list[bytes], expected: str, status: int
) -> None:
    env = settings_env(
        database_url=sqlite_url,
        discord_token="x",
        discord_api_url=f"http://127.0.0.1:{closed_port()}/api/v10",
        config=tmp_path / "none.toml",
    )
    done = run_cli(*args, env=env, cwd=tmp_path, text=False)
    err = done.stderr.decode("utf-8", "replace").strip()
    assert done.returncode == status, err
    assert err.startswith(expected) and "unexpected" not in err and len(err.splitlines()) == 1
