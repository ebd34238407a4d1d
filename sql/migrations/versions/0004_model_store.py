"""The model store in the database: `model_file` (the manifest) and `model_chunk`.

Every file of a version's bundle folder, in 1 MiB chunks, so every process on every host
can fetch the bundle it serves (recommender/store.py).

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None

_TABLE = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}


def _name() -> sa.types.TypeEngine:
    return sa.String(191).with_variant(
        mysql.VARCHAR(191, charset="ascii", collation="ascii_bin"), "mysql", "mariadb"
    )


def upgrade() -> None:
    op.create_table(
        "model_file",
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("name", _name(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb"),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("model_version", "name", name=op.f("pk_model_file")),
        **_TABLE,
    )
    op.create_table(
        "model_chunk",
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("name", _name(), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "data",
            sa.LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql", "mariadb"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("model_version", "name", "seq", name=op.f("pk_model_chunk")),
        **_TABLE,
    )


def downgrade() -> None:
    op.drop_table("model_chunk")
    op.drop_table("model_file")
