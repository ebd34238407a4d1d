"""Training end to end: curate → fit (in a worker process) → write assignments → activate.

The version row says `training` while its rows are written; the bundle lands on disk
before any assignment; only when every assignment is in the database is the row marked
`ready` and `app_state` switched (one statement). Any failure on the way marks the
version `failed` with its reason, removes what it wrote and leaves the previous version
serving.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bot.services.workers import in_worker
from pipeline.curation import CurationFilters, CurationResult, curate_for_training
from recommender import bundle as bundles
from recommender import features as feature_plans
from recommender import layout as layouts
from recommender import taxonomy as taxonomies
from recommender import versions
from recommender.association import AssociationConfig, SessionCoder, as_ids, fit_codes
from recommender.bundle import Bundle
from recommender.fill import learn_plays_weight
from recommender.store import ModelStore, StoreConfig, open_store
from recommender.timings import Timings
from recommender.training import (
    FitResult,
    TrainingConfig,
    TrainingData,
    fit,
    prepare,
    training_fingerprint,
)
from sql import clock, frames, jobs, liveness, model_versions
from sql import reactions as reaction_store
from sql.database import Database
from sql.errors import TuneclusterError

Progress = Callable[[str, int, int], None]
WRITE_TRANSACTION = 50_000


@dataclass(frozen=True)
class TrainSettings:
    """The settings training reads, as plain values."""

    models_dir: Path
    models_keep: int = 3
    features: tuple[str, ...] = ()
    genre_map_file: Path | None = None
    seed: int = 42
    k_min: int = 2
    k_max: int = 24
    curation: CurationFilters = field(default_factory=CurationFilters)
    # Weight of release year and popularity in the "nearest" distance (0: sound only).
    context_weight: float = feature_plans.CONTEXT_WEIGHT
    association: AssociationConfig = field(default_factory=AssociationConfig)
    # Train as a 2026 development-mode app sees the catalogue: no popularity anywhere
    # (the evaluation's default).
    hide_popularity: bool = False
    # Members' liked tracks as sessions beside the playlists (TUNECLUSTER_LEARN_FROM_REACTIONS)
    learn_from_reactions: bool = False
    store: StoreConfig = field(default_factory=StoreConfig)

    @classmethod
    def from_settings(cls, settings: Any) -> TrainSettings:
        return cls(
            models_dir=Path(settings.models_dir),
            models_keep=settings.models_keep,
            features=tuple(settings.features),
            genre_map_file=settings.genre_map_file,
            seed=settings.seed,
            k_min=settings.k_min,
            k_max=settings.k_max,
            curation=CurationFilters.from_settings(settings),
            context_weight=settings.context_weight,
            association=AssociationConfig(
                neighbours=settings.association_neighbours,
                method=settings.association_method,
            ),
            learn_from_reactions=settings.learn_from_reactions,
            store=StoreConfig.from_settings(settings),
        )


@dataclass
class TrainReport:
    version: str
    activated: bool
    previous: str | None
    pruned: list[str]
    meta: dict[str, Any]
    assignments: int
    seconds: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "activated": self.activated,
            "previous": self.previous,
            "pruned": self.pruned,
            "assignments": self.assignments,
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            **{k: v for k, v in self.meta.items() if k not in ("version", "seconds")},
        }


def training_set(
    tracks: pd.DataFrame,
    genres: pd.DataFrame,
    taxonomy: taxonomies.Taxonomy,
    config: TrainSettings,
) -> tuple[CurationResult, TrainingData, str]:
    """What training fits from this catalogue: the curated tracks, their arrays and
    buckets, and the fingerprint of both (the retrain check compares it with the serving
    model's). CPU work for a thread or a worker process; raises the one-line reason when
    no configured feature is usable."""
    curated, plan = curate_for_training(
        tracks,
        replace(config.curation, features=config.features),
        strict=True,
        context_weight=config.context_weight,
    )
    data = prepare(curated.frame, genres, taxonomy, plan)
    return curated, data, training_fingerprint(curated.fingerprint, data)


def _step(progress: Progress | None, what: str, done: int = 0, total: int = 1) -> None:
    if progress is not None:
        progress(what, done, total)


async def train(
    db: Database,
    config: TrainSettings,
    *,
    activate: bool = True,
    progress: Progress | None = None,
    executor: Executor | None = None,
    holdout: frozenset[str] = frozenset(),
    prune: bool = True,
) -> TrainReport:
    """Train a new version from the catalogue and (by default) make it serve.

    `holdout`: playlists the association model must not learn from (the evaluation's
    test playlists); `prune=False` keeps every older version (the evaluation's own
    versions are removed by the evaluation)."""
    if config.k_min > config.k_max:
        raise TuneclusterError(f"k_min ({config.k_min}) is larger than k_max ({config.k_max})")
    timings = Timings()
    with timings.phase("read"):
        taxonomy = taxonomies.load(config.genre_map_file)
        _step(progress, "reading the catalogue")
        tracks, genres = await _catalogue_frames(db)
    with timings.phase("curate"):
        _step(progress, "curating")
        curated, data, fingerprint = await _curate(tracks, genres, taxonomy, config)
    with timings.phase("read_playlists"):
        _step(progress, "reading the playlists")
        ids = await asyncio.to_thread(as_ids, data.track_ids)
        sessions = await training_sessions(db, ids, holdout, config.learn_from_reactions)

    store = open_store(config.store, db)
    version, holder = await _new_version(db, config.models_dir, store, fingerprint)
    try:
        async with liveness.kept_alive(db, f"train:{version}", holder):
            meta = _meta(version, fingerprint, curated.to_dict(), data, taxonomy, config)
            meta["holdout_playlists"] = len(holdout)
            meta, written = await _fit_and_write(
                db, store, version, data, taxonomy, meta, (ids, *sessions), config,
                timings=timings, progress=progress, executor=executor,
            )  # fmt: skip
    except BaseException as error:
        await versions.discard(db, config.models_dir, version, _reason(error), store)
        raise
    previous = None
    if activate:
        with timings.phase("activate"):
            previous = (await versions.activate(db, config.models_dir, version, store)).previous
    pruned = await versions.prune(db, config.models_dir, config.models_keep, store) if prune else []
    return TrainReport(version, activate, previous, pruned, meta, written, timings.seconds)


async def _catalogue_frames(db: Database) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tracks with their features and the (track, genre) pairs."""
    async with db.connection() as conn:
        return await frames.track_frame(conn), await frames.track_genres_frame(conn)


async def _curate(
    tracks: pd.DataFrame,
    genres: pd.DataFrame,
    taxonomy: taxonomies.Taxonomy,
    config: TrainSettings,
) -> tuple[CurationResult, TrainingData, str]:
    """`training_set` off the loop (pandas work), or the one-line reason there is none."""
    if tracks.empty:
        raise TuneclusterError(
            "the catalogue is empty: import a dataset first (tunecluster import)"
        )
    if config.hide_popularity:
        tracks = without_popularity(tracks)
    curated, data, fingerprint = await asyncio.to_thread(
        training_set, tracks, genres, taxonomy, config
    )
    if (emptied := curated.emptied_by()) is not None:
        raise TuneclusterError(emptied)
    if not data.members:
        raise TuneclusterError(
            f"no curated track has both audio features and a genre ({curated.rows_out} curated"
            " tracks): enrich artist genres or relax the curation settings"
        )
    return curated, data, fingerprint


async def _new_version(
    db: Database, models_dir: Path, store: ModelStore, fingerprint: str
) -> tuple[str, str]:
    """A `training` version row and the lease that says it is alive (what a killed
    training left is recovered first); returns the version and the lease's holder."""
    await versions.recover(db, models_dir, store)
    version = bundles.new_version(fingerprint)
    holder = liveness.holder_id("train")
    async with db.transaction() as conn:
        await model_versions.insert_model_version(
            conn, version, fingerprint=fingerprint, path=store.where(version)
        )
        await jobs.take_lease(conn, f"train:{version}", holder, liveness.ALIVE_SECONDS)
    return version, holder


async def _fit_and_write(
    db: Database,
    store: ModelStore,
    version: str,
    data: TrainingData,
    taxonomy: taxonomies.Taxonomy,
    meta: dict[str, Any],
    sessions: tuple[np.ndarray, np.ndarray, np.ndarray],
    config: TrainSettings,
    *,
    timings: Timings,
    progress: Progress | None,
    executor: Executor | None,
) -> tuple[dict[str, Any], int]:
    """Fit and save the bundle in a worker, store it, write every assignment and mark
    the version `ready`; returns its meta and the assignments written."""
    training = TrainingConfig(seed=config.seed, k_min=config.k_min, k_max=config.k_max)
    _step(progress, f"fitting {len(data.members)} buckets and the association (worker)")
    worker = Timings()
    with worker.phase("worker"):
        fitted: Fitted = await in_worker(
            executor, _fit_and_save, data, training, taxonomy, meta, config.models_dir,
            sessions, config.association,
        )  # fmt: skip
    meta = fitted.meta
    # the association is timed inside the worker; "fit" is the rest of the worker's time
    timings.seconds["associate"] = meta["association"]["seconds"]
    timings.seconds["fit"] = worker.seconds["worker"] - timings.seconds["associate"]
    _step(progress, "storing the bundle")
    with timings.phase("store"):
        await store.put(version, bundles.bundle_dir(config.models_dir, version))
    with timings.phase("write"):
        written = await _write(db, version, data, fitted.fit, progress)
    meta["seconds"] = {k: round(v, 3) for k, v in timings.seconds.items()}
    async with db.transaction() as conn:
        await model_versions.finish_model_version(conn, version, status="ready", meta=meta)
    return meta, written


def without_popularity(tracks: pd.DataFrame) -> pd.DataFrame:
    """The catalogue as a development-mode app sees it in 2026: no popularity at all."""
    columns = [c for c in tracks.columns if c.endswith("popularity")]
    return tracks.assign(**dict.fromkeys(columns, np.nan))


async def training_sessions(
    db: Database, ids: np.ndarray, holdout: frozenset[str], reactions: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Every playlist's entries as (session, track row) codes, minus `holdout`; with
    `reactions`, each member's liked tracks too, as one session per member and guild."""
    coder = SessionCoder(ids)
    async with db.connection() as conn:
        async for playlists, tracks in frames.playlist_entry_parts(conn):
            if holdout:
                keep = ~pd.Series(playlists).isin(holdout).to_numpy()
                playlists, tracks = playlists[keep], tracks[keep]
            await asyncio.to_thread(coder.add, playlists, tracks)
        if reactions:
            liked = await reaction_store.liked_sessions_frame(conn)
            await asyncio.to_thread(
                coder.add, liked["playlist_id"].to_numpy(object), liked["track_id"].to_numpy(object)
            )
    return coder.codes()


def _reason(error: BaseException) -> str:
    if isinstance(error, asyncio.CancelledError):
        return "cancelled"
    return f"{type(error).__name__}: {error}".splitlines()[0]


def _meta(
    version: str,
    fingerprint: str,
    curation: dict[str, Any],
    data: TrainingData,
    taxonomy: taxonomies.Taxonomy,
    config: TrainSettings,
) -> dict[str, Any]:
    return {
        "version": version,
        "created_at": clock.aware_now().isoformat(timespec="seconds"),
        "fingerprint": fingerprint,
        "features": data.plan.to_dict(),
        "taxonomy": {"source": taxonomy.source, "buckets": list(taxonomy.all_buckets)},
        "settings": {
            "seed": config.seed,
            "k_min": config.k_min,
            "k_max": config.k_max,
            "models_keep": config.models_keep,
        },
        "curation": curation,
        "data": data.report,
    }


@dataclass
class Fitted:
    """What the worker hands back: the assignments to write (no models: the bundle on
    disk holds them) and the version's meta, completed with the fit's."""

    fit: FitResult
    meta: dict[str, Any]


def _fit_and_save(
    data: TrainingData,
    training: TrainingConfig,
    taxonomy: taxonomies.Taxonomy,
    meta: dict[str, Any],
    models_dir: Path,
    sessions: tuple[np.ndarray, np.ndarray, np.ndarray],
    association_config: AssociationConfig,
) -> Fitted:
    """Worker side: fit every bucket and the association, write the bundle."""
    result = fit(data, training)
    timings = Timings()
    with timings.phase("associate"):
        ids, session_rows, track_rows = sessions
        if len(ids) != len(data.track_ids) or ids[-1].decode() != data.track_ids[-1]:
            raise TuneclusterError("track ids are not plain ASCII: cannot lay out the model")
        association = fit_codes(session_rows, track_rows, ids, association_config)
        fill = learn_plays_weight(
            session_rows, track_rows, len(ids), result.models, result.assignments, training.seed
        )
    layout = layouts.build(
        ids,
        [(a.bucket, a.rows, a.cluster, a.position) for a in result.assignments],
        association.plays,
    )
    has_playlists = association.report["sessions"] > 0
    meta = {
        **meta,
        "training": {
            **training.to_dict(),
            "fit_seconds": round(result.seconds, 3),
            "worker_peak_mb": _peak_mb(),
        },
        "buckets": {b: m.summary() for b, m in result.models.items()},
        "association": {**association.report, "seconds": round(timings.seconds["associate"], 3)},
        "hybrid": {"plays_weight": fill.pop("weight"), **fill},
    }
    bundle = Bundle(
        meta["version"],
        taxonomy,
        data.plan,
        result.models,
        meta,
        layout=layout,
        association=association if has_playlists else None,
    )
    bundles.save(bundle, models_dir)
    light = FitResult(models={}, assignments=result.assignments, seconds=result.seconds)
    return Fitted(light, meta)


def _peak_mb() -> float | None:
    """This process's peak resident memory (Unix; None elsewhere)."""
    try:
        import resource
    except ImportError:
        return None
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


async def _write(
    db: Database, version: str, data: TrainingData, result: FitResult, progress: Progress | None
) -> int:
    """Clusters and every assignment, in big batches (several transactions)."""
    total = sum(len(a.rows) for a in result.assignments)
    sizes = [
        (a.bucket, int(c), int(n))
        for a in result.assignments
        for c, n in enumerate(np.bincount(a.cluster.astype(np.int64)))
    ]
    async with db.transaction() as conn:
        await model_versions.write_clusters(conn, version, sizes)
    done = 0
    _step(progress, "writing cluster assignments", 0, total)
    for assignment in result.assignments:
        ids = data.track_ids[assignment.rows]
        rows = list(
            zip(
                [version] * len(ids),
                [assignment.bucket] * len(ids),
                assignment.cluster.tolist(),
                assignment.position.tolist(),
                ids.tolist(),
                strict=True,
            )
        )
        for start in range(0, len(rows), WRITE_TRANSACTION):
            batch = rows[start : start + WRITE_TRANSACTION]
            async with db.transaction() as conn:
                await model_versions.write_assignments(conn, batch)
            done += len(batch)
            _step(progress, "writing cluster assignments", done, total)
    return done


# --- versions ---------------------------------------------------------------------------------


async def activate(
    db: Database, models_dir: Path, version: str, store: ModelStore | None = None
) -> versions.Activation:
    """Roll back (or forward) to a kept version."""
    return await versions.activate(db, models_dir, version, store)


async def list_versions(db: Database) -> list[dict[str, Any]]:
    async with db.connection() as conn:
        rows = await model_versions.list_model_versions(conn)
        active = await model_versions.active_version(conn)
    return [{**r, "active": r["version"] == active} for r in rows]
