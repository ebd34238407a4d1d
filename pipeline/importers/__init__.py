"""Dataset importers: one module per format, one report shape, one writer.

Each format module exposes `FORMAT` and `parse(path, report) -> CatalogueBatch` (pure
reading, no database); `import_dataset` runs the parse off the event loop and writes the
batch in one transaction.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from pipeline.importers import kaggle_tracks, musicoset, seed_csv, tidytuesday
from pipeline.importers.report import ImportReport, TableCounts
from pipeline.importers.writing import CatalogueBatch, ProgressFn, write_batch
from sql.database import Database
from sql.errors import TuneclusterError

FORMATS = {
    module.FORMAT: module.parse for module in (seed_csv, musicoset, tidytuesday, kaggle_tracks)
}

__all__ = ["FORMATS", "CatalogueBatch", "ImportReport", "TableCounts", "import_dataset"]


async def import_dataset(
    db: Database, fmt: str, path: Path | str, *, progress: ProgressFn | None = None
) -> ImportReport:
    """Read `path` as `fmt` and merge it into the catalogue; returns what happened."""
    parse = FORMATS.get(fmt)
    if parse is None:
        raise TuneclusterError(f"unknown format {fmt!r} (one of: {', '.join(FORMATS)})")
    path = Path(path)
    if not path.exists():
        raise TuneclusterError(f"{path}: no such file or folder")
    report = ImportReport(format=fmt, path=str(path))
    if progress:
        progress("reading", 0, 1)
    batch = await asyncio.to_thread(parse, path, report)
    await write_batch(db, batch, report, progress=progress)
    return report
