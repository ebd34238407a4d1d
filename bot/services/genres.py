"""`genres`: how a track is filed — its genres (its own, else its artists'), where they
came from, their buckets, its clusters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.services.recommend import check_text
from pipeline.resolver import resolve_track
from recommender import taxonomy
from recommender.filing import Filing
from recommender.serving import Recommender
from sql.database import Database


async def genres(
    db: Database,
    recommender: Recommender,
    text: str,
    *,
    genre_map_file: Path | None = None,
    spotify: Any = None,
    reccobeats: Any = None,
) -> Filing:
    """The filing of the track `text` names (before any training: the configured rules)."""
    check_text(text)
    track_id = await resolve_track(db, text, spotify=spotify, reccobeats=reccobeats)
    async with db.connection() as conn:
        return await recommender.filing(conn, track_id, taxonomy.load(genre_map_file))
