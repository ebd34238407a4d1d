"""A database migrated to head matches sql/schema.py exactly, on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from sql.database import Database
from sql.migrate import head_revision, init_schema, schema_revision
from sql.schema import metadata


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
