"""The long-lived resources a running bot shares between its commands and jobs."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.clients import reccobeats_client, spotify_client
from bot.services.retrain import Retrainer
from bot.settings import Settings
from pipeline.reccobeats import ReccoBeatsClient
from pipeline.spotify.client import SpotifyClient
from pipeline.webapi import CoolingDown
from recommender.serving import Recommender
from recommender.store import StoreConfig, open_store
from recommender.versions import recover
from sql.database import Database

log = logging.getLogger("tunecluster.bot")


@dataclass
class AppContext:
    """Settings, the database pool and the outside clients, opened once at start."""

    settings: Settings
    db: Database
    spotify: SpotifyClient | None
    reccobeats: ReccoBeatsClient
    recommender: Recommender
    retrainer: Retrainer

    @classmethod
    async def open(cls, settings: Settings) -> AppContext:
        """Never fails on a sick outside world: a database that is down answers
        'unavailable' until it is back, and a Spotify cool-down refuses lookups."""
        db = Database.from_settings(settings)
        spotify = spotify_client(settings, db)
        reccobeats = reccobeats_client(settings, db)
        for client in (spotify, reccobeats):
            if client is None:
                continue
            try:
                await client.open()
            except CoolingDown as pause:  # Spotify's or ReccoBeats'
                log.warning("%s", pause)
            except Exception as error:  # a database outage while reading the cool-down
                log.warning("could not read the state of %r: %s", client, error)
        if spotify is None:
            log.info("no Spotify credentials: catalogue-only mode")
        store = open_store(StoreConfig.from_settings(settings), db)
        try:  # a training killed with the last run: marked failed, its leftovers removed
            closed = await recover(db, settings.models_dir, store)
            if closed:
                log.info("closed %d trainings whose process had stopped: %s", len(closed), closed)
        except Exception as error:  # the database is down: the next train cleans up
            log.warning("could not check for interrupted trainings: %s", error)
        return cls(
            settings,
            db,
            spotify,
            reccobeats,
            Recommender(settings.models_dir, store),
            Retrainer(),
        )

    async def close(self) -> None:
        for client in (self.spotify, self.reccobeats):
            if client is not None:
                await client.close()
        await self.db.dispose()
