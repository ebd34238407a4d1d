"""Settings: sources, one-line errors naming the variable, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.services.train import TrainSettings
from bot.settings import ConfigError, Settings, load_settings
from recommender.features import CONTEXT_WEIGHT

SECRET = "s3cr3t-value-never-shown"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No stray TUNECLUSTER_* variable, .env or tunecluster.toml leaks into a test."""
    import os

    for name in list(os.environ):
        if name.startswith("TUNECLUSTER_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    s = load_settings()
    assert s.database_url == "sqlite+aiosqlite:///data/tunecluster.db"
    assert s.models_dir == Path("models")
    assert s.discord_api_url == "https://discord.com/api/v10"
    assert s.spotify_api_url == "https://api.spotify.com/v1"
    assert s.spotify_accounts_url == "https://accounts.spotify.com"
    assert s.reccobeats_url == "https://api.reccobeats.com/v1"
    assert not s.spotify_configured
    assert len(s.features) == 11
    assert s.context_weight == CONTEXT_WEIGHT  # the library's default, chosen by evaluation


def test_every_design_variable_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "DATABASE_URL": "mysql+aiomysql://u:pw@db:3306/tc",
        "MODELS_DIR": "/srv/models",
        "DISCORD_TOKEN": SECRET,
        "DISCORD_API_URL": "http://127.0.0.1:1/api/v10",
        "DISCORD_GATEWAY_URL": "ws://127.0.0.1:1/gw",
        "DEV_GUILD_ID": "123",
        "SPOTIFY_CLIENT_ID": "cid",
        "SPOTIFY_CLIENT_SECRET": SECRET,
        "SPOTIFY_API_URL": "http://127.0.0.1:2/v1",
        "SPOTIFY_ACCOUNTS_URL": "http://127.0.0.1:3",
        "RECCOBEATS_URL": "http://127.0.0.1:4/v1",
        "ADMIN_GUILD_IDS": "1, 2,3",
    }
    for name, value in values.items():
        monkeypatch.setenv(f"TUNECLUSTER_{name}", value)
    s = load_settings()
    assert s.database_url == values["DATABASE_URL"]
    assert s.models_dir == Path("/srv/models")
    assert s.require_discord_token() == SECRET
    assert s.discord_gateway_url == "ws://127.0.0.1:1/gw"
    assert s.dev_guild_id == 123
    assert s.spotify_configured
    assert s.spotify_client_secret.get_secret_value() == SECRET
    assert (s.spotify_api_url, s.spotify_accounts_url, s.reccobeats_url) == (
        "http://127.0.0.1:2/v1",
        "http://127.0.0.1:3",
        "http://127.0.0.1:4/v1",
    )
    assert s.admin_guild_ids == [1, 2, 3]
    assert SECRET not in repr(s) and SECRET not in str(s)
    assert "pw" not in repr(s)
    assert s.masked_database_url == "mysql+aiomysql://u:***@db:3306/tc"


def test_dotenv_and_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tunecluster.toml").write_text(
        'seed = 7\nk_max = 12\nfeatures = ["energy", "tempo"]\n'
    )
    (tmp_path / ".env").write_text("TUNECLUSTER_K_MAX=14\n")
    s = load_settings()
    assert (s.seed, s.k_max, s.features) == (7, 14, ["energy", "tempo"])  # .env beats toml
    monkeypatch.setenv("TUNECLUSTER_K_MAX", "16")
    assert load_settings().k_max == 16  # the environment beats both


CURATION = ("CURATE_YEAR_MIN", "CURATE_YEAR_MAX", "CURATE_MIN_POPULARITY")


def test_an_empty_curation_bound_is_no_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*CURATION, "CURATE_DURATION_QUANTILE", "WATCH_DIR", "DEV_GUILD_ID"):
        monkeypatch.setenv(f"TUNECLUSTER_{name}", "")
    s = load_settings()
    assert (s.curate_year_min, s.curate_year_max, s.curate_min_popularity) == (None,) * 3
    assert (s.curate_duration_quantile, s.watch_dir, s.dev_guild_id) == (None,) * 3
    filters = TrainSettings.from_settings(s).curation
    assert (filters.year_min, filters.year_max, filters.min_popularity) == (None,) * 3
    monkeypatch.setenv("TUNECLUSTER_CURATE_YEAR_MAX", " ")
    assert load_settings().curate_year_max is None


def test_an_empty_curation_bound_in_the_toml_file(tmp_path: Path) -> None:
    (tmp_path / "tunecluster.toml").write_text(
        'curate_year_min = ""\ncurate_year_max = 2015\ncurate_min_popularity = ""\n'
    )
    s = load_settings()
    assert (s.curate_year_min, s.curate_year_max, s.curate_min_popularity) == (None, 2015, None)


def test_a_malformed_curation_bound_is_still_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNECLUSTER_CURATE_YEAR_MIN", "nineteen")
    with pytest.raises(ConfigError, match="TUNECLUSTER_CURATE_YEAR_MIN"):
        load_settings()


def test_plain_scheme_is_pinned_to_async_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNECLUSTER_DATABASE_URL", "mysql://root@127.0.0.1/tc")
    assert load_settings().database_url == "mysql+aiomysql://root@127.0.0.1/tc"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DATABASE_URL", "nonsense", "TUNECLUSTER_DATABASE_URL: not a database URL"),
        ("DATABASE_URL", "postgresql://a@b/c", "unsupported database driver 'postgresql'"),
        ("DEV_GUILD_ID", "abc", "TUNECLUSTER_DEV_GUILD_ID"),
        ("ADMIN_GUILD_IDS", "1,x", "TUNECLUSTER_ADMIN_GUILD_IDS"),
        ("FEATURES", "energy,loudnes", "unknown audio features: loudnes"),
        ("SPOTIFY_REQUESTS_PER_SECOND", "-1", "TUNECLUSTER_SPOTIFY_REQUESTS_PER_SECOND"),
    ],
)
def test_malformed_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(f"TUNECLUSTER_{name}", value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message


def test_missing_token_is_one_line() -> None:
    with pytest.raises(ConfigError, match="TUNECLUSTER_DISCORD_TOKEN is not set"):
        load_settings().require_discord_token()


def test_secret_never_in_validation_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNECLUSTER_DATABASE_URL", f"postgresql://u:{SECRET}@h/d")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert SECRET not in str(caught.value)


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(Exception):  # noqa: B017 - pydantic's ValidationError
        s.seed = 3  # type: ignore[misc]


def test_the_context_weight_reaches_training(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNECLUSTER_CONTEXT_WEIGHT", "0.5")
    assert TrainSettings.from_settings(load_settings()).context_weight == 0.5
    monkeypatch.setenv("TUNECLUSTER_CONTEXT_WEIGHT", "-1")
    with pytest.raises(ConfigError, match="TUNECLUSTER_CONTEXT_WEIGHT"):
        load_settings()
