"""A database migrated to head matches sql/schema.py exactly, on both engines; and a
database made by the first release (tests/fixtures/first_release.*.sql, revision 0001
with rows in every table) upgrades to the same schema, its data kept."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, inspect, select, text
from sqlalchemy.engine import make_url

from sql.database import Database
from sql.migrate import head_revision, init_schema, schema_revision
from sql.schema import metadata
from tests.support.environment import unavailable

FIXTURES = Path(__file__).parents[1] / "fixtures"


async def test_head_matches_the_schema(db: Database) -> None:
    async with db.connection() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), metadata
            )
        )
    assert diff == []


async def test_init_is_idempotent(db: Database) -> None:
    again = await init_schema(db)
    assert not again.changed
    assert await schema_revision(db) == head_revision()


# --- a database made by the first release -----------------------------------------------------


def _load_sqlite(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        conn.executescript((FIXTURES / "first_release.sqlite.sql").read_text(encoding="utf-8"))
    return f"sqlite+aiosqlite:///{path}"


async def _load_mariadb(server_url: str, name: str) -> str:
    client = shutil.which("mariadb") or shutil.which("mysql")
    if client is None:
        unavailable("the mariadb command-line client is needed to load the dump")
    url = make_url(server_url).set(database=name)
    db = Database(url)
    await db.create_database_if_missing()
    await db.dispose()
    await asyncio.to_thread(
        subprocess.run,
        [
            client,
            f"--host={url.host}",
            f"--port={url.port or 3306}",
            f"--user={url.username}",
            *([f"--password={url.password}"] if url.password else []),
            "--default-character-set=utf8mb4",
            name,
        ],
        input=(FIXTURES / "first_release.mariadb.sql").read_bytes(),
        check=True,
        capture_output=True,
    )
    return url.render_as_string(hide_password=False)


def _shape(sync: Any) -> dict[str, Any]:
    """Every table as the database describes it: columns, keys, indexes."""
    found = inspect(sync)
    shape = {}
    for table in sorted(found.get_table_names()):
        columns = [
            (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
            for c in found.get_columns(table)
        ]
        shape[table] = {
            "columns": sorted(columns),
            "pk": found.get_pk_constraint(table)["constrained_columns"],
            "fks": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                for f in found.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in found.get_indexes(table)
            ),
        }
    return shape


async def _rows(db: Database) -> dict[str, set[tuple]]:
    async with db.connection() as conn:
        tables = MetaData()
        await conn.run_sync(lambda sync: tables.reflect(sync))
        return {
            name: {tuple(r) for r in (await conn.execute(select(table))).all()}
            for name, table in tables.tables.items()
            if name != "alembic_version"
        }


@pytest.mark.parametrize("engine", ["sqlite", "mysql"])
async def test_a_first_release_database_upgrades_to_head_with_its_data(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if engine == "sqlite":
        old_url = _load_sqlite(tmp_path / "first.db")
        fresh_url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    else:
        server = request.getfixturevalue("mysql_database")
        base = make_url(server).database
        old_url = await _load_mariadb(server, f"{base}_first")
        fresh_url = (
            make_url(server).set(database=f"{base}_fresh").render_as_string(hide_password=False)
        )
    old, fresh = Database(old_url), Database(fresh_url)
    try:
        assert await schema_revision(old) == "0001"
        before = await _rows(old)
        assert before and all(len(rows) == 3 for rows in before.values()), before.keys()

        upgraded = await init_schema(old)
        assert upgraded.revision_before == "0001" and upgraded.revision_after == head_revision()
        await init_schema(fresh)

        async with old.connection() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), metadata
                )
            )
            upgraded_shape = await conn.run_sync(_shape)
        assert diff == []
        async with fresh.connection() as conn:
            assert upgraded_shape == await conn.run_sync(_shape)

        after = await _rows(old)
        for table, rows in before.items():  # every row kept, every value unchanged
            width = len(next(iter(rows)))
            assert {r[:width] for r in after[table]} == rows, table
    finally:
        if engine == "mysql":
            for db in (old, fresh):
                async with db.transaction() as conn:
                    await conn.execute(text(f"DROP DATABASE IF EXISTS `{db.url.database}`"))
        await old.dispose()
        await fresh.dispose()
