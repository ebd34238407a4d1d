"""The fast reader for clean MPD slices: Arrow's JSON reader straight into columns.

A slice holds ~66,000 entries of seven values each. Building a Python object per value
(json, orjson, msgspec alike) and then walking them cost more than everything else
together; Arrow parses the file into typed columns in C++, and deduplication, id
checks and the per-slice tables are a handful of Arrow and numpy calls with no
per-entry Python work. A slice with anything odd (a local file, an id of the wrong
shape, a missing name, a value of the wrong type, broken JSON) is left to the
tolerant reader, which handles each case and gives the same rows for the rest.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from pipeline.mpd.slice_data import (
    ALBUM,
    ARTIST,
    INT32,
    NAMED,
    TRACK,
    TRACKS,
    SliceData,
    playlist_key,
    playlist_row,
)

_ENTRY = pa.struct(
    [
        ("track_uri", pa.string()),
        ("track_name", pa.string()),
        ("artist_uri", pa.string()),
        ("artist_name", pa.string()),
        ("album_uri", pa.string()),
        ("album_name", pa.string()),
        ("duration_ms", pa.int64()),
    ]
)
_PLAYLIST = pa.struct(
    [
        ("pid", pa.int64()),
        ("name", pa.string()),
        ("description", pa.string()),
        ("num_tracks", pa.int64()),
        ("num_followers", pa.int64()),
        ("modified_at", pa.int64()),
        ("collaborative", pa.string()),
        ("tracks", pa.list_(_ENTRY)),
    ]
)
_SCHEMA = pa.schema([("playlists", pa.list_(_PLAYLIST))])
# The MPD is one pretty-printed object per file; other keys ("info") are not read.
_PARSE = pj.ParseOptions(
    explicit_schema=_SCHEMA, newlines_in_values=False, unexpected_field_behavior="ignore"
)
_BASE62 = np.zeros(256, dtype=bool)
_BASE62[
    np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8)
] = True


def read_clean(path: str, data: SliceData, with_playlists: bool) -> bool:
    """Fill `data` from a clean slice; False (and `data` untouched) when the slice
    needs the tolerant reader."""
    playlists = _playlists(path)
    if playlists is None or playlists["pid"].null_count or playlists["tracks"].null_count:
        return False
    entries = playlists["tracks"].flatten()
    uris = _columns(entries)["track_uri"]
    first = _first_positions(uris)
    entry_ids = _bare_ids(uris, TRACK, first)
    if entry_ids is None:
        return False
    distinct = _columns(entries.take(first))
    artist_first = _first_positions(distinct["artist_uri"])
    album_first = _first_positions(distinct["album_uri"])
    artist_ids = _bare_ids(distinct["artist_uri"], ARTIST, artist_first)
    album_ids = _bare_ids(distinct["album_uri"], ALBUM, album_first)
    artist_names = distinct["artist_name"].take(artist_first)
    if (
        artist_ids is None
        or album_ids is None
        or not _named(artist_names)  # an artist needs a name
        or not _in_range(distinct["duration_ms"])
        or not _in_range(playlists["num_followers"])
    ):
        return False
    first_rows, artist_rows, album_rows = (
        positions.to_numpy() for positions in (first, artist_first, album_first)
    )
    data.tracks = pa.Table.from_arrays(
        [
            _strings(entry_ids[first_rows]),
            pc.fill_null(distinct["track_name"], ""),
            _strings(album_ids),
            distinct["duration_ms"],
            _strings(artist_ids),
        ],
        schema=TRACKS,
    )
    data.artists = pa.Table.from_arrays(
        [_strings(artist_ids[artist_rows]), artist_names], schema=NAMED
    )
    data.albums = pa.Table.from_arrays(
        [_strings(album_ids[album_rows]), distinct["album_name"].take(album_first)],
        schema=NAMED,
    )
    data.distinct_tracks = len(first)
    data.entries_read = len(entries)
    _playlist_rows(playlists, entry_ids, data, with_playlists)
    return True


def _columns(structs: pa.StructArray) -> dict[str, pa.Array]:
    """The fields of a struct array by name; a null struct makes its fields null."""
    names = [structs.type.field(i).name for i in range(structs.type.num_fields)]
    return dict(zip(names, structs.flatten(), strict=True))


def _playlists(path: str) -> dict[str, pa.Array] | None:
    """The slice's playlists' fields, or None when Arrow cannot read the
    file as a slice (the tolerant reader then says what is wrong)."""
    try:
        with pa.memory_map(path) as source:
            options = pj.ReadOptions(use_threads=False, block_size=source.size() + 1)
            document = pj.read_json(source, read_options=options, parse_options=_PARSE)
    except (pa.ArrowException, OSError):
        return None
    column = document.column("playlists")
    if document.num_rows != 1 or column.null_count:
        return None
    return _columns(column.combine_chunks().flatten())


def _bare_ids(uris: pa.StringArray, prefix: str, distinct: pa.Array) -> np.ndarray | None:
    """The ids as a contiguous (n, 22) byte array when every URI is `prefix` + 22
    base62 characters, else None. No per-value work: with every value the same length,
    the string data is a plain grid of bytes; the characters are checked on the rows at
    `distinct` (one of each value) only."""
    if uris.null_count:
        return None
    size = len(prefix) + 22
    offsets = np.frombuffer(uris.buffers()[1], np.int32)[uris.offset : uris.offset + len(uris) + 1]
    if len(uris) and not (np.diff(offsets) == size).all():
        return None
    grid = np.frombuffer(uris.buffers()[2] or b"", np.uint8)[offsets[0] : offsets[-1]]
    grid = grid.reshape(len(uris), size)
    checked = grid[distinct.to_numpy()]
    head = np.frombuffer(prefix.encode("ascii"), np.uint8)
    if not ((checked[:, : len(head)] == head).all() and _BASE62[checked[:, len(head) :]].all()):
        return None
    return np.ascontiguousarray(grid[:, len(head) :])


def _strings(ids: np.ndarray) -> pa.StringArray:
    """An Arrow string array over (n, 22) ASCII id bytes, without copying them."""
    ids = np.ascontiguousarray(ids)
    offsets = np.arange(0, ids.size + 1, ids.shape[1], dtype=np.int32)
    return pa.StringArray.from_buffers(len(ids), pa.py_buffer(offsets), pa.py_buffer(ids))


def _first_positions(values: pa.Array) -> pa.Array:
    """Positions of the first occurrence of each distinct value, in order. Dictionary
    codes are handed out in order of first appearance, so a value's first occurrence
    is where its code exceeds every code before it."""
    codes = values.dictionary_encode(null_encoding="encode").indices.to_numpy()
    if not len(codes):
        return pa.array([], pa.int64())
    new = np.empty(len(codes), dtype=bool)
    new[0] = True
    new[1:] = codes[1:] > np.maximum.accumulate(codes)[:-1]
    return pa.array(np.flatnonzero(new))


def _named(names: pa.StringArray) -> bool:
    return not names.null_count and not pc.any(pc.equal(pc.utf8_length(names), 0)).as_py()


def _in_range(values: pa.Int64Array) -> bool:
    """Missing or within the INTEGER column: 0 ≤ value < 2³¹."""
    low, high = pc.min_max(values).values()
    return low.as_py() is None or (low.as_py() >= 0 and high.as_py() < INT32)


def _playlist_rows(
    playlists: dict[str, pa.Array], track_ids: np.ndarray, data: SliceData, with_playlists: bool
) -> None:
    counts = pc.list_value_length(playlists["tracks"]).to_numpy(zero_copy_only=False)
    stated = playlists["num_tracks"].fill_null(-1).to_numpy()
    data.num_tracks_mismatch = int((stated != counts).sum())
    if not with_playlists:
        return
    joined = track_ids.tobytes().decode("ascii")
    ends = np.cumsum(counts).tolist()
    columns = [
        playlists[name].to_pylist()
        for name in ("pid", "name", "description", "num_followers", "modified_at", "collaborative")
    ]
    start = 0
    for end, pid, *rest in zip(ends, *columns, strict=True):
        playlist_id = playlist_key(pid)
        data.entries.append((playlist_id, joined[22 * start : 22 * end]))
        data.playlists.append(playlist_row(playlist_id, *rest))
        start = end
