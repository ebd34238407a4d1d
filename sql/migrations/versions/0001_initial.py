"""The first release's schema, frozen: the original ERD plus what the bot needs.

Written out as explicit operations (it used to build the live `sql.schema` metadata,
which broke every later revision on an empty database: a column added to the metadata
and by revision 0002 was created twice). Never edit this file; every later change to
`sql/schema.py` comes with a new revision in this folder (`alembic revision
--autogenerate` against a database at head writes most of it). `tests/test_migrations.py`
checks that a fresh database at head matches the schema, and that a database made by the
first release upgrades to the same.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TABLE = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}


def _id(length: int) -> sa.types.TypeEngine:
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="ascii", collation="ascii_bin"), "mysql", "mariadb"
    )


def _norm() -> sa.types.TypeEngine:
    return sa.String(191).with_variant(
        mysql.VARCHAR(191, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )


def _timestamp() -> sa.types.TypeEngine:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "album",
        sa.Column("album_id", _id(64), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=True),
        sa.Column("album_type", sa.String(length=32), nullable=True),
        sa.Column("release_date", sa.String(length=10), nullable=True),
        sa.Column("release_date_precision", sa.String(length=8), nullable=True),
        sa.Column("release_year", sa.SmallInteger(), nullable=True),
        sa.Column("popularity", sa.SmallInteger(), nullable=True),
        sa.Column("label", sa.String(length=255), nullable=True),
        sa.Column("image_url", sa.String(length=512), nullable=True),
        sa.Column("total_tracks", sa.SmallInteger(), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("created_at", _timestamp(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", _timestamp(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("album_id", name=op.f("pk_album")),
        **_TABLE,
    )
    op.create_index(op.f("ix_album_release_year"), "album", ["release_year"], unique=False)
    op.create_table(
        "api_capability",
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("capability", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("learned_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("service", "capability", name=op.f("pk_api_capability")),
        **_TABLE,
    )
    op.create_table(
        "app_state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("updated_at", _timestamp(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_app_state")),
        **_TABLE,
    )
    op.create_table(
        "artist",
        sa.Column("artist_id", _id(64), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("name_norm", _norm(), nullable=False),
        sa.Column("popularity", sa.SmallInteger(), nullable=True),
        sa.Column("followers", sa.BigInteger(), nullable=True),
        sa.Column("image_url", sa.String(length=512), nullable=True),
        sa.Column("name_keyed", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("created_at", _timestamp(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", _timestamp(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("artist_id", name=op.f("pk_artist")),
        **_TABLE,
    )
    op.create_index(op.f("ix_artist_name_norm"), "artist", ["name_norm"], unique=False)
    op.create_table(
        "enrichment",
        sa.Column("entity_type", sa.String(length=16), nullable=False),
        sa.Column("entity_id", _id(64), nullable=False),
        sa.Column("aspect", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("last_attempt_at", _timestamp(), nullable=True),
        sa.Column("retry_after", _timestamp(), nullable=True),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("entity_type", "entity_id", "aspect", name=op.f("pk_enrichment")),
        **_TABLE,
    )
    op.create_index(
        "ix_enrichment_status", "enrichment", ["entity_type", "aspect", "status"], unique=False
    )
    op.create_table(
        "genre",
        sa.Column("name", sa.String(length=191), nullable=False),
        sa.Column("created_at", _timestamp(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_genre")),
        **_TABLE,
    )
    op.create_table(
        "guild_settings",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("discovery_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("discovery_every", sa.String(length=8), nullable=True),
        sa.Column("discovery_at", sa.String(length=8), nullable=True),
        sa.Column("discovery_weekday", sa.SmallInteger(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("buckets", sa.String(length=255), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("disabled_reason", sa.String(length=255), nullable=True),
        sa.Column("discovery_set_at", _timestamp(), nullable=True),
        sa.Column("last_slot", _timestamp(), nullable=True),
        sa.Column("last_post_at", _timestamp(), nullable=True),
        sa.Column("posts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated_at", _timestamp(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", name=op.f("pk_guild_settings")),
        **_TABLE,
    )
    op.create_table(
        "job_run",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=True),
        sa.Column("started_at", _timestamp(), nullable=False),
        sa.Column("finished_at", _timestamp(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("counts", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_run")),
        **_TABLE,
    )
    op.create_index("ix_job_run_job_started", "job_run", ["job", "started_at"], unique=False)
    op.create_table(
        "lease",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_lease")),
        **_TABLE,
    )
    op.create_table(
        "model_version",
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("path", sa.String(length=512), nullable=True),
        sa.Column("meta", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", _timestamp(), server_default=sa.func.now(), nullable=False),
        sa.Column("finished_at", _timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_model_version")),
        **_TABLE,
    )
    op.create_table(
        "playlist",
        sa.Column("playlist_id", _id(64), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("genre", sa.String(length=64), nullable=True),
        sa.Column("subgenre", sa.String(length=191), nullable=True),
        sa.Column("num_followers", sa.Integer(), nullable=True),
        sa.Column("modified_at", sa.BigInteger(), nullable=True),
        sa.Column("collaborative", sa.Boolean(), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("created_at", _timestamp(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("playlist_id", name=op.f("pk_playlist")),
        **_TABLE,
    )
    op.create_table(
        "recommendation_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("input_track_id", _id(64), nullable=True),
        sa.Column("pick_track_id", _id(64), nullable=False),
        sa.Column("bucket", sa.String(length=16), nullable=True),
        sa.Column("strategy", sa.String(length=32), nullable=True),
        sa.Column("created_at", _timestamp(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recommendation_log")),
        **_TABLE,
    )
    op.create_index(
        "ix_recommendation_log_guild_pick",
        "recommendation_log",
        ["guild_id", "pick_track_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_recommendation_log_guild_time",
        "recommendation_log",
        ["guild_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "source_file",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("finished_at", _timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_source_file")),
        **_TABLE,
    )
    op.create_table(
        "track_cluster",
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.String(length=16), nullable=False),
        sa.Column("cluster", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("track_id", _id(64), nullable=False),
        sa.PrimaryKeyConstraint(
            "model_version", "bucket", "cluster", "position", name=op.f("pk_track_cluster")
        ),
        **_TABLE,
    )
    op.create_index(
        "ix_track_cluster_track", "track_cluster", ["model_version", "track_id"], unique=False
    )
    op.create_table(
        "artist_album",
        sa.Column("artist_id", _id(64), nullable=False),
        sa.Column("album_id", _id(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["album_id"],
            ["album.album_id"],
            name=op.f("fk_artist_album_album_id_album"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["artist_id"],
            ["artist.artist_id"],
            name=op.f("fk_artist_album_artist_id_artist"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("artist_id", "album_id", name=op.f("pk_artist_album")),
        **_TABLE,
    )
    op.create_index("ix_artist_album_album_id", "artist_album", ["album_id"], unique=False)
    op.create_table(
        "artist_genre",
        sa.Column("artist_id", _id(64), nullable=False),
        sa.Column("genre", sa.String(length=191), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["artist_id"],
            ["artist.artist_id"],
            name=op.f("fk_artist_genre_artist_id_artist"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["genre"], ["genre.name"], name=op.f("fk_artist_genre_genre_genre"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("artist_id", "genre", name=op.f("pk_artist_genre")),
        **_TABLE,
    )
    op.create_index("ix_artist_genre_genre", "artist_genre", ["genre"], unique=False)
    op.create_table(
        "cluster",
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.String(length=16), nullable=False),
        sa.Column("cluster", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_version"],
            ["model_version.version"],
            name=op.f("fk_cluster_model_version_model_version"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("model_version", "bucket", "cluster", name=op.f("pk_cluster")),
        **_TABLE,
    )
    op.create_table(
        "genre_bucket",
        sa.Column("genre", sa.String(length=191), nullable=False),
        sa.Column("bucket", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["genre"], ["genre.name"], name=op.f("fk_genre_bucket_genre_genre"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("genre", "bucket", name=op.f("pk_genre_bucket")),
        **_TABLE,
    )
    op.create_index("ix_genre_bucket_bucket", "genre_bucket", ["bucket"], unique=False)
    op.create_table(
        "track",
        sa.Column("track_id", _id(64), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("name_norm", _norm(), nullable=False),
        sa.Column("album_id", _id(64), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("popularity", sa.SmallInteger(), nullable=True),
        sa.Column("explicit", sa.Boolean(), nullable=True),
        sa.Column("isrc", sa.String(length=16), nullable=True),
        sa.Column("disc_number", sa.SmallInteger(), nullable=True),
        sa.Column("track_number", sa.SmallInteger(), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("created_at", _timestamp(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", _timestamp(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["album_id"], ["album.album_id"], name=op.f("fk_track_album_id_album")
        ),
        sa.PrimaryKeyConstraint("track_id", name=op.f("pk_track")),
        **_TABLE,
    )
    op.create_index(op.f("ix_track_album_id"), "track", ["album_id"], unique=False)
    op.create_index(op.f("ix_track_name_norm"), "track", ["name_norm"], unique=False)
    op.create_table(
        "artist_track",
        sa.Column("artist_id", _id(64), nullable=False),
        sa.Column("track_id", _id(64), nullable=False),
        sa.Column("position", sa.SmallInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["artist_id"],
            ["artist.artist_id"],
            name=op.f("fk_artist_track_artist_id_artist"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["track_id"],
            ["track.track_id"],
            name=op.f("fk_artist_track_track_id_track"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("artist_id", "track_id", name=op.f("pk_artist_track")),
        **_TABLE,
    )
    op.create_index("ix_artist_track_track_id", "artist_track", ["track_id"], unique=False)
    op.create_table(
        "audio_features",
        sa.Column("track_id", _id(64), nullable=False),
        sa.Column("acousticness", sa.Float(), nullable=True),
        sa.Column("danceability", sa.Float(), nullable=True),
        sa.Column("energy", sa.Float(), nullable=True),
        sa.Column("instrumentalness", sa.Float(), nullable=True),
        sa.Column("key", sa.SmallInteger(), nullable=True),
        sa.Column("liveness", sa.Float(), nullable=True),
        sa.Column("loudness", sa.Float(), nullable=True),
        sa.Column("mode", sa.SmallInteger(), nullable=True),
        sa.Column("speechiness", sa.Float(), nullable=True),
        sa.Column("tempo", sa.Float(), nullable=True),
        sa.Column("time_signature", sa.SmallInteger(), nullable=True),
        sa.Column("valence", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("updated_at", _timestamp(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["track_id"],
            ["track.track_id"],
            name=op.f("fk_audio_features_track_id_track"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("track_id", name=op.f("pk_audio_features")),
        **_TABLE,
    )
    op.create_table(
        "playlist_track",
        sa.Column("playlist_id", _id(64), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("track_id", _id(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["playlist_id"],
            ["playlist.playlist_id"],
            name=op.f("fk_playlist_track_playlist_id_playlist"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["track_id"],
            ["track.track_id"],
            name=op.f("fk_playlist_track_track_id_track"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("playlist_id", "position", name=op.f("pk_playlist_track")),
        **_TABLE,
    )
    op.create_index("ix_playlist_track_track_id", "playlist_track", ["track_id"], unique=False)


def downgrade() -> None:

    op.drop_index("ix_playlist_track_track_id", table_name="playlist_track")
    op.drop_table("playlist_track")
    op.drop_table("audio_features")
    op.drop_index("ix_artist_track_track_id", table_name="artist_track")
    op.drop_table("artist_track")
    op.drop_index(op.f("ix_track_name_norm"), table_name="track")
    op.drop_index(op.f("ix_track_album_id"), table_name="track")
    op.drop_table("track")
    op.drop_index("ix_genre_bucket_bucket", table_name="genre_bucket")
    op.drop_table("genre_bucket")
    op.drop_table("cluster")
    op.drop_index("ix_artist_genre_genre", table_name="artist_genre")
    op.drop_table("artist_genre")
    op.drop_index("ix_artist_album_album_id", table_name="artist_album")
    op.drop_table("artist_album")
    op.drop_index("ix_track_cluster_track", table_name="track_cluster")
    op.drop_table("track_cluster")
    op.drop_table("source_file")
    op.drop_index("ix_recommendation_log_guild_time", table_name="recommendation_log")
    op.drop_index("ix_recommendation_log_guild_pick", table_name="recommendation_log")
    op.drop_table("recommendation_log")
    op.drop_table("playlist")
    op.drop_table("model_version")
    op.drop_table("lease")
    op.drop_index("ix_job_run_job_started", table_name="job_run")
    op.drop_table("job_run")
    op.drop_table("guild_settings")
    op.drop_table("genre")
    op.drop_index("ix_enrichment_status", table_name="enrichment")
    op.drop_table("enrichment")
    op.drop_index(op.f("ix_artist_name_norm"), table_name="artist")
    op.drop_table("artist")
    op.drop_table("app_state")
    op.drop_table("api_capability")
    op.drop_index(op.f("ix_album_release_year"), table_name="album")
    op.drop_table("album")
