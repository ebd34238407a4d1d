"""`tunecluster setup`: from an empty machine to a trained, serving model in one command.

Each step is skipped when it is already done, so a rerun only does what is missing:
the schema (migrations are idempotent), each download (pooch's verified cache), each
import (its `source_file` row, written in the import's own transaction), and training
(only when nothing serves yet or something new was imported).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import datasets
from pipeline.datasets import Dataset
from sql import catalogue, model_versions, source_files
from sql.database import Database
from sql.migrate import init_schema

Progress = Callable[[str, int, int], None]


@dataclass
class DatasetStep:
    name: str
    path: str
    downloaded: bool
    imported: bool
    rows_read: int | None = None
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class SetupReport:
    location: str
    schema_changed: bool
    datasets: list[DatasetStep] = field(default_factory=list)
    trained: bool = False
    model_version: str | None = None
    buckets: dict[str, dict[str, Any]] = field(default_factory=dict)
    tracks: int = 0
    example: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "datasets"}
        out["datasets"] = [d.to_dict() for d in self.datasets]
        return out


def import_key(fmt: str, path: Path) -> str:
    """The `source_file` name an import of `path` records (see importers.writing)."""
    return f"{fmt}:{path.resolve()}"[:255]


async def _imported(db: Database, fmt: str, path: Path) -> bool:
    async with db.connection() as conn:
        return await source_files.status(conn, import_key(fmt, path)) == "done"


async def run_setup(
    db: Database,
    train_config: Any,
    chosen: Sequence[Dataset],
    *,
    cache_dir: Path,
    mirror: str | None = None,
    progress: Progress | None = None,
) -> SetupReport:
    """Create the schema, fetch and import `chosen`, train when needed; say what serves."""
    from bot.services import train as train_service
    from pipeline.importers import import_dataset

    step = progress or (lambda what, done, total: None)
    step("database", 0, 1)
    init = await init_schema(db)
    report = SetupReport(location=db.location, schema_changed=init.changed)
    fresh = False
    for done, dataset in enumerate(chosen):
        step(f"{dataset.name}: download", done, len(chosen))
        cached = await asyncio.to_thread(datasets.is_cached, dataset, cache_dir)
        path = await asyncio.to_thread(datasets.fetch, dataset, cache_dir, mirror)
        item = DatasetStep(
            dataset.name, str(path), downloaded=not cached, imported=False, source=dataset.url or ""
        )
        if not await _imported(db, dataset.import_format, path):
            step(f"{dataset.name}: import", done, len(chosen))
            imported = await import_dataset(db, dataset.import_format, path)
            item.imported, item.rows_read, fresh = True, imported.rows_read, True
        report.datasets.append(item)

    async with db.connection() as conn:
        active = await model_versions.active_version(conn)
    if fresh or active is None:
        step("training", 0, 1)
        trained = await train_service.train(db, train_config)
        report.trained, active = True, trained.version
    report.model_version = active
    await _describe(db, report)
    return report


async def _describe(db: Database, report: SetupReport) -> None:
    """What the bot will serve: tracks, buckets with their k, a track to try."""
    async with db.connection() as conn:
        report.tracks = (await catalogue.counts(conn, ["track"]))["track"]
        if report.model_version is None:
            return
        row = await model_versions.get_model_version(conn, report.model_version)
        report.example = await catalogue.example_track_name(conn, report.model_version)
    meta = _meta(row)
    report.buckets = {
        name: {key: value for key, value in info.items() if key in ("k", "tracks", "size")}
        for name, info in (meta.get("buckets") or {}).items()
    }


def _meta(row: dict[str, Any] | None) -> dict[str, Any]:
    if not row or not row.get("meta"):
        return {}
    meta = row["meta"]
    return json.loads(meta) if isinstance(meta, str) else meta
