"""The outside-service clients, built from the settings; one place for the command line,
the bot and the scheduler."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace

from bot.settings import Settings
from pipeline.reccobeats import API as RECCOBEATS_API
from pipeline.reccobeats import ReccoBeatsClient, ReccoBeatsCoolingDown
from pipeline.spotify.client import API as SPOTIFY_API
from pipeline.spotify.client import SpotifyClient
from pipeline.webapi import ApiConfig, DatabaseState
from sql.database import Database

log = logging.getLogger("tunecluster.clients")


def api_config(
    defaults: ApiConfig,
    config: Settings,
    *,
    base_url: str,
    requests_per_second: float,
    concurrency: int | None = None,
) -> ApiConfig:
    """A service's `ApiConfig` from the settings: its own address, rate and (where a
    setting exists) concurrency, the shared HTTP timeout, attempts and cool-down cap;
    the rest from the service's defaults."""
    return replace(
        defaults,
        base_url=base_url,
        requests_per_second=requests_per_second,
        concurrency=defaults.concurrency if concurrency is None else concurrency,
        timeout=config.http_timeout_seconds,
        max_attempts=config.http_max_attempts,
        cooldown_cap_seconds=config.spotify_cooldown_cap_seconds,
    )


def spotify_client(config: Settings, db: Database) -> SpotifyClient | None:
    """The Spotify client, or None without credentials (catalogue-only mode)."""
    if not config.spotify_configured or config.spotify_client_secret is None:
        return None
    api = api_config(
        SPOTIFY_API,
        config,
        base_url=config.spotify_api_url,
        requests_per_second=config.spotify_requests_per_second,
        concurrency=config.spotify_concurrency,
    )
    return SpotifyClient(
        api,
        client_id=config.spotify_client_id or "",
        client_secret=config.spotify_client_secret.get_secret_value(),
        accounts_url=config.spotify_accounts_url,
        state=DatabaseState(db, "spotify"),
    )


def reccobeats_client(config: Settings, db: Database) -> ReccoBeatsClient:
    api = api_config(
        RECCOBEATS_API,
        config,
        base_url=config.reccobeats_url,
        requests_per_second=config.reccobeats_requests_per_second,
    )
    return ReccoBeatsClient(api, state=DatabaseState(db, "reccobeats"))


@asynccontextmanager
async def open_clients(
    config: Settings, db: Database
) -> AsyncIterator[tuple[SpotifyClient | None, ReccoBeatsClient | None]]:
    """Both clients, opened, remembering capabilities and cool-downs in `db`.

    A running persisted Spotify cool-down is raised here, before any request. A ReccoBeats
    stop only costs the audio features: None is yielded for it and the Spotify work goes on.
    """
    async with AsyncExitStack() as stack:
        spotify = spotify_client(config, db)
        if spotify is not None:
            await stack.enter_async_context(spotify)
        reccobeats: ReccoBeatsClient | None = reccobeats_client(config, db)
        try:
            await stack.enter_async_context(reccobeats)
        except ReccoBeatsCoolingDown as stop:
            log.warning("%s: audio features wait for the next run", stop)
            reccobeats = None
        yield spotify, reccobeats
