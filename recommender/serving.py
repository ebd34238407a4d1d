"""Serving: place a track in its buckets' clusters and ask a strategy for picks.

For every bucket of the track's genres that has a model, the bucket's pipeline predicts
a cluster; a registered strategy (`recommender.strategies`: `hybrid` by default,
`cluster-nearest`, `cluster-random`) then proposes candidates and the picker
(`recommender.picking`) applies the exclusions and variety rules and explains each pick.
Every strategy reads a bounded number of rows, whatever the catalogue's size.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncConnection

from recommender import strategies
from recommender.bundle import Bundle
from recommender.features import NoFeatures, row_vector
from recommender.filing import FiledGenre, FiledTrack, Filing
from recommender.loader import BundleLoader
from recommender.picking import (
    MAX_PICKS,
    Options,
    Pick,
    Picker,
    Placed,
    Placement,
    Recommendation,
    TrackInfo,
    context_values,
    song_key,
)
from recommender.store import ModelStore
from recommender.taxonomy import Taxonomy, display
from sql import picks as pick_reads
from sql.errors import TuneclusterError

STRATEGIES = strategies.names()

__all__ = [
    "MAX_PICKS",
    "STRATEGIES",
    "Options",
    "Pick",
    "Placed",
    "Placement",
    "Recommendation",
    "Recommender",
    "TrackInfo",
    "song_key",
]


class NoActiveModel(TuneclusterError):
    """No model is active yet."""


class NoBucket(TuneclusterError):
    """The track's genres put it in no bucket that has a model."""


class UnknownTrack(TuneclusterError):
    """The track id is not in the catalogue."""


class UnknownStrategy(TuneclusterError):
    """A strategy name that does not exist."""


class Recommender:
    """Serves the active model; bundles are loaded once per version and cached.

    With a model store, a version missing from the local cache is fetched (and checked)
    once, in the background while a previous version is loaded: that one keeps serving
    until the new one is ready (see `BundleLoader`)."""

    def __init__(self, models_dir: Path, store: ModelStore | None = None) -> None:
        self.models_dir = Path(models_dir)
        self.loader = BundleLoader(self.models_dir, store)

    async def active(self, conn: AsyncConnection) -> Bundle:
        version = await pick_reads.active_version(conn)
        if version is None:
            raise NoActiveModel("no model is trained yet: run `tunecluster train` first")
        return await self.loader.get(version)

    @property
    def loaded_version(self) -> str | None:
        """The version held in memory (None until a request or a warm-up loads one)."""
        current = self.loader.current
        return current.version if current is not None else None

    def bundle(self, version: str) -> Bundle:
        """`version`'s bundle from the local cache (loaded once), never fetched."""
        return self.loader.local(version)

    # --- placing the input -------------------------------------------------------------------

    async def _input(
        self,
        conn: AsyncConnection,
        track_id: str,
        *,
        need_model: bool = True,
        version: str | None = None,
    ) -> tuple[Bundle | None, dict[str, Any], list[str]]:
        """The active bundle (or `version`'s; None before any training), the track's
        details and genres: one round trip."""
        active, details, genres = await pick_reads.input_track(conn, track_id)
        version = version or active
        if version is None and need_model:
            raise NoActiveModel("no model is trained yet: run `tunecluster train` first")
        if details is None:
            raise UnknownTrack(f"track {track_id} is not in the catalogue")
        return (await self.loader.get(version) if version else None), details, genres

    def describe(
        self, track_id: str, details: dict, genres: list[str], bundle: Bundle
    ) -> TrackInfo:
        buckets = list(bundle.taxonomy.track_buckets(genres))
        artists = [a["name"] for a in details["artists"]]
        return TrackInfo(track_id, details["name"], artists, genres, buckets)

    async def place(
        self, conn: AsyncConnection, track_id: str, version: str | None = None
    ) -> Placed:
        bundle, details, genres = await self._input(conn, track_id, version=version)
        assert bundle is not None
        info = self.describe(track_id, details, genres, bundle)
        label = _label(info)
        if not info.genres:
            raise NoBucket(
                f"{label} has no genre: neither it nor its artists carry a genre tag, so it is"
                " in no bucket (enrich the catalogue with artist genres)"
            )
        modelled = [b for b in info.buckets if b in bundle.models]
        unmodelled = [b for b in info.buckets if b not in bundle.models]
        if not modelled:
            names = ", ".join(display(b) for b in info.buckets)
            raise NoBucket(f"{label} is filed under {names}, and no trained model covers it")
        if not details["has_features"]:
            raise NoFeatures(
                f"{label} has no audio features yet, so it cannot be placed in a cluster"
                " (run `tunecluster enrich`)"
            )
        missing = bundle.plan.missing_required(details)
        if missing:
            raise NoFeatures(f"{label} lacks the audio features {', '.join(missing)}")
        sound = row_vector(details, bundle.plan.sound)
        context = row_vector(context_values(details), bundle.plan.context)
        placements, scaled, near = [], {}, {}
        for bucket in modelled:
            model = bundle.models[bucket]
            scaled[bucket] = model.scaled(sound)
            number = int(model.predict_scaled(scaled[bucket])[0])
            near[bucket] = model.nearest_space(scaled[bucket], context)[0]
            placements.append(Placement(bucket, number, int(model.sizes[number])))
        return Placed(bundle, info, details, placements, unmodelled, scaled, near)

    async def filing(self, conn: AsyncConnection, track_id: str, fallback: Taxonomy) -> Filing:
        """How a track is filed: genres → buckets and, when it can be placed, its clusters.

        Uses the active model's taxonomy (what serving uses) or, before any training,
        `fallback`. What keeps the track from being placed is given as `reason`.
        """
        bundle, details, genres = await self._input(conn, track_id, need_model=False)
        taxonomy = bundle.taxonomy if bundle is not None else fallback
        filing = Filing(
            track=FiledTrack(
                track_id=track_id,
                name=details["name"],
                artists=[a["name"] for a in details["artists"]],
                release_year=details["release_year"],
                has_features=details["has_features"],
            ),
            genres=[FiledGenre(g, list(taxonomy.buckets_for(g))) for g in genres],
            genres_from=details.get("genres_from"),
            buckets=list(taxonomy.track_buckets(genres)),
            taxonomy=taxonomy.source,
            model_version=bundle.version if bundle is not None else None,
        )
        if bundle is None:
            filing.reason = "no model is trained yet: run `tunecluster train` first"
            return filing
        try:
            placed = await self.place(conn, track_id)
        except (NoBucket, NoFeatures) as why:
            filing.reason = str(why)
            return filing
        filing.placements = placed.placements
        filing.unmodelled_buckets = placed.unmodelled
        return filing

    # --- recommending ---------------------------------------------------------------------------

    async def recommend(
        self,
        conn: AsyncConnection,
        track_id: str,
        options: Options,
        rng: np.random.Generator | None = None,
        version: str | None = None,
    ) -> Recommendation:
        """Picks for a track from the active model (or `version`: the evaluation's)."""
        strategy = strategies.get(options.strategy)
        if strategy is None:
            raise UnknownStrategy(
                f"unknown strategy {options.strategy!r} (one of: {', '.join(STRATEGIES)})"
            )
        if not 1 <= options.n <= MAX_PICKS:
            raise TuneclusterError(f"the number of picks must be between 1 and {MAX_PICKS}")
        rng = rng or np.random.default_rng()
        placed = _only_bucket(await self.place(conn, track_id, version), options.bucket)
        picker = Picker(conn, placed, options, rng)
        picks = await strategy.pick(picker)
        return Recommendation(
            version=placed.bundle.version,
            strategy=options.strategy,
            track=placed.info,
            placements=placed.placements,
            picks=picks,
            unmodelled_buckets=placed.unmodelled,
            excluded=dict(picker.excluded),
            short_reason=picker.short_reason,
        )


def _only_bucket(placed: Placed, bucket: str | None) -> Placed:
    """Keep one bucket's placement; a clear reason when the track is not filed there."""
    if bucket is None:
        return placed
    kept = [p for p in placed.placements if p.bucket == bucket]
    if not kept:
        filed = ", ".join(display(p.bucket) for p in placed.placements) or "no modelled genre"
        raise NoBucket(
            f"{_label(placed.info)} is not filed under {display(bucket)} (it is under {filed})"
        )
    return replace(placed, placements=kept)


def _label(info: TrackInfo) -> str:
    by = f" by {', '.join(info.artists)}" if info.artists else ""
    return f"“{info.name}”{by}"
