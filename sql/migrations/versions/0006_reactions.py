"""Members' reactions to picks: the picks shown with buttons, and one reaction per member
and pick (issue 14).

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

_TABLE = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}


def _id() -> sa.types.TypeEngine:
    return sa.String(64).with_variant(
        mysql.VARCHAR(64, charset="ascii", collation="ascii_bin"), "mysql", "mariadb"
    )


def _timestamp() -> sa.types.TypeEngine:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "feedback_pick",
        sa.Column("answer_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("position", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("track_id", _id(), nullable=False),
        sa.Column("seed_track_id", _id(), nullable=True),
        sa.Column("strategy", sa.String(length=32), nullable=False),
        sa.Column("arm", sa.String(length=32), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=True),
        sa.Column("created_at", _timestamp(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("answer_id", "position", name=op.f("pk_feedback_pick")),
        **_TABLE,
    )
    op.create_index("ix_feedback_pick_guild_created", "feedback_pick", ["guild_id", "created_at"])
    op.create_index("ix_feedback_pick_arm_strategy", "feedback_pick", ["arm", "strategy"])
    op.create_table(
        "reaction",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("answer_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("position", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("track_id", _id(), nullable=False),
        sa.Column("artist_id", _id(), nullable=True),
        sa.Column("seed_track_id", _id(), nullable=True),
        sa.Column("strategy", sa.String(length=32), nullable=False),
        sa.Column("arm", sa.String(length=32), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=True),
        sa.Column("verdict", sa.String(length=8), nullable=True),
        sa.Column("more", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("created_at", _timestamp(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", _timestamp(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint(
            "guild_id", "user_id", "answer_id", "position", name=op.f("pk_reaction")
        ),
        **_TABLE,
    )
    op.create_index(
        "ix_reaction_guild_user_verdict", "reaction", ["guild_id", "user_id", "verdict"]
    )


def downgrade() -> None:
    op.drop_index("ix_reaction_guild_user_verdict", table_name="reaction")
    op.drop_table("reaction")
    op.drop_index("ix_feedback_pick_arm_strategy", table_name="feedback_pick")
    op.drop_index("ix_feedback_pick_guild_created", table_name="feedback_pick")
    op.drop_table("feedback_pick")
