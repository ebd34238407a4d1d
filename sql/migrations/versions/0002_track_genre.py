"""Genres of a track: `track_genre`, for sources whose genre is a fact about one track.

Kaggle's `track_genre` and TidyTuesday's playlist subgenre used to be spread to every
credited artist in `artist_genre`; a track now keeps them itself and is filed by them.
Rows already in `artist_genre` from those sources stay until the dataset is imported
again: that import stores the track genres and removes its source's artist rows
(`pipeline.importers.writing`), so one re-import moves a database over.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

MYSQL_TABLE = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}


def _id() -> sa.String:
    return sa.String(64).with_variant(
        mysql.VARCHAR(64, charset="ascii", collation="ascii_bin"), "mysql", "mariadb"
    )


def upgrade() -> None:
    op.create_table(
        "track_genre",
        sa.Column("track_id", _id(), nullable=False),
        sa.Column("genre", sa.String(191), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["track_id"],
            ["track.track_id"],
            name=op.f("fk_track_genre_track_id_track"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["genre"], ["genre.name"], name=op.f("fk_track_genre_genre_genre"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("track_id", "genre", name=op.f("pk_track_genre")),
        **MYSQL_TABLE,
    )
    op.create_index("ix_track_genre_genre", "track_genre", ["genre"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_track_genre_genre", table_name="track_genre")
    op.drop_table("track_genre")
