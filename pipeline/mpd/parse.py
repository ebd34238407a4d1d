"""Parsing one MPD slice: the work a process pool spreads over cores.

A clean slice (every real one) goes through the fast columnar reader; anything it
declines, or an export of the original project's files, through the tolerant reader.
Both give the same rows for what they both accept (tested).
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pyarrow as pa

from pipeline.mpd.columnar import read_clean
from pipeline.mpd.slice_data import SliceData
from pipeline.mpd.tolerant import read_any
from pipeline.processes import exit_with_parent


def start_worker(parent: int | None = None) -> None:
    """Process-pool initializer: Arrow's own threads would compete with the other
    workers for the cores the pool already fills, and its first dictionary encoding
    sets up for ~0.2 s, which belongs to the worker's start, not to its first slice.
    With `parent`, the worker exits when that process is gone (killed outright)."""
    if parent is not None:
        exit_with_parent(parent)
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    pa.array([""]).dictionary_encode()


def parse_slice(
    path: str, *, with_playlists: bool = True, export_dir: str | None = None
) -> SliceData:
    """Read one `mpd.slice.*.json`; never raises for bad content (see `error`)."""
    file = Path(path)
    data = SliceData(name=file.name, size=_size(file))
    if export_dir is None:
        if not read_clean(path, data, with_playlists):
            read_any(path, data, with_playlists)
        return data
    extracted: dict[str, dict] = {}
    read_any(path, data, with_playlists, extracted)
    if data.error is None:
        (Path(export_dir) / f"extracted.{file.name}").write_bytes(orjson.dumps(extracted))
    return data


def _size(file: Path) -> int:
    try:
        return file.stat().st_size
    except OSError:  # reported by the reader
        return 0
