"""How a track is filed (`Recommender.filing`, `/genres`, `tunecluster genres`): its
genres, their buckets and, when it can be placed, its clusters."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from recommender.picking import Placement


@dataclass
class FiledTrack:
    track_id: str
    name: str
    artists: list[str]
    release_year: int | None
    has_features: bool


@dataclass
class FiledGenre:
    genre: str
    buckets: list[str]  # empty: the genre falls to no bucket of its own


@dataclass
class Filing:
    track: FiledTrack
    genres: list[FiledGenre]
    genres_from: str | None  # "track" (its own genres), "artists" (it has none) or None
    buckets: list[str]
    taxonomy: str  # the rules' source
    model_version: str | None  # None before any training
    placements: list[Placement] = field(default_factory=list)
    reason: str | None = None  # what keeps the track from being placed
    unmodelled_buckets: list[str] | None = None  # known once placed (None: not placed)

    def to_dict(self) -> dict[str, Any]:
        """The `--json` form; `unmodelled_buckets` appears only for a placed track."""
        out: dict[str, Any] = {
            "track": asdict(self.track),
            "genres": [asdict(g) for g in self.genres],
            "genres_from": self.genres_from,
            "buckets": self.buckets,
            "taxonomy": self.taxonomy,
            "model_version": self.model_version,
            "placements": [p.to_dict() for p in self.placements],
            "reason": self.reason,
        }
        if self.unmodelled_buckets is not None:
            out["unmodelled_buckets"] = self.unmodelled_buckets
        return out
