"""What every strategy shares: a request's options, results, exclusions and choosing.

A strategy (`recommender.strategies`) proposes candidates in rounds, each wider than the
last (nearer cells first, then further ones, then the rest of the bucket); the `Picker`
admits them (the exclusions below), then chooses in the strategy's order under the
variety rules, asking for another round until it has `n` picks or the strategy has
nothing left, in which case the answer says why it is short.

Exclusions: the input track, the same song under another id (same normalised title and
primary artist), tracks the guild was recommended within the no-repeat window, tracks
the member turned down, optionally the input's artists, tracks without features.
Variety: at most `max_per_artist` picks per primary artist, and the input's own artists
only when nothing else fits.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from recommender.taxonomy import display
from sql import clock
from sql import picks as pick_reads
from sql.normalize import norm_name

if TYPE_CHECKING:  # light at import: the settings validate strategy names through here
    from sqlalchemy.ext.asyncio import AsyncConnection

    from recommender.bundle import Bundle
    from recommender.training import BucketModel

EXPLAIN_FEATURES = 3
MAX_PICKS = 50
MAX_ROUNDS = 8

PLAYED_TOGETHER = "played-together"
SOUND = "sound"

_BRACKETS = re.compile(r"\s*[\(\[\{].*?[\)\]\}]")


@dataclass(frozen=True)
class Options:
    n: int = 5
    strategy: str = "hybrid"
    guild_id: int | None = None
    no_repeat_days: float = 7.0
    exclude_same_artist: bool = False
    bucket: str | None = None  # pick only from this one of the track's buckets
    # picks per primary artist in one answer, the input's own artists only when nothing
    # else fits (0: no limit, and the input's artists count like any other)
    max_per_artist: int = 1
    # hybrid: how far playlist plays pull the sound fill (None: the weight training learned)
    plays_weight: float | None = None
    # False: serve the input as a track without playlist history (the evaluation's cold
    # seeds: every new track a 2026 app adds starts so)
    history: bool = True
    exclude_tracks: frozenset[str] = frozenset()  # the member's 👎 tracks (issue 14)
    exclude_artists: frozenset[str] = frozenset()  # artists the member's 👎 removed


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
    # what the pick rests on: PLAYED_TOGETHER (shares playlists with the input) or SOUND
    # (same sound cluster, near in audio features)
    basis: str = SOUND
    shared_playlists: int = 0  # training playlists holding both the input and the pick

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
    short_reason: str | None = None  # why fewer picks than asked, when so

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_version": self.version,
            "strategy": self.strategy,
            "track": self.track.to_dict(),
            "placements": [p.to_dict() for p in self.placements],
            "picks": [p.to_dict() for p in self.picks],
            "unmodelled_buckets": self.unmodelled_buckets,
            "excluded": self.excluded,
            "short_reason": self.short_reason,
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


@dataclass(frozen=True)
class Candidate:
    """A track a strategy proposes, with where it sits and what it rests on."""

    track_id: str
    place: Placement
    basis: str = SOUND
    shared: int = 0
    gap: float | None = None  # distance in the nearest space, when the strategy knows it


@dataclass
class Round:
    """One round of candidates, best first; `known` holds details read with them.

    With `head`, the picker admits (reads the details of) the first `head` candidates
    and the rest only when those did not give `n` picks: the same picks, fewer rows
    read in the common case, whatever the round's length."""

    candidates: list[Candidate]
    known: dict[str, dict[str, Any]] = field(default_factory=dict)
    head: int | None = None

    def parts(self) -> list[list[Candidate]]:
        """The candidates as the picker admits them: the head, then the rest."""
        if self.head is None or len(self.candidates) <= self.head:
            return [self.candidates]
        return [self.candidates[: self.head], self.candidates[self.head :]]


def song_key(name: str | None, artist: str | None) -> tuple[str, str]:
    """Title without bracketed or " - " suffixes (remaster, feat., live…) + primary artist."""
    title = _BRACKETS.sub("", name or "").split(" - ")[0]
    return norm_name(title) or norm_name(name or ""), norm_name(artist or "")


def primary_artist(details: dict[str, Any]) -> str:
    return details["artists"][0]["artist_id"] if details["artists"] else ""


class Picker:
    """One request's exclusions, choosing and explanations."""

    def __init__(
        self, conn: AsyncConnection, placed: Placed, options: Options, rng: np.random.Generator
    ) -> None:
        self.conn = conn
        self.placed = placed
        self.options = options
        self.rng = rng
        self.bundle = placed.bundle
        self.version = placed.bundle.version
        first = placed.details["artists"][0]["name"] if placed.details["artists"] else ""
        self.input_song = song_key(placed.details["name"], first)
        self.input_artists = {a["artist_id"] for a in placed.details["artists"]}
        self.excluded: dict[str, int] = {}
        self.details: dict[str, dict[str, Any]] = {}
        self.rejected: set[str] = set()
        self.rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.short_reason: str | None = None

    @property
    def track_id(self) -> str:
        return self.placed.info.track_id

    # admitting ------------------------------------------------------------------------------

    async def admit(self, ids: Sequence[str], known: dict[str, dict[str, Any]]) -> list[str]:
        """Apply the exclusions to new candidates (`known` holds their details; missing
        ones are read by id); returns the admitted ids among `ids`, in order."""
        fresh = [t for t in dict.fromkeys(ids) if t not in self.details and t not in self.rejected]
        if fresh:
            unknown = [t for t in fresh if t not in known]
            if unknown:
                known = {**known, **await pick_reads.track_details(self.conn, unknown)}
            recent: set[str] = set()
            if self.options.guild_id is not None and self.options.no_repeat_days > 0:
                since = clock.naive_now() - timedelta(days=self.options.no_repeat_days)
                recent = await pick_reads.recently_recommended(
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
        if track_id == self.track_id:
            return "the input track"
        first = details["artists"][0]["name"] if details["artists"] else ""
        if song_key(details["name"], first) == self.input_song:
            return "the same song under another id"
        if track_id in recent:
            return "recommended in this guild recently"
        if track_id in self.options.exclude_tracks or self.options.exclude_artists & {
            a["artist_id"] for a in details["artists"]
        }:
            return "not for this member (their 👎)"
        if self.options.exclude_same_artist and self.input_artists & {
            a["artist_id"] for a in details["artists"]
        }:
            return "same artist as the input"
        if not details["has_features"]:
            return "no audio features"
        return None

    # choosing -------------------------------------------------------------------------------

    async def choose(self, rounds: AsyncIterator[Round]) -> list[Candidate]:
        """Candidates in the strategy's order under the variety rules, round after round
        until `n` are chosen; the input's own artists only when nothing else fits."""
        n = self.options.n
        cap = self.options.max_per_artist
        chosen: list[Candidate] = []
        deferred: list[Candidate] = []  # by the input's artists
        songs: set[tuple[str, str]] = set()
        per_artist: dict[str, int] = {}
        rounds_seen = 0
        async for batch in rounds:
            rounds_seen += 1
            for part in batch.parts():
                if len(chosen) >= n:  # the head was enough: the rest is never read
                    break
                admitted = set(await self.admit([c.track_id for c in part], batch.known))
                for candidate in part:
                    if candidate.track_id not in admitted or len(chosen) >= n:
                        continue
                    details = self.details[candidate.track_id]
                    song = self.song(candidate.track_id)
                    artist = primary_artist(details)
                    if song in songs or any(c.track_id == candidate.track_id for c in chosen):
                        continue
                    if cap and artist and per_artist.get(artist, 0) >= cap:
                        continue
                    if cap and artist in self.input_artists:
                        if all(c.track_id != candidate.track_id for c in deferred):
                            deferred.append(candidate)
                        continue
                    songs.add(song)
                    per_artist[artist] = per_artist.get(artist, 0) + 1
                    chosen.append(candidate)
            if len(chosen) >= n or rounds_seen >= MAX_ROUNDS:
                break
        for candidate in deferred:  # nothing else fitted: the input's artists after all
            artist = primary_artist(self.details[candidate.track_id])
            song = self.song(candidate.track_id)
            if len(chosen) >= n or song in songs:
                continue
            if cap and per_artist.get(artist, 0) >= cap:
                continue
            songs.add(song)
            per_artist[artist] = per_artist.get(artist, 0) + 1
            chosen.append(candidate)
        if len(chosen) < n:
            self.short_reason = self._short_reason(len(chosen))
        return chosen

    def _short_reason(self, found: int) -> str:
        """Why an answer has fewer picks than asked, in words for people."""
        if self.excluded.get("recommended in this guild recently"):
            why = (
                "this server was recently recommended the other tracks near it"
                f" (no repeats within {self.options.no_repeat_days:g} days)"
            )
        elif self.options.max_per_artist:
            why = "the remaining nearby tracks are by artists already picked"
        else:
            why = "the catalogue holds no more tracks near it"
        return f"only {found} of {self.options.n} picks: {why}"

    # explanations ---------------------------------------------------------------------------

    def song(self, track_id: str) -> tuple[str, str]:
        details = self.details[track_id]
        first = details["artists"][0]["name"] if details["artists"] else ""
        return song_key(details["name"], first)

    def pick(self, candidate: Candidate) -> Pick:
        details = self.details[candidate.track_id]
        place = candidate.place
        model = self.bundle.models[place.bucket]
        gap = candidate.gap
        if gap is None:
            gap = float(self.distances(model, [candidate.track_id])[0])
        return Pick(
            track_id=candidate.track_id,
            name=details["name"],
            artists=[a["name"] for a in details["artists"]],
            bucket=place.bucket,
            cluster=place.cluster,
            distance=round(float(gap), 4),
            similar=self._similar(place.bucket, details),
            basis=candidate.basis,
            shared_playlists=candidate.shared,
        )

    def distances(self, model: BucketModel, ids: list[str]) -> np.ndarray:
        """Distances from the input in the bucket's nearest space (admitted tracks)."""
        if not ids:
            return np.zeros(0)
        sound, context = self._vectors(ids)
        near = model.nearest_space(model.scaled(sound), context)
        return np.sqrt(((near - self.placed.near[model.bucket]) ** 2).sum(axis=1))

    def _vectors(self, ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Raw sound and context values of admitted tracks (rows cached per request)."""
        from recommender.features import matrix_of

        missing = [t for t in ids if t not in self.rows]
        if missing:
            plan = self.bundle.plan
            sound = matrix_of([self.details[t] for t in missing], plan.sound)
            context = matrix_of([context_values(self.details[t]) for t in missing], plan.context)
            for i, track_id in enumerate(missing):
                self.rows[track_id] = (sound[i], context[i])
        return (
            np.vstack([self.rows[t][0] for t in ids]),
            np.vstack([self.rows[t][1] for t in ids]),
        )

    def _similar(self, bucket: str, details: dict[str, Any]) -> list[dict[str, Any]]:
        """The input's most distinctive features (largest |z|) with both values."""
        from recommender.features import OPTIONAL_FEATURES

        plan = self.bundle.plan
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


def context_values(details: dict[str, Any]) -> dict[str, Any]:
    popularity = details.get("track_popularity")
    if popularity is None:
        popularity = details.get("album_popularity")
    return {"release_year": details.get("release_year"), "popularity": popularity}


def _rounded(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)
