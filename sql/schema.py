"""The catalogue schema, one definition for MySQL/MariaDB and SQLite.

The original ERD stays recognisable (artist, album, track, audio_features keyed by
track_id, artist_album, artist_track); genres are normalised; the bot adds models,
clusters, per-track cluster assignments, guild settings, a recommendation log, job runs
and leases. Migrations in `sql/migrations` create exactly this.

Identifiers are case-sensitive ASCII (Spotify ids are base62: `abc` and `ABC` differ),
so on MySQL they use `ascii_bin`; text uses utf8mb4 (every script and emoji). The
`*_norm` columns hold a casefolded name for an index seek that works the same on both
engines (see `sql.catalogue.search`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects import mysql

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

MYSQL_TABLE: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}

NAME_LEN = 512  # longest stored name; longer names are cut by the writers
NORM_LEN = 191  # indexed casefolded prefix of a name


def Id(length: int = 64) -> String:
    """A case-sensitive ASCII identifier (Spotify ids, name keys, MPD playlist keys)."""
    return String(length).with_variant(
        mysql.VARCHAR(length, charset="ascii", collation="ascii_bin"), "mysql", "mariadb"
    )


def Norm() -> String:
    """A casefolded name, compared by code point on both engines."""
    return String(NORM_LEN).with_variant(
        mysql.VARCHAR(NORM_LEN, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )


def Timestamp() -> DateTime:
    """UTC, naive, with microseconds on MySQL too."""
    return DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _created() -> Column:
    return Column("created_at", Timestamp(), nullable=False, server_default=func.now())


def _updated() -> Column:
    return Column(
        "updated_at", Timestamp(), nullable=False, server_default=func.now(), onupdate=func.now()
    )


# --- the original ERD -------------------------------------------------------------------

artist = Table(
    "artist",
    metadata,
    Column("artist_id", Id(), primary_key=True),
    Column("name", String(NAME_LEN), nullable=False),
    Column("name_norm", Norm(), nullable=False, index=True),
    Column("popularity", SmallInteger),
    Column("followers", BigInteger),
    Column("image_url", String(512)),
    # True when the key was derived from the name because the source had no Spotify id.
    Column("name_keyed", Boolean, nullable=False, server_default="0"),
    Column("source", String(32), nullable=False),
    _created(),
    _updated(),
    **MYSQL_TABLE,
)

album = Table(
    "album",
    metadata,
    Column("album_id", Id(), primary_key=True),
    Column("name", String(NAME_LEN)),
    Column("album_type", String(32)),
    Column("release_date", String(10)),  # as given: YYYY, YYYY-MM or YYYY-MM-DD
    Column("release_date_precision", String(8)),
    Column("release_year", SmallInteger, index=True),
    Column("popularity", SmallInteger),
    Column("label", String(255)),
    Column("image_url", String(512)),
    Column("total_tracks", SmallInteger),
    Column("source", String(32), nullable=False),
    _created(),
    _updated(),
    **MYSQL_TABLE,
)

track = Table(
    "track",
    metadata,
    Column("track_id", Id(), primary_key=True),
    Column("name", String(NAME_LEN), nullable=False),
    Column("name_norm", Norm(), nullable=False, index=True),
    Column("album_id", Id(), ForeignKey("album.album_id"), index=True),
    Column("duration_ms", Integer),
    Column("popularity", SmallInteger),
    Column("explicit", Boolean),
    Column("isrc", String(16)),
    Column("disc_number", SmallInteger),
    Column("track_number", SmallInteger),
    Column("source", String(32), nullable=False),
    _created(),
    _updated(),
    **MYSQL_TABLE,
)

FEATURE_COLUMNS = (
    "acousticness",
    "danceability",
    "energy",
    "instrumentalness",
    "key",
    "liveness",
    "loudness",
    "mode",
    "speechiness",
    "tempo",
    "time_signature",
    "valence",
)
# Whole numbers: a pitch class, major/minor and beats per bar (categorical, not measures).
INTEGER_FEATURES = ("key", "mode", "time_signature")
CONTINUOUS_FEATURES = tuple(f for f in FEATURE_COLUMNS if f not in INTEGER_FEATURES)

audio_features = Table(
    "audio_features",
    metadata,
    Column("track_id", Id(), ForeignKey("track.track_id", ondelete="CASCADE"), primary_key=True),
    *(Column(f, SmallInteger if f in INTEGER_FEATURES else Float) for f in FEATURE_COLUMNS),
    Column("source", String(32), nullable=False),
    _updated(),
    **MYSQL_TABLE,
)

artist_album = Table(
    "artist_album",
    metadata,
    Column("artist_id", Id(), ForeignKey("artist.artist_id", ondelete="CASCADE"), primary_key=True),
    Column("album_id", Id(), ForeignKey("album.album_id", ondelete="CASCADE"), primary_key=True),
    Index("ix_artist_album_album_id", "album_id"),
    **MYSQL_TABLE,
)

artist_track = Table(
    "artist_track",
    metadata,
    Column("artist_id", Id(), ForeignKey("artist.artist_id", ondelete="CASCADE"), primary_key=True),
    Column("track_id", Id(), ForeignKey("track.track_id", ondelete="CASCADE"), primary_key=True),
    # 0 is the primary (first credited) artist.
    Column("position", SmallInteger, nullable=False, server_default="0"),
    Index("ix_artist_track_track_id", "track_id"),
    **MYSQL_TABLE,
)

# --- genres -------------------------------------------------------------------------------

genre = Table(
    "genre",
    metadata,
    Column("name", String(191), primary_key=True),
    _created(),
    **MYSQL_TABLE,
)

# Filled from the taxonomy at training time: a genre may sit in several buckets.
genre_bucket = Table(
    "genre_bucket",
    metadata,
    Column("genre", String(191), ForeignKey("genre.name", ondelete="CASCADE"), primary_key=True),
    Column("bucket", String(16), primary_key=True),
    Index("ix_genre_bucket_bucket", "bucket"),
    **MYSQL_TABLE,
)

artist_genre = Table(
    "artist_genre",
    metadata,
    Column("artist_id", Id(), ForeignKey("artist.artist_id", ondelete="CASCADE"), primary_key=True),
    Column("genre", String(191), ForeignKey("genre.name", ondelete="CASCADE"), primary_key=True),
    # Where the tag came from: spotify, musicoset, seed-csv.
    Column("source", String(32), nullable=False),
    Index("ix_artist_genre_genre", "genre"),
    **MYSQL_TABLE,
)

# Genres a source gives one track (Kaggle's track_genre, the TidyTuesday playlist subgenre
# a track was found under). A track with any files by these alone; a track without any
# by its artists' genres (`sql.frames.track_genres_frame`, `sql.picks.input_track`).
track_genre = Table(
    "track_genre",
    metadata,
    Column("track_id", Id(), ForeignKey("track.track_id", ondelete="CASCADE"), primary_key=True),
    Column("genre", String(191), ForeignKey("genre.name", ondelete="CASCADE"), primary_key=True),
    # Where the tag came from: track-genre (Kaggle) or playlist-subgenre (TidyTuesday).
    Column("source", String(32), nullable=False),
    Index("ix_track_genre_genre", "genre"),
    **MYSQL_TABLE,
)

# --- playlists ----------------------------------------------------------------------------

playlist = Table(
    "playlist",
    metadata,
    Column("playlist_id", Id(), primary_key=True),  # Spotify id, or "mpd:<pid>"
    Column("name", String(NAME_LEN)),
    Column("description", Text),
    Column("genre", String(64)),
    Column("subgenre", String(191)),
    Column("num_followers", Integer),
    Column("modified_at", BigInteger),
    Column("collaborative", Boolean),
    Column("source", String(32), nullable=False),
    _created(),
    **MYSQL_TABLE,
)

playlist_track = Table(
    "playlist_track",
    metadata,
    Column(
        "playlist_id",
        Id(),
        ForeignKey("playlist.playlist_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("track_id", Id(), ForeignKey("track.track_id", ondelete="CASCADE"), nullable=False),
    Index("ix_playlist_track_track_id", "track_id"),
    **MYSQL_TABLE,
)

# --- provenance and enrichment state ---------------------------------------------------------

# One row per file a bulk load took in (MPD slices, dataset files): makes reruns resumable.
source_file = Table(
    "source_file",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("size_bytes", BigInteger),
    Column("status", String(16), nullable=False),  # done | failed
    Column("rows_read", Integer),
    Column("detail", Text),
    Column("finished_at", Timestamp()),
    **MYSQL_TABLE,
)

# What enrichment still lacks, per entity and aspect. No row means "never tried".
enrichment = Table(
    "enrichment",
    metadata,
    Column("entity_type", String(16), primary_key=True),  # track | artist | album
    Column("entity_id", Id(), primary_key=True),
    Column("aspect", String(24), primary_key=True),  # details | audio_features | genres ...
    Column("status", String(16), nullable=False),  # fetched|not_found|unavailable|failed
    Column("attempts", SmallInteger, nullable=False, server_default="0"),
    Column("last_attempt_at", Timestamp()),
    Column("retry_after", Timestamp()),
    Column("reason", String(255)),
    Index("ix_enrichment_status", "entity_type", "aspect", "status"),
    **MYSQL_TABLE,
)

# What an outside API allows this app, learned at run time (batch endpoints, fields...).
api_capability = Table(
    "api_capability",
    metadata,
    Column("service", String(32), primary_key=True),
    Column("capability", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
    Column("learned_at", Timestamp(), nullable=False),
    **MYSQL_TABLE,
)

# --- models and clusters -----------------------------------------------------------------------

model_version = Table(
    "model_version",
    metadata,
    Column("version", String(64), primary_key=True),
    Column("status", String(16), nullable=False),  # training | ready | failed | pruned
    Column("fingerprint", String(64)),
    Column("path", String(512)),
    Column("meta", Text),  # the bundle's JSON metadata
    Column("error", Text),
    _created(),
    Column("finished_at", Timestamp()),
    **MYSQL_TABLE,
)

# Small key/value state that must change atomically, e.g. the active model version.
app_state = Table(
    "app_state",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
    _updated(),
    **MYSQL_TABLE,
)

# The model store in the database (recommender/store.py): every file of a version's
# bundle folder, cut into chunks well inside MariaDB's default max_allowed_packet.
# A version's `model_file` rows are written after all of its chunks, so a listed file is
# complete; each carries its size and SHA-256, checked by every process that fetches it.
model_file = Table(
    "model_file",
    metadata,
    Column("model_version", String(64), primary_key=True),
    Column("name", Id(191), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("chunks", Integer, nullable=False),
    _created(),
    **MYSQL_TABLE,
)

model_chunk = Table(
    "model_chunk",
    metadata,
    Column("model_version", String(64), primary_key=True),
    Column("name", Id(191), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column(
        "data", LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql", "mariadb"), nullable=False
    ),
    **MYSQL_TABLE,
)

cluster = Table(
    "cluster",
    metadata,
    Column(
        "model_version",
        String(64),
        ForeignKey("model_version.version", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("bucket", String(16), primary_key=True),
    Column("cluster", SmallInteger, primary_key=True, autoincrement=False),
    Column("size", Integer, nullable=False),
    **MYSQL_TABLE,
)

# A pick seeks to a random `position` (a random permutation within the cluster) through
# the primary key: its cost does not grow with the catalogue.
track_cluster = Table(
    "track_cluster",
    metadata,
    Column("model_version", String(64), primary_key=True),
    Column("bucket", String(16), primary_key=True),
    Column("cluster", SmallInteger, primary_key=True, autoincrement=False),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("track_id", Id(), nullable=False),
    Index("ix_track_cluster_track", "model_version", "track_id"),
    **MYSQL_TABLE,
)

# --- the bot ---------------------------------------------------------------------------------

guild_settings = Table(
    "guild_settings",
    metadata,
    Column("guild_id", BigInteger, primary_key=True, autoincrement=False),
    Column("discovery_channel_id", BigInteger),
    Column("discovery_every", String(8)),  # daily | weekly
    Column("discovery_at", String(8)),  # HH:MM (or HH:MM:SS) in `timezone`
    Column("discovery_weekday", SmallInteger),  # 0 = Monday, for weekly
    Column("timezone", String(64)),
    Column("buckets", String(255)),  # comma-separated; empty = rotate by demand
    Column("enabled", Boolean, nullable=False, server_default="0"),
    Column("disabled_reason", String(255)),
    # --- discovery posts (bot/services/discovery.py) ---
    # When the schedule was last set: slots before it are not owed.
    Column("discovery_set_at", Timestamp()),
    # The scheduled slot (UTC) of the last scheduled post, claimed before posting, so a
    # restart, a second process or a cron run never posts one slot twice.
    Column("last_slot", Timestamp()),
    Column("last_post_at", Timestamp()),
    Column("posts", Integer, nullable=False, server_default="0"),  # rotation offset
    _updated(),
    **MYSQL_TABLE,
)

recommendation_log = Table(
    "recommendation_log",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("guild_id", BigInteger),  # NULL outside a guild (command line, DMs)
    Column("user_id", BigInteger),
    Column("input_track_id", Id()),
    Column("pick_track_id", Id(), nullable=False),
    Column("bucket", String(16)),
    Column("strategy", String(32)),
    Column("created_at", Timestamp(), nullable=False, server_default=func.now()),
    Index("ix_recommendation_log_guild_pick", "guild_id", "pick_track_id", "created_at"),
    Index("ix_recommendation_log_guild_time", "guild_id", "created_at"),
    **MYSQL_TABLE,
)

job_run = Table(
    "job_run",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("job", String(64), nullable=False),
    Column("holder", String(128)),
    Column("started_at", Timestamp(), nullable=False),
    Column("finished_at", Timestamp()),
    Column("outcome", String(16)),  # running | ok | skipped | failed | cancelled | abandoned
    Column("counts", Text),  # JSON
    Column("error", Text),
    Index("ix_job_run_job_started", "job", "started_at"),
    **MYSQL_TABLE,
)

# --- members' reactions to picks (issue 14; bot/services/feedback.py) ---
# Every pick shown with feedback buttons: the denominators of the feedback report, and what
# a button's custom_id (answer id + position) refers to. guild_id 0 = outside a guild.
feedback_pick = Table(
    "feedback_pick",
    metadata,
    Column("answer_id", BigInteger, primary_key=True, autoincrement=False),
    Column("position", SmallInteger, primary_key=True, autoincrement=False),
    Column("guild_id", BigInteger, nullable=False),
    Column("user_id", BigInteger),  # who asked; NULL for a discovery post
    Column("source", String(16), nullable=False),  # recommend | more | discovery
    Column("track_id", Id(), nullable=False),
    Column("seed_track_id", Id()),
    Column("strategy", String(32), nullable=False),
    Column("arm", String(32), nullable=False),  # "off" when strategy arms are off
    Column("model_version", String(64)),
    _created(),
    Index("ix_feedback_pick_guild_created", "guild_id", "created_at"),
    Index("ix_feedback_pick_arm_strategy", "arm", "strategy"),
    **MYSQL_TABLE,
)

# One row per member and pick; a second click changes it. What the pick was is copied
# from feedback_pick, so the row stands on its own (the model version may be pruned).
reaction = Table(
    "reaction",
    metadata,
    Column("guild_id", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("answer_id", BigInteger, primary_key=True, autoincrement=False),
    Column("position", SmallInteger, primary_key=True, autoincrement=False),
    Column("track_id", Id(), nullable=False),
    Column("artist_id", Id()),  # primary artist when clicked: repeated dislikes drop it
    Column("seed_track_id", Id()),
    Column("strategy", String(32), nullable=False),
    Column("arm", String(32), nullable=False),
    Column("model_version", String(64)),
    Column("verdict", String(8)),  # like | dislike | NULL (only "more like this")
    Column("more", Boolean, nullable=False, server_default="0"),
    _created(),
    _updated(),
    Index("ix_reaction_guild_user_verdict", "guild_id", "user_id", "verdict"),
    **MYSQL_TABLE,
)

# A lease row with expiry: one process runs the global jobs; a dead holder's lease expires.
lease = Table(
    "lease",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_at", Timestamp(), nullable=False),
    **MYSQL_TABLE,
)

CATALOGUE_TABLES = (
    "artist",
    "album",
    "track",
    "audio_features",
    "artist_album",
    "artist_track",
    "genre",
    "artist_genre",
    "track_genre",
    "playlist",
    "playlist_track",
)
