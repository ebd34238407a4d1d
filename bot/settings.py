"""One settings object, read once at the edge (command line, bot start) and passed down.

Sources, strongest first: environment variables (`TUNECLUSTER_*`), a `.env` file, an
optional `tunecluster.toml` (path overridable with `TUNECLUSTER_CONFIG`), the defaults.
Secrets are `SecretStr`: they never appear in reprs, logs or error messages, and the
database URL is only ever shown with its password masked.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from recommender import strategies
from sql.engine import masked, parse_url
from sql.errors import DatabaseUrlError, TuneclusterError
from sql.schema import FEATURE_COLUMNS

PREFIX = "TUNECLUSTER_"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/tunecluster.db"
# The original project's features: every stored one but the key.
DEFAULT_FEATURES = tuple(f for f in FEATURE_COLUMNS if f != "key")


class ConfigError(TuneclusterError):
    """A setting is missing or malformed; the message names the variable."""


IdList = Annotated[list[int], NoDecode]
NameList = Annotated[list[str], NoDecode]
FloatList = Annotated[list[float], NoDecode]


class Settings(BaseSettings):
    """Every setting tunecluster reads. Field `x` is the variable `TUNECLUSTER_X`."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    # storage
    database_url: str = Field(DEFAULT_DATABASE_URL, repr=False)
    # every wait on the database is bounded (sql/engine.py): connecting (and a pool
    # health check), and each statement; past them: "the catalogue is not answering"
    db_connect_timeout_seconds: float = Field(5.0, gt=0)
    db_statement_timeout_seconds: float = Field(30.0, gt=0)
    models_dir: Path = Path("models")
    models_keep: int = Field(3, ge=1, description="trained bundles kept on disk")
    # `tunecluster setup`: where downloads are cached (default: the user's cache directory)
    # and a mirror serving every dataset as URL/<dataset>/<file name> (air-gapped installs)
    datasets_cache_dir: Path | None = None
    datasets_mirror: str | None = None
    # where every process fetches bundles from (models_dir is then a local cache):
    # the database (default) or an S3-compatible object store
    model_store: Literal["database", "s3"] = "database"
    s3_bucket: str | None = None
    s3_prefix: str = "tunecluster/models/"
    s3_endpoint_url: str | None = None  # MinIO, Ceph, R2...; None: AWS
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None  # None: the usual AWS credential chain
    s3_secret_access_key: SecretStr | None = None

    # Discord
    discord_token: SecretStr | None = None
    discord_api_url: str = "https://discord.com/api/v10"
    discord_gateway_url: str = "wss://gateway.discord.gg"
    dev_guild_id: int | None = None
    admin_guild_ids: IdList = []
    sharded: bool = False
    # shard ranges: this process runs exactly shards SHARD_IDS of SHARD_COUNT (all of
    # them when SHARD_IDS is empty); guild g is on shard (g >> 22) % SHARD_COUNT
    shard_count: int | None = Field(None, ge=1)
    shard_ids: IdList = []
    log_channel_id: int | None = None
    recommend_cooldown_seconds: float = Field(10.0, ge=0)
    profile_image: bool = False

    # Spotify and ReccoBeats
    spotify_client_id: str | None = None
    spotify_client_secret: SecretStr | None = None
    spotify_api_url: str = "https://api.spotify.com/v1"
    spotify_accounts_url: str = "https://accounts.spotify.com"
    reccobeats_url: str = "https://api.reccobeats.com/v1"
    spotify_requests_per_second: float = Field(3.0, gt=0)
    spotify_concurrency: int = Field(4, ge=1)
    spotify_cooldown_cap_seconds: float = Field(300.0, ge=0)
    reccobeats_requests_per_second: float = Field(2.0, gt=0)
    http_timeout_seconds: float = Field(15.0, gt=0)
    http_max_attempts: int = Field(5, ge=1)

    # curation (the original project's filters are the defaults)
    curate_year_min: int | None = 2010
    curate_year_max: int | None = 2019
    curate_min_popularity: int | None = Field(30, ge=0, le=100)
    curate_keep_unknown_popularity: bool = True
    curate_duration_quantile: float | None = Field(0.95, gt=0, le=1)

    # the model
    features: NameList = list(DEFAULT_FEATURES)
    genre_map_file: Path | None = None
    seed: int = 42
    k_min: int = Field(2, ge=2)
    k_max: int = Field(24, ge=2)
    # weight of release year and popularity in cluster-nearest's distance (0: sound only);
    # the default is recommender.features.CONTEXT_WEIGHT, chosen by the evaluation
    context_weight: float = Field(2.0, ge=0, le=100)
    # a registered strategy (recommender.strategies): hybrid, cluster-nearest, cluster-random
    strategy: str = strategies.DEFAULT
    no_repeat_days: float = Field(7.0, ge=0)
    exclude_same_artist: bool = False
    # picks per artist in one answer, the input's artists only where nothing else fits
    # (0: no limit, and the input's artists count like any other)
    max_picks_per_artist: int = Field(1, ge=0, le=50)
    # hybrid: how far playlist plays pull its sound fill (distance − weight·log2(1+plays));
    # empty: the weight training learned on a validation share of the playlists
    hybrid_plays_weight: float | None = Field(None, ge=0, le=100)
    # the association model learned from playlists: partners kept per track, and score
    association_neighbours: int = Field(32, ge=1, le=1000)
    association_method: Literal["counts", "cosine", "pmi"] = "counts"

    # background jobs
    enrich_interval_minutes: float = Field(60.0, gt=0)
    retrain_interval_hours: float = Field(24.0, gt=0)
    watch_dir: Path | None = None
    watch_interval_minutes: float = Field(10.0, gt=0)
    lease_seconds: float = Field(120.0, gt=0)
    # false: the bot runs no background jobs or scheduled posts (cron runs them instead:
    # `tunecluster jobs run ...`, `tunecluster discovery post --due`; docs/operations.md)
    run_jobs: bool = True

    # members' feedback (bot/services/feedback.py, docs/feedback.md)
    # strategy arms guilds are assigned to by a stable hash (empty: off), and their shares
    strategy_arms: NameList = []
    strategy_arm_shares: FloatList = []
    more_like_this_public: bool = False  # "More like this" answers the channel, not the member
    dislike_artist_after: int = Field(2, ge=1)  # 👎 on this many of an artist's tracks drop it
    learn_from_reactions: bool = False  # members' likes as sessions for the association model

    # health and Prometheus metrics over HTTP (off when unset; 0 picks a free port)
    metrics_port: int | None = Field(None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = os.environ.get(f"{PREFIX}CONFIG", "tunecluster.toml")
        toml = TomlConfigSettingsSource(settings_cls, toml_file=toml_file)
        return init_settings, env_settings, dotenv_settings, toml, file_secret_settings

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        try:
            return parse_url(value).render_as_string(hide_password=False)
        except DatabaseUrlError as error:
            raise ValueError(str(error)) from None

    @field_validator(
        "curate_year_min",
        "curate_year_max",
        "curate_min_popularity",
        "curate_duration_quantile",
        "dev_guild_id",
        "log_channel_id",
        "genre_map_file",
        "watch_dir",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        """`TUNECLUSTER_CURATE_YEAR_MIN=` (or `curate_year_min = ""` in the TOML file, which
        has no null) switches the filter off: an empty optional setting is None."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("admin_guild_ids", "shard_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("features", "strategy_arms", "strategy_arm_shares", mode="before")
    @classmethod
    def _split_names(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("hybrid_plays_weight", mode="before")
    @classmethod
    def _empty_is_learned(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        if value not in strategies.available():  # the registry's names, without loading it
            raise ValueError(
                f"unknown strategy {value!r} (one of: {', '.join(strategies.available())})"
            )
        return value

    @field_validator("strategy_arms")
    @classmethod
    def _known_arms(cls, value: list[str]) -> list[str]:
        if not value:
            return value
        unknown = [name for name in value if strategies.get(name) is None]
        if unknown:
            raise ValueError(
                f"unknown strategy {unknown[0]!r} (one of: {', '.join(strategies.names())})"
            )
        if len(set(value)) != len(value):
            raise ValueError("each strategy may be one arm only")
        return value

    @field_validator("strategy_arm_shares")
    @classmethod
    def _arm_shares(cls, value: list[float], info: ValidationInfo) -> list[float]:
        arms = info.data.get("strategy_arms") or []
        if value and len(value) != len(arms):
            raise ValueError(f"{len(value)} shares for {len(arms)} arms")
        if any(share < 0 for share in value) or (value and sum(value) <= 0):
            raise ValueError("shares are weights: not negative, not all zero")
        return value

    @field_validator("features")
    @classmethod
    def _known_features(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(FEATURE_COLUMNS))
        if unknown:
            raise ValueError(f"unknown audio features: {', '.join(unknown)}")
        if not value:
            raise ValueError("at least one audio feature is needed")
        return value

    @model_validator(mode="after")
    def _check_shards(self) -> Settings:
        if self.shard_ids and self.shard_count is None:
            raise ValueError(
                f"{PREFIX}SHARD_IDS needs {PREFIX}SHARD_COUNT (the total over all hosts)"
            )
        count = self.shard_count or 1
        wrong = sorted({i for i in self.shard_ids if not 0 <= i < count})
        if wrong:
            raise ValueError(
                f"{PREFIX}SHARD_IDS: {', '.join(map(str, wrong))} not among the "
                f"{count} shards of {PREFIX}SHARD_COUNT (0 to {count - 1})"
            )
        if len(set(self.shard_ids)) != len(self.shard_ids):
            raise ValueError(f"{PREFIX}SHARD_IDS lists a shard twice")
        return self

    @property
    def shard_range(self) -> list[int] | None:
        """The shards this process runs (None: not sharded by range)."""
        if self.shard_count is None:
            return None
        return sorted(self.shard_ids) if self.shard_ids else list(range(self.shard_count))

    def runs_guild(self, guild_id: int) -> bool:
        """Whether guild `guild_id` is on one of this process's shards."""
        shards = self.shard_range
        return shards is None or (guild_id >> 22) % (self.shard_count or 1) in shards

    @property
    def masked_database_url(self) -> str:
        return masked(self.database_url)

    @property
    def spotify_configured(self) -> bool:
        return bool(self.spotify_client_id and self.spotify_client_secret)

    def require_discord_token(self) -> str:
        if self.discord_token is None or not self.discord_token.get_secret_value().strip():
            raise ConfigError(f"{PREFIX}DISCORD_TOKEN is not set (it is needed to run the bot)")
        return self.discord_token.get_secret_value()


def _split(value: Any) -> Any:
    """Accept `1,2,3` as well as a JSON or TOML list."""
    if isinstance(value, str):
        value = value.strip()
        if value.startswith("["):
            import json

            return json.loads(value)
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def load_settings(**overrides: Any) -> Settings:
    """Read the settings; a bad or missing value raises ConfigError naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        first = error.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        if not first["loc"]:  # a check across settings names them itself
            raise ConfigError(f"invalid settings: {message}") from None
        name = PREFIX + "_".join(str(part) for part in first["loc"][:1]).upper()
        raise ConfigError(f"invalid setting {name}: {message}") from None
    except ValueError as error:  # a TOML or JSON file that does not parse
        raise ConfigError(f"cannot read the settings: {str(error).splitlines()[0]}") from None
