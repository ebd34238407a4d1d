"""The background jobs' bodies, as plain async functions: the scheduler runs them, and so
does `tunecluster jobs run NAME` (from cron, for instance).

Each body returns a `JobOutcome` (ok | skipped | failed, with counts); `run_recorded` wraps a
body in a `job_run` row (start, end, outcome, counts, error), which `/status` and
`tunecluster jobs` show. CPU work leaves the event loop: the curated-set fingerprint is
computed in a worker process, dataset parsing in a thread or worker processes, training
in the training service's process pool.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bot import metrics
from bot.services.retrain import TrainingBusy
from bot.services.train import TrainReport, TrainSettings, training_set
from bot.services.workers import in_worker
from pipeline import extras
from pipeline.enrichment import enrich
from pipeline.importers import FORMATS, import_dataset
from recommender import taxonomy as taxonomies
from sql import clock, frames, jobs, liveness, model_versions, source_files
from sql.database import Database
from sql.errors import TuneclusterError
from sql.liveness import holder_id as holder_id  # re-exported: the callers' name for it

log = logging.getLogger("tunecluster.jobs")

SETTLE_SECONDS = 10.0  # a watched file younger than this may still be being copied
WATCH_KIND = "watch"


@dataclass
class JobOutcome:
    outcome: str  # ok | skipped | failed
    counts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # why it failed or was skipped (one line)
    detail: Any = None  # for reporting (a TrainReport...), not stored


Body = Callable[[], Awaitable[JobOutcome]]
Gate = Callable[[AsyncConnection], Awaitable[bool]]


def one_line(error: BaseException) -> str:
    """A failure as people read it: the message of expected errors, else type + message."""
    expected = isinstance(error, TuneclusterError)
    text = str(error) if expected else f"{type(error).__name__}: {error}"
    return (text.strip().splitlines() or [type(error).__name__])[0][:500]


async def run_recorded(
    db: Database, job: str, holder: str, body: Body, *, gate: Gate | None = None
) -> JobOutcome | None:
    """Run `body` as one recorded run of `job`; None when `gate` (checked in the same
    transaction that records the start) says not to run. Failures are recorded and
    returned, not raised; a cancelled run is recorded as `cancelled` and re-raised. The
    run holds a lease (`run:<id>`) while it works: a run whose process was killed is
    closed as `abandoned` by the next run or the next lease holder."""
    async with db.transaction() as conn:
        await liveness.abandon_dead_runs(conn)
        if gate is not None and not await gate(conn):
            return None
        run_id = await jobs.start_run(conn, job, holder)
        await jobs.take_lease(conn, f"run:{run_id}", holder, liveness.ALIVE_SECONDS)
    started = time.monotonic()
    try:
        async with liveness.kept_alive(db, f"run:{run_id}", holder):
            outcome = await body()
    except asyncio.CancelledError:
        await _finish(db, run_id, JobOutcome("cancelled", error="the process stopped"))
        metrics.job_finished(job, "cancelled")
        raise
    except Exception as error:
        if not isinstance(error, TuneclusterError):
            log.exception("job %s failed", job)
        outcome = JobOutcome("failed", error=one_line(error))
    outcome.counts.setdefault("seconds", round(time.monotonic() - started, 2))
    await _finish(db, run_id, outcome)
    metrics.job_finished(job, outcome.outcome)
    level = logging.WARNING if outcome.outcome == "failed" else logging.INFO
    reason = f" ({outcome.error})" if outcome.error else ""
    log.log(level, "job %s: %s %s%s", job, outcome.outcome, outcome.counts, reason)
    return outcome


async def _finish(db: Database, run_id: int, outcome: JobOutcome) -> None:
    try:
        async with db.transaction() as conn:
            await jobs.finish_run(
                conn, run_id, outcome.outcome, counts=outcome.counts, error=outcome.error
            )
    except Exception as error:  # the database went away: the run stays `running`
        log.warning("could not record the end of run %s: %s", run_id, one_line(error))


# --- enrichment ---------------------------------------------------------------------------------


async def enrich_catalogue(
    db: Database, *, spotify: Any, reccobeats: Any, limit: int | None = None
) -> JobOutcome:
    """Complete what the catalogue lacks (resumable; see pipeline.enrichment)."""
    summary = (await enrich(db, spotify=spotify, reccobeats=reccobeats, limit=limit)).as_dict()
    types = summary["types"]
    counts: dict[str, Any] = {
        key: sum(t[key] for t in types.values())
        for key in ("pending", "fetched", "not_found", "unavailable", "failed")
    }
    counts["requests"] = summary["requests"]
    skipped = {name: t["skipped"] for name, t in types.items() if t["skipped"]}
    if skipped and len(skipped) == len(types):
        return JobOutcome("skipped", counts, "; ".join(sorted(set(skipped.values()))))
    stopped = summary["stopped"]
    return JobOutcome("ok", counts, f"stopped early: {stopped}" if stopped else None)


# --- the watched folder ---------------------------------------------------------------------------


def watched_entries(watch_dir: Path) -> tuple[list[Path], list[tuple[str, Path]]]:
    """(MPD slice files, (format, file or folder) dataset entries) in the folder.

    Layout: MPD slices (`mpd.slice.*.json`) at the top or in `mpd/`; datasets one level
    down in a folder named after their format (`tidytuesday/spotify_songs.csv`,
    `musicoset/<folder>`...). Hidden, `.tmp` and `.part` names are ignored.
    """
    if not watch_dir.is_dir():
        raise TuneclusterError(f"the watched folder {watch_dir} does not exist")
    found = (*watch_dir.glob("mpd.slice.*.json"), *watch_dir.glob("mpd/*.json"))
    slices = [p for p in found if _mpd().SLICE_NAME.fullmatch(p.name)] if found else []
    datasets = []
    for fmt in FORMATS:
        folder = watch_dir / fmt
        if folder.is_dir():
            datasets += [(fmt, p) for p in sorted(folder.iterdir()) if _visible(p)]
    return sorted(slices), datasets


def _mpd() -> ModuleType:
    """The MPD reader (the optional extra `mpd`), loaded only when slices are dropped."""
    return extras.load("pipeline.mpd.ingest")


def _visible(path: Path) -> bool:
    return not path.name.startswith(".") and path.suffix not in (".tmp", ".part")


def _files(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]


def _settled(path: Path, now: float, settle: float) -> bool:
    """No file of the entry changed within `settle` seconds (the copy is complete)."""
    return all(now - p.stat().st_mtime >= settle for p in _files(path))


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in _files(path))


def _watch_name(fmt: str, path: Path) -> str:
    return f"{WATCH_KIND}:{fmt}:{path.resolve()}"[:255]


async def ingest_watched(
    db: Database, watch_dir: Path, *, settle: float = SETTLE_SECONDS, workers: int | None = 1
) -> JobOutcome:
    """Take in what was dropped in the watched folder since the last run: new MPD slices
    (the ingest skips finished ones) and dataset files, each entry once (it is recorded
    in `source_file`, done or failed, and taken again only when its size changes)."""
    slices, datasets = await asyncio.to_thread(watched_entries, Path(watch_dir))
    taking = _Taking(now=time.time(), settle=settle)
    if slices:
        await _take_slices(db, slices, taking, workers)
    await _take_datasets(db, datasets, taking)
    counts = taking.counts
    if taking.failures:
        return JobOutcome("failed", counts, "; ".join(taking.failures)[:500])
    if not counts["slices"] and not counts["datasets"]:
        return JobOutcome("skipped", counts, "nothing new in the watched folder")
    return JobOutcome("ok", counts)


@dataclass
class _Taking:
    """One run over the watched folder: when it looked, and what it took in."""

    now: float
    settle: float
    counts: dict[str, Any] = field(
        default_factory=lambda: {"slices": 0, "datasets": 0, "waiting": 0, "failed": 0}
    )
    failures: list[str] = field(default_factory=list)

    def settled(self, path: Path) -> bool:
        """The entry's copy is complete; else it is counted as waiting."""
        if _settled(path, self.now, self.settle):
            return True
        self.counts["waiting"] += 1
        return False


async def _take_slices(
    db: Database, slices: list[Path], taking: _Taking, workers: int | None
) -> None:
    mpd = _mpd()
    done = await mpd.recorded_slices(db)
    new = [p for p in slices if not mpd.landed(p, done) and taking.settled(p)]
    if new:
        report = await mpd.ingest_mpd(db, new, workers=workers)
        taking.counts["slices"] = len(report.ingested)
        taking.counts["tracks_new"] = report.tracks_new
        taking.counts["failed"] += len(report.failed)
        taking.failures += [f"{name}: {why}" for name, why in report.failed.items()]


async def _take_datasets(db: Database, datasets: list[tuple[str, Path]], taking: _Taking) -> None:
    async with db.connection() as conn:
        taken = {n: size for n, (_, size) in (await source_files.records(conn, WATCH_KIND)).items()}
    for fmt, path in datasets:
        name, size = _watch_name(fmt, path), _size(path)
        if taken.get(name) == size or not taking.settled(path):
            continue
        status, detail = "done", ""
        try:
            result = await import_dataset(db, fmt, path)
            detail = result.summary()
            taking.counts["datasets"] += 1
        except TuneclusterError as error:
            status, detail = "failed", one_line(error)
            taking.counts["failed"] += 1
            taking.failures.append(f"{path.name}: {detail}")
        async with db.transaction() as conn:
            await source_files.record(conn, [_watch_row(name, size, status, detail)])


def _watch_row(name: str, size: int, status: str, detail: str) -> dict[str, Any]:
    return {
        "name": name,
        "kind": WATCH_KIND,
        "size_bytes": size,
        "status": status,
        "rows_read": None,
        "detail": detail[:2000],
        "finished_at": clock.naive_now(),
    }


# --- retraining ------------------------------------------------------------------------------------

StartTraining = Callable[[Database, TrainSettings], Awaitable[TrainReport]]


async def active_fingerprint(db: Database) -> str | None:
    """The curated-set fingerprint the serving model was trained on."""
    async with db.connection() as conn:
        version = await model_versions.active_version(conn)
        row = await model_versions.get_model_version(conn, version) if version else None
    return row["fingerprint"] if row else None


async def current_fingerprint(
    db: Database, config: TrainSettings, *, executor: Executor | None = None
) -> tuple[str | None, int]:
    """(fingerprint, curated rows) of what training would fit now, computed by the
    training service's own function in a worker process that reads the catalogue itself
    (None for an empty catalogue)."""
    url = db.url.render_as_string(hide_password=False)
    return await in_worker(executor, _fingerprint_worker, url, config)


def _fingerprint_worker(url: str, config: TrainSettings) -> tuple[str | None, int]:
    return asyncio.run(_fingerprint(url, config))


async def _fingerprint(url: str, config: TrainSettings) -> tuple[str | None, int]:
    db = Database(url, pool_size=1)
    try:
        async with db.connection() as conn:
            tracks = await frames.track_frame(conn)
            genres = await frames.track_genres_frame(conn)
    finally:
        await db.dispose()
    if tracks.empty:
        return None, 0
    curated, _, fingerprint = training_set(
        tracks, genres, taxonomies.load(config.genre_map_file), config
    )
    return fingerprint, curated.rows_out


async def retrain_if_changed(
    db: Database,
    config: TrainSettings,
    *,
    start: StartTraining,
    executor: Executor | None = None,
) -> JobOutcome:
    """Train (through `start`, which refuses a second concurrent run) only when the
    training set (curated tracks, their features and genre buckets) differs from the
    serving model's. A failed training raises; the previous version keeps serving."""
    current, rows = await current_fingerprint(db, config, executor=executor)
    active = await active_fingerprint(db)
    counts: dict[str, Any] = {"curated": rows, "fingerprint": (current or "")[:12]}
    if current is None:
        return JobOutcome("skipped", counts, "the catalogue is empty")
    if current == active:
        return JobOutcome("skipped", counts, "the training set is unchanged since the model")
    try:
        report = await start(db, config)
    except TrainingBusy as busy:
        return JobOutcome("skipped", counts, one_line(busy))
    counts.update(version=report.version, assignments=report.assignments)
    return JobOutcome("ok", counts, detail=report)
