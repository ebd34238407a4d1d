"""The outside-service clients, built from the settings; one place for the command line,
the bot and the scheduler."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from bot.settings import Settings
from pipeline.reccobeats import ReccoBeatsClient, ReccoBeatsCoolingDown
from pipeline.spotify.client import SpotifyClient
from pipeline.spotify.state import DatabaseState
from sql.database import Database

log = logging.getLogger("tunecluster.clients")


def spotify_client(config: Settings, db: Database) -> SpotifyClient | None:
    """The Spotify client, or None without credentials (catalogue-only mode)."""
    if not config.spotify_configured or config.spotify_client_secret is None:
        return None
    return SpotifyClient(
        client_id=config.spotify_client_id or "",
        client_secret=config.spotify_client_secret.get_secret_value(),
        api_url=config.spotify_api_url,
        accounts_url=config.spotify_accounts_url,
        requests_per_second=config.spotify_requests_per_second,
        concurrency=config.spotify_concurrency,
        cooldown_cap_seconds=config.spotify_cooldown_cap_seconds,
        timeout=config.http_timeout_seconds,
        max_attempts=config.http_max_attempts,
        state=DatabaseState(db, "spotify"),
    )


def reccobeats_client(config: Settings, db: Database) -> ReccoBeatsClient:
    return ReccoBeatsClient(
        base_url=config.reccobeats_url,
        requests_per_second=config.reccobeats_requests_per_second,
        timeout=config.http_timeout_seconds,
        max_attempts=config.http_max_attempts,
        cooldown_cap_seconds=config.spotify_cooldown_cap_seconds,
        state=DatabaseState(db, "reccobeats"),
    )


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
