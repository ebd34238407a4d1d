"""The first schema: the original ERD plus what the bot needs.

Revision 0001 builds the tables of `sql/schema.py` as it stood at the first release.
Every later change to `sql/schema.py` comes with a new revision in this folder
(`alembic revision --autogenerate` against a database at head writes most of it);
`tests/test_migrations.py` checks that a fresh database at head matches the schema.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from alembic import op

from sql.schema import metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    metadata.drop_all(op.get_bind())
