"""What parsing one MPD slice yields: the same shape from the fast and the tolerant
reader, sent from a worker process to the writer.

Tracks, artists and albums travel as Arrow tables (a slice's distinct tracks, ~33,000
rows: pickled as a few buffers instead of one object per value); playlists (1,000 per
slice) as plain tuples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

TRACK = "spotify:track:"
ARTIST = "spotify:artist:"
ALBUM = "spotify:album:"
LOCAL = "spotify:local:"
EXAMPLES = 3
INT32 = 2**31  # duration_ms and num_followers are INTEGER columns

TRACKS = pa.schema(
    [
        ("track_id", pa.string()),
        ("name", pa.string()),
        ("album_id", pa.string()),
        ("duration_ms", pa.int64()),
        ("artist_id", pa.string()),
    ]
)
NAMED = pa.schema([("id", pa.string()), ("name", pa.string())])  # artists, albums


@dataclass
class SliceData:
    """One parsed slice. `tracks` holds each distinct track of the slice once, with the
    values of its first entry; `artists` and `albums` the ones those tracks name."""

    name: str
    size: int
    error: str | None = None
    playlists: list[tuple] = field(default_factory=list)  # see `playlist_row`
    # One (playlist_id, track ids joined) per playlist: the i-th 22 characters are the
    # track at position i. Far cheaper to send between processes than one row per entry.
    entries: list[tuple[str, str]] = field(default_factory=list)
    tracks: pa.Table = field(default_factory=TRACKS.empty_table)
    artists: pa.Table = field(default_factory=NAMED.empty_table)
    albums: pa.Table = field(default_factory=NAMED.empty_table)
    skipped: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    entries_read: int = 0
    distinct_tracks: int = 0
    num_tracks_mismatch: int = 0
    renumbered: int = 0  # playlists whose positions close up over skipped entries

    def __getstate__(self) -> dict[str, Any]:
        """Pickled with the tables in Arrow's IPC format: less than half the time pickle
        takes for the tables themselves, and a worker waits for it on every slice."""
        state = self.__dict__.copy()
        for name in _TABLES:
            state[name] = _ipc(state[name])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name in _TABLES:
            state[name] = pa.ipc.open_stream(state[name]).read_all()
        self.__dict__.update(state)

    def skip(self, reason: str, example: Any, count: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + count
        kept = self.examples.setdefault(reason, [])
        if len(kept) < EXAMPLES:
            kept.append(f"{self.name}: {str(example)[:120]}")


_TABLES = ("tracks", "artists", "albums")


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def table(rows: list[tuple], schema: pa.Schema) -> pa.Table:
    """A table of `schema` from row tuples."""
    columns = list(zip(*rows, strict=True)) or [()] * len(schema)
    return pa.Table.from_arrays(
        [pa.array(column, type=f.type) for column, f in zip(columns, schema, strict=True)],
        schema=schema,
    )


def playlist_key(pid: int) -> str:
    """`mpd:` and the pid, zero-padded to 7 digits so that keys sort in pid order: each
    slice then appends to the end of playlist_track's primary key instead of inserting
    all over it (with "mpd:2" > "mpd:10" the load slowed down as the table grew)."""
    return f"mpd:{pid:07d}" if pid >= 0 else f"mpd:{pid}"


def playlist_row(
    playlist_id: str,
    name: str | None,
    description: str | None,
    followers: int | None,
    modified_at: int | None,
    collaborative: str | bool | None,
) -> tuple:
    """(playlist_id, name, description, num_followers, modified_at, collaborative); the
    MPD writes collaborative as "true" / "false"."""
    if isinstance(collaborative, str):
        collaborative = {"true": True, "false": False}.get(collaborative.lower())
    return (playlist_id, name, description, followers, modified_at, collaborative)


def entry_rows(entries: list[tuple[str, str]]) -> list[tuple[str, int, str]]:
    """(playlist_id, position, track_id) rows from the compact form."""
    return [
        (playlist_id, position, ids[22 * position : 22 * position + 22])
        for playlist_id, ids in entries
        for position in range(len(ids) // 22)
    ]
