"""Fitting the per-bucket models: pure CPU work on arrays, run in a worker process.

`prepare` turns the curated track frame and the (track, genre) pairs into arrays and
bucket memberships (rows sorted by track id, so the result does not depend on the order
the database returned them in). `fit` then fits, for every bucket, a median imputer +
standard scaler + K-Means pipeline with k chosen by `kselect`, and lays every cluster
out in cells (`cells`): the positions written to `track_cluster`. Seeds are fixed per
bucket, so the same data and settings give the same model.
"""

from __future__ import annotations

import hashlib
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recommender import kselect
from recommender.cells import LEAF_SIZE, Cells, partition
from recommender.features import FeaturePlan, matrix, usable
from recommender.taxonomy import Taxonomy
from recommender.timings import Timings

if TYPE_CHECKING:
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

FINAL_N_INIT = 3
THREADED_ROWS = 100_000


@dataclass(frozen=True)
class TrainingConfig:
    seed: int = 42
    k_min: int = 2
    k_max: int = 24
    leaf_size: int = LEAF_SIZE

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainingData:
    """What the worker needs: feature arrays and, per bucket, the rows it holds."""

    plan: FeaturePlan
    sound: np.ndarray  # (tracks, sound features), NaN where an optional value is missing
    context: np.ndarray  # (tracks, context features), NaN where unknown
    members: dict[str, np.ndarray]  # bucket → sorted row indices
    track_ids: np.ndarray = field(repr=False)  # row → track id (object array)
    report: dict[str, Any] = field(default_factory=dict)


@dataclass
class BucketModel:
    """One bucket's fitted pipeline, its nearest-space transform and its cells."""

    bucket: str
    k: int
    pipeline: Pipeline  # impute → scale → kmeans
    context: Pipeline | None  # impute → scale, for the nearest space
    context_weight: float
    cells: list[Cells]
    sizes: np.ndarray  # tracks per cluster
    choice: kselect.KChoice
    seconds: dict[str, float]

    @cached_property
    def _arrays(self) -> dict[str, np.ndarray]:
        """The fitted parameters as plain arrays: serving transforms one row in
        microseconds this way, where the sklearn objects spend a millisecond validating."""
        steps = self.pipeline.named_steps
        arrays = {
            "median": steps["impute"].statistics_,
            "mean": steps["scale"].mean_,
            "scale": steps["scale"].scale_,
            "centers": steps["kmeans"].cluster_centers_,
        }
        if self.context is not None:
            arrays["c_median"] = self.context.named_steps["impute"].statistics_
            arrays["c_mean"] = self.context.named_steps["scale"].mean_
            arrays["c_scale"] = self.context.named_steps["scale"].scale_
        return arrays

    def scaled(self, sound: np.ndarray) -> np.ndarray:
        """Impute (bucket medians) and standardise, as the pipeline does."""
        a = self._arrays
        return (np.where(np.isnan(sound), a["median"], sound) - a["mean"]) / a["scale"]

    @property
    def centers(self) -> np.ndarray:
        """The K-Means centres in the bucket's scaled sound space."""
        return self._arrays["centers"]

    def predict_scaled(self, scaled: np.ndarray) -> np.ndarray:
        """The nearest K-Means centre of each scaled row."""
        centers = self._arrays["centers"]
        return ((scaled[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)

    def predict(self, sound: np.ndarray) -> np.ndarray:
        return self.predict_scaled(self.scaled(sound))

    def nearest_space(self, scaled: np.ndarray, context: np.ndarray) -> np.ndarray:
        """Scaled sound features joined by weighted, scaled context features."""
        if self.context is None or context.shape[1] == 0:
            return scaled
        a = self._arrays
        ctx = (np.where(np.isnan(context), a["c_median"], context) - a["c_mean"]) / a["c_scale"]
        return np.hstack([scaled, ctx * self.context_weight])

    def summary(self) -> dict[str, Any]:
        chosen = next((s for s in self.choice.scores if s.k == self.k), None)
        return {
            "tracks": int(self.sizes.sum()),
            "k": self.k,
            "criterion": self.choice.criterion,
            "cluster_sizes": [int(s) for s in self.sizes],
            "cells": int(sum(len(c) for c in self.cells)),
            "inertia": float(self.pipeline[-1].inertia_),
            "silhouette_at_k": None if chosen is None else chosen.silhouette,
            "scan": [s.to_dict() for s in self.choice.scores],
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


@dataclass
class Assignment:
    """Where each of a bucket's tracks went: rows of TrainingData, cluster, position."""

    bucket: str
    rows: np.ndarray
    cluster: np.ndarray
    position: np.ndarray


@dataclass
class FitResult:
    models: dict[str, BucketModel]
    assignments: list[Assignment]
    seconds: float


# --- preparing the data ---------------------------------------------------------------------


def training_fingerprint(curated_fingerprint: str, data: TrainingData) -> str:
    """The curated set's fingerprint extended with each bucket's tracks: new artist genres
    (an enrichment, an import) change what the models hold while the curated set, its
    tracks and features, stays the same."""
    digest = hashlib.sha256(curated_fingerprint.encode())
    for bucket, rows in data.members.items():
        digest.update(f"\n{bucket}:".encode())
        digest.update(",".join(data.track_ids[rows]).encode())
    return digest.hexdigest()


def prepare(
    curated: pd.DataFrame,
    track_genres: pd.DataFrame,
    taxonomy: Taxonomy,
    plan: FeaturePlan,
) -> TrainingData:
    """Arrays and bucket memberships for the curated tracks that have a genre."""
    frame = curated[usable(curated, plan)]
    frame = frame.sort_values("track_id", kind="stable")
    frame = frame.drop_duplicates("track_id")
    ids = frame["track_id"].to_numpy(dtype=object)
    mapping, rows, members = _memberships(ids, track_genres, taxonomy)
    return TrainingData(
        plan=plan,
        sound=matrix(frame, plan.sound),
        context=_context(frame, plan),
        members=members,
        track_ids=ids,
        report=_report(len(curated), len(frame), mapping, rows, members, taxonomy),
    )


def _memberships(
    ids: np.ndarray, track_genres: pd.DataFrame, taxonomy: Taxonomy
) -> tuple[dict[str, tuple[str, ...]], np.ndarray, dict[str, np.ndarray]]:
    """The genre → buckets mapping of these tracks' genres, the row of every (track,
    bucket) membership, and each bucket's sorted rows (in the taxonomy's order)."""
    row_of = pd.Series(np.arange(len(ids)), index=pd.Index(ids))
    pairs = track_genres[track_genres["track_id"].isin(row_of.index)]
    genres = pairs["genre"].drop_duplicates()
    mapping = taxonomy.mapping(genres)
    long = pd.DataFrame(
        [(g, b) for g, buckets in mapping.items() for b in buckets], columns=["genre", "bucket"]
    )
    membership = pairs.merge(long, on="genre")[["track_id", "bucket"]].drop_duplicates()
    membership["row"] = row_of.loc[membership["track_id"]].to_numpy()
    members = {
        bucket: np.sort(group["row"].to_numpy(dtype=np.int64))
        for bucket, group in membership.groupby("bucket", sort=False)
    }
    members = {b: members[b] for b in taxonomy.all_buckets if b in members}
    return mapping, membership["row"].to_numpy(dtype=np.int64), members


def _report(
    curated: int,
    usable_tracks: int,
    mapping: dict[str, tuple[str, ...]],
    rows: np.ndarray,
    members: dict[str, np.ndarray],
    taxonomy: Taxonomy,
) -> dict[str, Any]:
    """What the training set holds: tracks dropped on the way, per bucket, the share of
    genres and tracks that fall to the fallback bucket ("others")."""
    with_genre = np.zeros(usable_tracks, dtype=bool)
    with_genre[rows] = True
    in_others = np.zeros(usable_tracks, dtype=bool)
    if taxonomy.fallback in members:
        in_others[members[taxonomy.fallback]] = True
    only_others = in_others & ~_in_any(members, taxonomy.buckets, usable_tracks)
    others_genres = sum(1 for b in mapping.values() if b == (taxonomy.fallback,))
    trained = int(with_genre.sum())
    return {
        "curated_tracks": curated,
        "tracks_without_required_features": int(curated - usable_tracks),
        "tracks_without_genre": int((~with_genre).sum()),
        "trained_tracks": trained,
        "bucket_tracks": {b: len(m) for b, m in members.items()},
        "distinct_genres": len(mapping),
        "others_genre_share": round(others_genres / len(mapping), 4) if mapping else 0.0,
        "others_track_share": round(float(in_others.sum()) / max(1, trained), 4),
        "others_only_track_share": round(float(only_others.sum()) / max(1, trained), 4),
    }


def context_popularity(frame: pd.DataFrame) -> pd.Series:
    """Track popularity, else the album's (the curation floor's rule)."""
    track = frame.get("track_popularity", pd.Series(np.nan, index=frame.index))
    album = frame.get("album_popularity", pd.Series(np.nan, index=frame.index))
    return track.where(track.notna(), album)


def _context(frame: pd.DataFrame, plan: FeaturePlan) -> np.ndarray:
    values = frame.assign(popularity=context_popularity(frame))
    return matrix(values, plan.context)


def _in_any(members: dict[str, np.ndarray], buckets, n: int) -> np.ndarray:
    found = np.zeros(n, dtype=bool)
    for bucket in buckets:
        if bucket in members:
            found[members[bucket]] = True
    return found


# --- fitting ------------------------------------------------------------------------------------


def bucket_seed(seed: int, bucket: str) -> int:
    """A fixed seed per (setting seed, bucket), independent of Python's hash salt."""
    state = np.random.SeedSequence([seed, zlib.crc32(bucket.encode())]).generate_state(1)
    return int(state[0] % (2**31 - 1))


def fit(
    data: TrainingData,
    config: TrainingConfig,
    on_bucket: Callable[[str, int, int], None] | None = None,
) -> FitResult:
    """Fit every bucket that holds tracks; `on_bucket(name, done, total)` reports progress."""
    started = time.perf_counter()
    models: dict[str, BucketModel] = {}
    assignments: list[Assignment] = []
    total = len(data.members)
    for done, (bucket, rows) in enumerate(data.members.items(), start=1):
        model, assignment = fit_bucket(bucket, rows, data, config)
        models[bucket] = model
        assignments.append(assignment)
        if on_bucket is not None:
            on_bucket(bucket, done, total)
    return FitResult(models, assignments, time.perf_counter() - started)


def fit_bucket(
    bucket: str, rows: np.ndarray, data: TrainingData, config: TrainingConfig
) -> tuple[BucketModel, Assignment]:
    """One bucket: impute and scale, choose k, fit K-Means, lay every cluster out in cells."""
    # scikit-learn is imported on use: the command line and the bot start fast.
    from sklearn.cluster import KMeans
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    seed = bucket_seed(config.seed, bucket)
    timings = Timings()
    with timings.phase("k_scan"):
        imputer = _median_imputer()
        scaler = StandardScaler()
        scaled = scaler.fit_transform(imputer.fit_transform(data.sound[rows]))
        # One thread for small fits: OpenMP's thread start-up and spin-waiting cost more
        # than they save below ~100k rows, and on a busy machine they made fits 10× slower.
        with threadpool_limits(1):
            choice = kselect.choose(scaled, config.k_min, config.k_max, seed)
    with timings.phase("fit"):
        with threadpool_limits(None if len(rows) >= THREADED_ROWS else 1):
            kmeans = KMeans(n_clusters=choice.k, n_init=FINAL_N_INIT, random_state=seed)
            kmeans.fit(scaled)
        labels = kmeans.labels_.astype(np.int64)
        pipeline = Pipeline([("impute", imputer), ("scale", scaler), ("kmeans", kmeans)])
    with timings.phase("cells"):
        context, near = _nearest_space(scaled, data, rows)
        cells, positions = _lay_out(near, labels, choice.k, seed, config.leaf_size)
        sizes = np.bincount(labels, minlength=choice.k)

    model = BucketModel(
        bucket=bucket,
        k=choice.k,
        pipeline=pipeline,
        context=context,
        context_weight=data.plan.context_weight,
        cells=cells,
        sizes=sizes,
        choice=choice,
        seconds=timings.seconds,
    )
    return model, Assignment(bucket, rows, labels.astype(np.int16), positions.astype(np.int32))


def _median_imputer() -> SimpleImputer:
    from sklearn.impute import SimpleImputer

    return SimpleImputer(strategy="median", keep_empty_features=True)


def _nearest_space(
    scaled: np.ndarray, data: TrainingData, rows: np.ndarray
) -> tuple[Pipeline | None, np.ndarray]:
    """The context pipeline (impute → scale; None without context features) and the
    space "nearest" measures in: scaled sound joined by weighted, scaled context."""
    if not data.context.shape[1]:
        return None, scaled
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    context = Pipeline([("impute", _median_imputer()), ("scale", StandardScaler())])
    weighted = context.fit_transform(data.context[rows]) * data.plan.context_weight
    return context, np.hstack([scaled, weighted])


def _lay_out(
    near: np.ndarray, labels: np.ndarray, k: int, seed: int, leaf_size: int
) -> tuple[list[Cells], np.ndarray]:
    """Every cluster cut into cells (`cells.partition`) and each track's position: its
    place in its cluster's cell order, the seek key of `track_cluster`."""
    rng = np.random.default_rng(seed)
    positions = np.zeros(len(labels), dtype=np.int64)
    cells: list[Cells] = []
    for cluster in range(k):
        inside = np.flatnonzero(labels == cluster)
        order, cluster_cells = partition(near[inside], rng, leaf_size)
        positions[inside[order]] = np.arange(len(inside))
        cells.append(cluster_cells)
    return cells, positions
