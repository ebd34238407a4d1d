"""`recommend`: user text → catalogue track → picks with explanations → the log.

The same service answers the command line and the Discord bot. Text goes through the
resolver (a Spotify link, URI, bare id or a name query; Spotify lookups on a catalogue
miss when credentials are configured); every pick is written to `recommendation_log`,
which feeds the per-guild no-repeat rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.services.feedback import exclusions
from pipeline.resolver import resolve_track
from recommender import strategies
from recommender.serving import Options, Recommendation, Recommender
from sql import catalogue, models
from sql.database import Database
from sql.errors import TuneclusterError

# How many picks an answer holds by default, in Discord and on the command line alike.
DEFAULT_PICKS = 3


class CatalogueEmpty(TuneclusterError):
    """No track at all: nothing can be resolved or recommended yet."""


async def _catalogue_empty(db: Database) -> bool:
    async with db.connection() as conn:
        return await catalogue.is_empty(conn)


@dataclass(frozen=True)
class RecommendSettings:
    models_dir: Path
    strategy: str = strategies.DEFAULT
    no_repeat_days: float = 7.0
    exclude_same_artist: bool = False
    max_per_artist: int = 1
    plays_weight: float | None = None
    dislike_artist_after: int = 2  # the member's 👎 on this many of an artist's tracks

    @classmethod
    def from_settings(cls, settings: Any) -> RecommendSettings:
        return cls(
            models_dir=Path(settings.models_dir),
            strategy=settings.strategy,
            no_repeat_days=settings.no_repeat_days,
            exclude_same_artist=settings.exclude_same_artist,
            max_per_artist=settings.max_picks_per_artist,
            plays_weight=settings.hybrid_plays_weight,
            dislike_artist_after=settings.dislike_artist_after,
        )


async def recommend(
    db: Database,
    recommender: Recommender,
    text: str,
    config: RecommendSettings,
    *,
    n: int = DEFAULT_PICKS,
    strategy: str | None = None,
    bucket: str | None = None,
    guild_id: int | None = None,
    user_id: int | None = None,
    spotify: Any = None,
    reccobeats: Any = None,
    log: bool = True,
    rng: np.random.Generator | None = None,
) -> Recommendation:
    """Resolve `text`, recommend `n` tracks and log them (one line errors otherwise)."""
    try:
        track_id = await resolve_track(db, text, spotify=spotify, reccobeats=reccobeats)
    except TuneclusterError:
        if await _catalogue_empty(db):
            raise CatalogueEmpty(
                "the catalogue is empty: run `tunecluster setup` (or `tunecluster import`)"
            ) from None
        raise
    # what the member's 👎 removed (nothing without a member: the command line)
    tracks, artists = await exclusions(db, guild_id, user_id, config.dislike_artist_after)
    options = Options(
        n=n,
        strategy=strategy or config.strategy,
        guild_id=guild_id,
        no_repeat_days=config.no_repeat_days,
        exclude_same_artist=config.exclude_same_artist,
        bucket=bucket,
        max_per_artist=config.max_per_artist,
        plays_weight=config.plays_weight,
        exclude_tracks=tracks,
        exclude_artists=artists,
    )
    async with db.connection() as conn:
        result = await recommender.recommend(conn, track_id, options, rng=rng)
    if log and result.picks:
        rows = [
            {
                "guild_id": guild_id,
                "user_id": user_id,
                "input_track_id": track_id,
                "pick_track_id": pick.track_id,
                "bucket": pick.bucket,
                "strategy": result.strategy,
            }
            for pick in result.picks
        ]
        async with db.transaction() as conn:
            await models.log_recommendations(conn, rows)
    return result
