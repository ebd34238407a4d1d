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

from bot import metrics
from bot.services.feedback import exclusions
from pipeline.resolver import resolve_track
from recommender import strategies
from recommender.serving import Options, Recommendation, Recommender
from sql import catalogue, model_versions
from sql.database import Database
from sql.errors import TuneclusterError

# How many picks an answer holds by default, in Discord and on the command line alike.
DEFAULT_PICKS = 3


class CatalogueEmpty(TuneclusterError):
    """No track at all: nothing can be resolved or recommended yet."""


async def _catalogue_empty(db: Database) -> bool:
    async with db.connection() as conn:
        return await catalogue.is_empty(conn)


# What a member may ask for: /recommend declares the same ranges, but Discord's client is
# not the only sender (a forged request skips the declaration), so they are checked here.
MEMBER_MAX_PICKS = 5  # an answer is the input's embed + one per pick, within Discord's 10
MAX_TEXT = 500


class BadOption(TuneclusterError):
    """An option outside its declared range (a forged or malformed request)."""


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
    max_n: int = MEMBER_MAX_PICKS,
) -> Recommendation:
    """Resolve `text`, recommend `n` tracks and log them (one line errors otherwise).
    `max_n` is the most picks this caller may ask for (the command line allows more)."""
    check_options(text, n, max_n)
    track_id = await _resolve(db, text, spotify, reccobeats)
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
        await _log(db, result, track_id, guild_id, user_id)
    metrics.recommended(result.strategy, len(result.picks))
    return result


async def _resolve(db: Database, text: str, spotify: Any, reccobeats: Any) -> str:
    """The track `text` names; an empty catalogue says so instead of "no track"."""
    try:
        return await resolve_track(db, text, spotify=spotify, reccobeats=reccobeats)
    except TuneclusterError:
        if await _catalogue_empty(db):
            raise CatalogueEmpty(
                "the catalogue is empty: run `tunecluster setup` (or `tunecluster import`)"
            ) from None
        raise


async def _log(
    db: Database, result: Recommendation, track_id: str, guild_id: int | None, user_id: int | None
) -> None:
    """Every pick in `recommendation_log`: the per-guild no-repeat rule reads it."""
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
        await model_versions.log_recommendations(conn, rows)


def check_options(text: str | None, n: int, max_n: int) -> None:
    """Refuse, in one line, what the command's declaration would not have let through
    (`text` None: no track given, which /recommend answers from the member's taste)."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= max_n:
        raise BadOption(f"count must be a whole number from 1 to {max_n}")
    if text is not None:
        check_text(text)


def check_text(text: str) -> None:
    """A track option: some text, at most MAX_TEXT characters."""
    if not isinstance(text, str) or not text.strip():
        raise BadOption("give a track: a Spotify link, or a track or artist name")
    if len(text) > MAX_TEXT:
        raise BadOption(f"the track text is too long ({len(text)} characters, at most {MAX_TEXT})")
