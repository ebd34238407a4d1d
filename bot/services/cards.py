"""What a track card shows (album, year, cover, link, features), read in two queries for
all tracks of an answer. Plain data: the embeds are drawn in `bot.embeds`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sql import catalogue
from sql.database import Database
from sql.schema import FEATURE_COLUMNS

SPOTIFY_TRACK_URL = "https://open.spotify.com/track/{}"
# The 0–1 features a sound profile shows (text bars in embeds, lines in the PNG).
PROFILE_FEATURES = (
    "danceability",
    "energy",
    "valence",
    "acousticness",
    "speechiness",
    "instrumentalness",
    "liveness",
)


@dataclass
class TrackCard:
    track_id: str
    name: str
    artists: list[str]
    album: str | None = None
    year: int | None = None
    image_url: str | None = None
    features: dict[str, float] = field(default_factory=dict)

    @property
    def url(self) -> str | None:
        """The Spotify page; None for keys that are not Spotify ids (name-keyed imports)."""
        is_spotify_id = len(self.track_id) == 22 and self.track_id.isalnum()
        return SPOTIFY_TRACK_URL.format(self.track_id) if is_spotify_id else None

    @property
    def title(self) -> str:
        by = ", ".join(self.artists) if self.artists else "unknown artist"
        return f"{self.name} — {by}"


async def track_cards(db: Database, ids: Sequence[str]) -> dict[str, TrackCard]:
    async with db.connection() as conn:
        described = await catalogue.describe_tracks(conn, list(dict.fromkeys(ids)))
        features = await catalogue.get_audio_features(conn, ids)
    return {row["track_id"]: _card(row, features.get(row["track_id"])) for row in described}


def _card(row: dict[str, Any], features: dict[str, Any] | None) -> TrackCard:
    values = {
        name: float(features[name])
        for name in FEATURE_COLUMNS
        if features and features.get(name) is not None
    }
    return TrackCard(
        track_id=row["track_id"],
        name=row["name"],
        artists=row["artists"],
        album=row["album_name"],
        year=row["release_year"],
        image_url=row["image_url"],
        features=values,
    )
