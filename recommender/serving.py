"""Serving: place a track in its buckets' clusters and pick similar tracks.

For every bucket of the track's artists' genres that has a model, the bucket's pipeline
predicts a cluster; picks then come from `track_cluster`:

- `cluster-random` (the original): seek to a uniformly random position of the cluster
  through the primary key, one seek per pick, buckets taken in turn.
- `cluster-nearest`: read the cells nearest to the track (contiguous position ranges,
  see `recommender.cells`), rank their tracks by distance in the nearest space (sound
  features plus weighted release year and popularity), then draw the picks at random
  among the VARIETY × n nearest, shown nearest first: similar, yet not the same answer
  every time.

Either way a pick reads a bounded number of rows, whatever the catalogue's size.
Exclusions: the input track, the same song under another id (same normalised title and
primary artist), tracks the guild was recommended within the no-repeat window, and
optionally the input's artists. Every pick says why: bucket, cluster, distance, and the
input's most distinctive features next to the pick's values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncConnection

from recommender import bundle as bundles
from recommender.bundle import Bundle
from recommender.features import OPTIONAL_FEATURES, NoFeatures, matrix_of, row_vector
from recommender.taxonomy import Taxonomy, display
from recommender.training import BucketModel
from sql import picks as reads
from sql.errors import TuneclusterError
from sql.models import utcnow
from sql.normalize import norm_name

STRATEGIES = ("cluster-random", "cluster-nearest")
VARIETY = 3
RANDOM_SEEK_ROWS = 2
MAX_ROUNDS = 4
EXPLAIN_FEATURES = 3
MAX_PICKS = 50

_BRACKETS = re.compile(r"\s*[\(\[\{].*?[\)\]\}]")


class NoActiveModel(TuneclusterError):
    """No model is active yet."""


class NoBucket(TuneclusterError):
    """The track's genres put it in no bucket that has a model."""


class UnknownTrack(TuneclusterError):
    """The track id is not in the catalogue."""


class UnknownStrategy(TuneclusterError):
    """A strategy name that does not exist."""


@dataclass(frozen=True)
class Options:
    n: int = 5
    strategy: str = "cluster-nearest"
    guild_id: int | None = None
    no_repeat_days: float = 7.0
    exclude_same_artist: bool = False
    bucket: str | None = None  # pick only from this one of the track's buckets


@dataclass
class Placement:
    bucket: str
    cluster: int
    cluster_size: int

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "bucket_label": display(self.bucket)}


@dataclass
class Pick:
    track_id: str
    name: str
    artists: list[str]
    bucket: str
    cluster: int
    distance: float
    similar: list[dict[str, Any]]  # feature, input value, pick value

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "bucket_label": display(self.bucket)}


@dataclass
class TrackInfo:
    track_id: str
    name: str
    artists: list[str]
    genres: list[str]
    buckets: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Recommendation:
    version: str
    strategy: str
    track: TrackInfo
    placements: list[Placement]
    picks: list[Pick]
    unmodelled_buckets: list[str] = field(default_factory=list)
    excluded: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_version": self.version,
            "strategy": self.strategy,
            "track": self.track.to_dict(),
            "placements": [p.to_dict() for p in self.placements],
            "picks": [p.to_dict() for p in self.picks],
            "unmodelled_buckets": self.unmodelled_buckets,
            "excluded": self.excluded,
        }


@dataclass
class Placed:
    """A track placed by a bundle: its details, buckets and, per bucket, its vectors."""

    bundle: Bundle
    info: TrackInfo
    details: dict[str, Any]
    placements: list[Placement]
    unmodelled: list[str]
    scaled: dict[str, np.ndarray]
    near: dict[str, np.ndarray]


def song_key(name: str | None, artist: str | None) -> tuple[str, str]:
    """Title without bracketed or " - " suffixes (remaster, feat., live…) + primary artist."""
    title = _BRACKETS.sub("", name or "").split(" - ")[0]
    return norm_name(title) or norm_name(name or ""), norm_name(artist or "")


class Recommender:
    """Serves the active model; bundles are loaded once per version and cached."""

    def __init__(self, models_dir: Path) -> None:
        self.models_dir = Path(models_dir)
        self._cache: dict[str, Bundle] = {}

    async def active(self, conn: AsyncConnection) -> Bundle:
        version = await reads.active_version(conn)
        if version is None:
            raise NoActiveModel("no model is trained yet: run `tunecluster train` first")
        return self.bundle(version)

    def bundle(self, version: str) -> Bundle:
        cached = self._cache.get(version)
        if cached is None:
            cached = bundles.load(self.models_dir, version)
            self._cache = {version: cached}  # one version serves at a time
        return cached

    # --- placing the input -------------------------------------------------------------------

    async def _input(
        self, conn: AsyncConnection, track_id: str, *, need_model: bool = True
    ) -> tuple[Bundle | None, dict[str, Any], list[str]]:
        """The active bundle (None before any training), the track's details and genres:
        one round trip."""
        version, details, genres = await reads.input_track(conn, track_id)
        if version is None and need_model:
            raise NoActiveModel("no model is trained yet: run `tunecluster train` first")
        if details is None:
            raise UnknownTrack(f"track {track_id} is not in the catalogue")
        return (self.bundle(version) if version else None), details, genres

    def describe(
        self, track_id: str, details: dict, genres: list[str], bundle: Bundle
    ) -> TrackInfo:
        buckets = list(bundle.taxonomy.track_buckets(genres))
        artists = [a["name"] for a in details["artists"]]
        return TrackInfo(track_id, details["name"], artists, genres, buckets)

    async def place(self, conn: AsyncConnection, track_id: str) -> Placed:
        bundle, details, genres = await self._input(conn, track_id)
        assert bundle is not None
        info = self.describe(track_id, details, genres, bundle)
        label = _label(info)
        if not info.genres:
            raise NoBucket(
                f"{label} has no genre: none of its artists carries a genre tag, so it is in no"
                " bucket (enrich the catalogue with artist genres)"
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
        context = row_vector(_context_values(details), bundle.plan.context)
        placements, scaled, near = [], {}, {}
        for bucket in modelled:
            model = bundle.models[bucket]
            scaled[bucket] = model.scaled(sound)
            number = int(model.predict_scaled(scaled[bucket])[0])
            near[bucket] = model.nearest_space(scaled[bucket], context)[0]
            placements.append(Placement(bucket, number, int(model.sizes[number])))
        return Placed(bundle, info, details, placements, unmodelled, scaled, near)

    async def filing(
        self, conn: AsyncConnection, track_id: str, fallback: Taxonomy
    ) -> dict[str, Any]:
        """How a track is filed: genres → buckets and, when it can be placed, its clusters.

        Uses the active model's taxonomy (what serving uses) or, before any training,
        `fallback`. What keeps the track from being placed is given as `reason`.
        """
        bundle, details, genres = await self._input(conn, track_id, need_model=False)
        taxonomy = bundle.taxonomy if bundle is not None else fallback
        out: dict[str, Any] = {
            "track": {
                "track_id": track_id,
                "name": details["name"],
                "artists": [a["name"] for a in details["artists"]],
                "release_year": details["release_year"],
                "has_features": details["has_features"],
            },
            "genres": [{"genre": g, "buckets": list(taxonomy.buckets_for(g))} for g in genres],
            "buckets": list(taxonomy.track_buckets(genres)),
            "taxonomy": taxonomy.source,
            "model_version": bundle.version if bundle is not None else None,
            "placements": [],
            "reason": None,
        }
        if bundle is None:
            out["reason"] = "no model is trained yet: run `tunecluster train` first"
            return out
        try:
            placed = await self.place(conn, track_id)
        except (NoBucket, NoFeatures) as why:
            out["reason"] = str(why)
            return out
        out["placements"] = [p.to_dict() for p in placed.placements]
        out["unmodelled_buckets"] = placed.unmodelled
        return out

    # --- recommending ---------------------------------------------------------------------------

    async def recommend(
        self,
        conn: AsyncConnection,
        track_id: str,
        options: Options,
        rng: np.random.Generator | None = None,
    ) -> Recommendation:
        if options.strategy not in STRATEGIES:
            raise UnknownStrategy(
                f"unknown strategy {options.strategy!r} (one of: {', '.join(STRATEGIES)})"
            )
        if not 1 <= options.n <= MAX_PICKS:
            raise TuneclusterError(f"the number of picks must be between 1 and {MAX_PICKS}")
        rng = rng or np.random.default_rng()
        placed = _only_bucket(await self.place(conn, track_id), options.bucket)
        picker = _Picker(conn, placed, options, rng)
        if options.strategy == "cluster-random":
            picks = await picker.random_picks()
        else:
            picks = await picker.nearest_picks()
        return Recommendation(
            version=placed.bundle.version,
            strategy=options.strategy,
            track=placed.info,
            placements=placed.placements,
            picks=picks,
            unmodelled_buckets=placed.unmodelled,
            excluded=dict(picker.excluded),
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


class _Picker:
    """One request's candidate reads, exclusions and explanations."""

    def __init__(self, conn: AsyncConnection, placed: Placed, options: Options, rng) -> None:
        self.conn = conn
        self.placed = placed
        self.options = options
        self.rng = rng
        self.version = placed.bundle.version
        first = placed.details["artists"][0]["name"] if placed.details["artists"] else ""
        self.input_song = song_key(placed.details["name"], first)
        self.input_artists = {a["artist_id"] for a in placed.details["artists"]}
        self.excluded: dict[str, int] = {}
        self.details: dict[str, dict[str, Any]] = {}
        self.rejected: set[str] = set()
        self.rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    # candidates ---------------------------------------------------------------------------------

    async def _admit(self, ids: Sequence[str], known: dict[str, dict[str, Any]]) -> list[str]:
        """Apply the exclusions to new candidates (`known` holds their details, read with
        the seek); returns the admitted ids among `ids`, in order."""
        fresh = [t for t in dict.fromkeys(ids) if t not in self.details and t not in self.rejected]
        if fresh:
            recent: set[str] = set()
            if self.options.guild_id is not None and self.options.no_repeat_days > 0:
                since = utcnow() - timedelta(days=self.options.no_repeat_days)
                recent = await reads.recently_recommended(
                    self.conn, self.options.guild_id, fresh, since
                )
            for track_id in fresh:
                reason = self._exclusion(track_id, known.get(track_id), recent)
                if reason:
                    self.rejected.add(track_id)
                    self.excluded[reason] = self.excluded.get(reason, 0) + 1
                else:
                    self.details[track_id] = known[track_id]
        return [t for t in dict.fromkeys(ids) if t in self.details]

    def _exclusion(self, track_id: str, details: dict | None, recent: set[str]) -> str | None:
        if details is None:
            return "gone from the catalogue"
        if track_id == self.placed.info.track_id:
            return "the input track"
        first = details["artists"][0]["name"] if details["artists"] else ""
        if song_key(details["name"], first) == self.input_song:
            return "the same song under another id"
        if track_id in recent:
            return "recommended in this guild recently"
        if self.options.exclude_same_artist and self.input_artists & {
            a["artist_id"] for a in details["artists"]
        }:
            return "same artist as the input"
        if not details["has_features"]:
            return "no audio features"
        return None

    # cluster-random ------------------------------------------------------------------------------

    async def random_picks(self) -> list[Pick]:
        """One seek per missing pick at a random position, buckets in turn, all seeks of a
        round in one statement."""
        n = self.options.n
        placements = self.placed.placements
        chosen: dict[str, Placement] = {}
        songs: set[tuple[str, str]] = set()
        for _ in range(MAX_ROUNDS):
            missing = n - len(chosen)
            if missing <= 0:
                break
            arms = [placements[(len(chosen) + i) % len(placements)] for i in range(missing)]
            starts = [int(self.rng.integers(p.cluster_size)) for p in arms]
            requests = [(p.bucket, p.cluster, s) for p, s in zip(arms, starts, strict=True)]
            found, known = await reads.seek_with_details(
                self.conn, self.version, requests, RANDOM_SEEK_ROWS
            )
            short = [i for i, rows in enumerate(found) if len(rows) < RANDOM_SEEK_ROWS]
            if short:  # wrap around to the first positions of the cluster
                wrapped, more = await reads.seek_with_details(
                    self.conn,
                    self.version,
                    [(arms[i].bucket, arms[i].cluster, 0) for i in short],
                    RANDOM_SEEK_ROWS,
                )
                known.update(more)
                for i, rows in zip(short, wrapped, strict=True):
                    found[i] = found[i] + rows
            # Each arm's rows are tried in order (the next one when a row is excluded).
            pending = {i: [t for _, t in rows] for i, rows in enumerate(found)}
            while pending:
                trying = {i: rows[0] for i, rows in pending.items() if rows}
                await self._admit(list(trying.values()), known)
                for i in list(pending):
                    if i not in trying:
                        del pending[i]
                        continue
                    track_id = trying[i]
                    key = self._song(track_id) if track_id in self.details else None
                    if key is None or track_id in chosen or key in songs:
                        pending[i] = pending[i][1:]
                        continue
                    chosen[track_id] = arms[i]
                    songs.add(key)
                    del pending[i]
        return [self._pick(t, p) for t, p in chosen.items()]

    # cluster-nearest -----------------------------------------------------------------------------

    async def nearest_picks(self) -> list[Pick]:
        """Rank the tracks of the nearest cells in memory (the bundle keeps their vectors
        by position), read the best positions of every bucket in one statement, then draw
        n among the VARIETY × n nearest, shown nearest first."""
        n = self.options.n
        pool = VARIETY * n
        # Each bucket contributes its share of the pool (+1: the input itself is there).
        share = -(-pool // len(self.placed.placements)) + 1
        ranked: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for place in self.placed.placements:
            cells = self.placed.bundle.models[place.bucket].cells[place.cluster]
            ranked[place.bucket] = cells.ranked(self.placed.near[place.bucket], share)
        taken = dict.fromkeys(ranked, 0)
        gaps: dict[str, tuple[float, Placement]] = {}
        for _ in range(MAX_ROUNDS):
            requests, owners = [], []
            for place in self.placed.placements:
                positions, _ = ranked[place.bucket]
                admitted = sum(1 for _, (_, p) in gaps.items() if p is place)
                want = share - admitted
                if want <= 0 or taken[place.bucket] >= len(positions):
                    continue
                chunk = positions[taken[place.bucket] : taken[place.bucket] + want + 1]
                taken[place.bucket] += len(chunk)
                requests.append((place.bucket, place.cluster, chunk.tolist()))
                owners.append(place)
            if not requests:
                break
            found, known = await reads.at_positions_with_details(self.conn, self.version, requests)
            await self._admit([t for rows in found for _, t in rows], known)
            for place, rows in zip(owners, found, strict=True):
                positions, distances = ranked[place.bucket]
                gap_at = dict(zip(positions.tolist(), distances.tolist(), strict=True))
                for position, track_id in rows:
                    if track_id not in self.details:
                        continue
                    gap = gap_at[position]
                    if track_id not in gaps or gap < gaps[track_id][0]:
                        gaps[track_id] = (gap, place)
        order = sorted(gaps.items(), key=lambda item: (item[1][0], item[0]))
        unique: list[tuple[str, float, Placement]] = []
        songs: set[tuple[str, str]] = set()
        for track_id, (gap, place) in order:
            key = self._song(track_id)
            if key in songs:
                continue
            songs.add(key)
            unique.append((track_id, gap, place))
            if len(unique) >= pool:
                break
        if len(unique) > n:
            keep = np.sort(self.rng.choice(len(unique), size=n, replace=False))
            unique = [unique[i] for i in keep]
        return [self._pick(t, p, gap) for t, gap, p in unique]

    def _distances(self, model: BucketModel, ids: list[str]) -> np.ndarray:
        if not ids:
            return np.zeros(0)
        sound, context = self._vectors(ids)
        near = model.nearest_space(model.scaled(sound), context)
        return np.sqrt(((near - self.placed.near[model.bucket]) ** 2).sum(axis=1))

    def _vectors(self, ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Raw sound and context values of admitted tracks (rows cached per request)."""
        missing = [t for t in ids if t not in self.rows]
        if missing:
            plan = self.placed.bundle.plan
            sound = matrix_of([self.details[t] for t in missing], plan.sound)
            context = matrix_of([_context_values(self.details[t]) for t in missing], plan.context)
            for i, track_id in enumerate(missing):
                self.rows[track_id] = (sound[i], context[i])
        return (
            np.vstack([self.rows[t][0] for t in ids]),
            np.vstack([self.rows[t][1] for t in ids]),
        )

    # explanations ----------------------------------------------------------------------------------

    def _song(self, track_id: str) -> tuple[str, str]:
        details = self.details[track_id]
        first = details["artists"][0]["name"] if details["artists"] else ""
        return song_key(details["name"], first)

    def _pick(self, track_id: str, place: Placement, gap: float | None = None) -> Pick:
        details = self.details[track_id]
        model = self.placed.bundle.models[place.bucket]
        if gap is None:
            gap = float(self._distances(model, [track_id])[0])
        return Pick(
            track_id=track_id,
            name=details["name"],
            artists=[a["name"] for a in details["artists"]],
            bucket=place.bucket,
            cluster=place.cluster,
            distance=round(float(gap), 4),
            similar=self._similar(place.bucket, details),
        )

    def _similar(self, bucket: str, details: dict[str, Any]) -> list[dict[str, Any]]:
        """The input's most distinctive features (largest |z|) with both values."""
        plan = self.placed.bundle.plan
        z = np.abs(self.placed.scaled[bucket][0])
        categorical = [i for i, f in enumerate(plan.sound) if f in OPTIONAL_FEATURES]
        z[categorical] = -1.0  # mode, key, time signature say little about a song
        strongest = np.argsort(-z, kind="stable")[:EXPLAIN_FEATURES]
        return [
            {
                "feature": plan.sound[i],
                "input": _rounded(self.placed.details.get(plan.sound[i])),
                "pick": _rounded(details.get(plan.sound[i])),
            }
            for i in strongest
        ]


def _context_values(details: dict[str, Any]) -> dict[str, Any]:
    popularity = details.get("track_popularity")
    if popularity is None:
        popularity = details.get("album_popularity")
    return {"release_year": details.get("release_year"), "popularity": popularity}


def _rounded(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


def _label(info: TrackInfo) -> str:
    by = f" by {', '.join(info.artists)}" if info.artists else ""
    return f"“{info.name}”{by}"
