"""`db init`: create the database if needed and apply the versioned migrations."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from sql.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class InitResult:
    database_created: bool
    revision_before: str | None
    revision_after: str | None

    @property
    def changed(self) -> bool:
        return self.database_created or self.revision_before != self.revision_after


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def init_schema(db: Database) -> InitResult:
    """Create or upgrade the schema to the newest revision; a second run changes nothing."""
    created = await db.create_database_if_missing()
    async with db.transaction() as conn:
        before = await conn.run_sync(current_revision)
        if before != head_revision():
            await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "head"))
        after = await conn.run_sync(current_revision)
    return InitResult(created, before, after)


async def schema_revision(db: Database) -> str | None:
    async with db.connection() as conn:
        return await conn.run_sync(current_revision)
