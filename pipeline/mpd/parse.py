"""Parsing one MPD slice into compact rows: the work a process pool spreads over cores.

Runs in a worker process, so it imports little and returns plain tuples (cheap to
pickle back). The slice's unique tracks, artists (the primary artist of each entry) and
albums come once each; names are shaped for the database by the writer, and only for
the rows new to the run (a track is in ~15 slices on average).

A file that is not JSON (truncated, empty) comes back with `error` set and no rows;
inside a valid file, bad playlists and entries are skipped and counted.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import orjson

TRACK = "spotify:track:"
ARTIST = "spotify:artist:"
ALBUM = "spotify:album:"
LOCAL = "spotify:local:"
EXAMPLES = 3


class SliceData(msgspec.Struct):
    """One parsed slice; crosses from a worker to the writer as MessagePack (three times
    cheaper than pickling these lists of tuples)."""

    name: str
    size: int
    error: str | None = None
    playlists: list[tuple] = msgspec.field(default_factory=list)  # id, name, description…
    # One (playlist_id, track ids joined) per playlist: the i-th 22 characters are the
    # track at position i. Ten times cheaper to send between processes than row tuples.
    entries: list[tuple[str, str]] = msgspec.field(default_factory=list)
    tracks: list[tuple] = msgspec.field(default_factory=list)  # id, name, album, ms, artist
    artists: list[tuple] = msgspec.field(default_factory=list)  # id, name
    albums: list[tuple] = msgspec.field(default_factory=list)  # id, name
    skipped: dict[str, int] = msgspec.field(default_factory=dict)
    examples: dict[str, list[str]] = msgspec.field(default_factory=dict)
    entries_read: int = 0
    distinct_tracks: int = 0  # in this slice, including those sent with earlier slices
    num_tracks_mismatch: int = 0
    renumbered: int = 0

    def skip(self, reason: str, example: Any, count: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + count
        kept = self.examples.setdefault(reason, [])
        if len(kept) < EXAMPLES:
            kept.append(f"{self.name}: {str(example)[:120]}")


def _id(uri: Any, prefix: str) -> str | None:
    """The bare id of a `spotify:<kind>:<id>` URI, or None when it is not one."""
    if isinstance(uri, str) and uri.startswith(prefix):
        bare = uri[len(prefix) :]
        if len(bare) == 22 and bare.isascii() and bare.isalnum():
            return bare
    return None


def playlist_key(pid: int) -> str:
    """`mpd:` and the pid, zero-padded to 7 digits so that keys sort in pid order: each
    slice then appends to the end of playlist_track's primary key instead of inserting
    all over it (with "mpd:2" > "mpd:10" the load slowed down as the table grew)."""
    return f"mpd:{pid:07d}" if pid >= 0 else f"mpd:{pid}"


def entry_rows(entries: list[tuple[str, str]]) -> list[tuple[str, int, str]]:
    """(playlist_id, position, track_id) rows from the compact form."""
    return [
        (playlist_id, position, ids[22 * position : 22 * position + 22])
        for playlist_id, ids in entries
        for position in range(len(ids) // 22)
    ]


class Entry(msgspec.Struct, gc=False):
    """A playlist entry; fields the ingest does not use are skipped by the decoder."""

    track_uri: str | None = None
    track_name: str | None = None
    artist_uri: str | None = None
    artist_name: str | None = None
    album_uri: str | None = None
    album_name: str | None = None
    duration_ms: int | None = None
    pos: int | None = None


class Playlist(msgspec.Struct, gc=False):
    pid: int
    tracks: list[Entry]
    name: str | None = None
    description: str | None = None
    num_tracks: int | None = None
    num_followers: int | None = None
    modified_at: int | None = None
    collaborative: str | bool | None = None


class Slice(msgspec.Struct, gc=False):
    playlists: list[Playlist]


_DECODER = msgspec.json.Decoder(Slice)


class Keys:
    """A growing set of 22-character ids, for a whole slice's worth at a time: sorted
    64-bit hashes with the ids beside them, so a membership test or an insert is a few
    numpy calls (a Python set of a few hundred thousand strings costs a cache miss per
    lookup). Exact: a hit counts only if the whole id matches, and should two different
    ids ever share a hash, the set switches to plain Python bytes."""

    def __init__(self) -> None:
        self.hashes = np.zeros(0, np.uint64)
        self.words = np.zeros((0, 3), np.uint64)
        self.exact: set[bytes] | None = None

    def __len__(self) -> int:
        return len(self.exact) if self.exact is not None else len(self.hashes)

    def fresh(self, words: np.ndarray, hashes: np.ndarray) -> np.ndarray:
        """Mask of the rows not in the set (rows: `_words` of distinct ids)."""
        if self.exact is not None:
            return np.array([w.tobytes() not in self.exact for w in words], dtype=bool)
        if not len(self.hashes):
            return np.ones(len(hashes), dtype=bool)
        at = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
        held = (self.hashes[at] == hashes) & (self.words[at] == words).all(axis=1)
        return ~held

    def add(self, words: np.ndarray, hashes: np.ndarray) -> None:
        """Add distinct ids not in the set yet."""
        if self.exact is None:
            order = np.argsort(hashes)
            hashes, words = hashes[order], words[order]
            at = np.searchsorted(self.hashes, hashes)
            clash = (hashes[1:] == hashes[:-1]).any() or (
                len(self.hashes)
                and (self.hashes[np.minimum(at, len(self.hashes) - 1)] == hashes).any()
            )
            if not clash:
                self.hashes = np.insert(self.hashes, at, hashes)
                self.words = np.insert(self.words, at, words, axis=0)
                return
            self.exact = {w.tobytes() for w in self.words}
        self.exact.update(w.tobytes() for w in words)

    def fresh_ids(self, ids: list[str]) -> list[bool]:
        words, hashes = _words(_id_bytes(ids))
        return self.fresh(words, hashes).tolist()

    def add_ids(self, ids: list[str]) -> None:
        self.add(*_words(_id_bytes(ids)))


@dataclass
class Sent:
    """Ids a worker already returned with an earlier slice of this run (not sent again:
    a popular track is in hundreds of slices; the writer keeps the first it gets)."""

    tracks: Keys = field(default_factory=Keys)
    artists: Keys = field(default_factory=Keys)
    albums: Keys = field(default_factory=Keys)


_WORKER_SENT: Sent | None = None


def start_worker() -> None:
    """Process-pool initializer: a fresh memory of what this worker has sent."""
    global _WORKER_SENT
    _WORKER_SENT = Sent()


_TO_WRITER = msgspec.msgpack.Encoder()
_FROM_WORKER = msgspec.msgpack.Decoder(SliceData)


def worker_parse(path: str, with_playlists: bool, export_dir: str | None) -> bytes:
    """`parse_slice` in a pool worker, as MessagePack for `received`; a worker does not
    resend what it already sent (unless exporting: each extracted file is complete)."""
    sent = None if export_dir else _WORKER_SENT
    gc.disable()  # millions of short-lived objects, no cycles: collections only cost time
    try:
        data = parse_slice(path, with_playlists=with_playlists, export_dir=export_dir, sent=sent)
        return _TO_WRITER.encode(data)
    finally:
        gc.enable()


def received(payload: bytes) -> SliceData:
    """A worker's parsed slice, back in the writing process."""
    return _FROM_WORKER.decode(payload)


def parse_slice(
    path: str,
    *,
    with_playlists: bool = True,
    export_dir: str | None = None,
    sent: Sent | None = None,
) -> SliceData:
    """Read one `mpd.slice.*.json`; never raises for bad content (see `error`).

    The typed decoder builds only the fields used, straight into small structs (three
    times faster than generic JSON parsing); a file it refuses because some value has
    an unexpected type goes through the tolerant path, which skips just the bad
    playlists and entries.
    """
    file = Path(path)
    data = SliceData(name=file.name, size=0)
    try:
        raw = file.read_bytes()
    except OSError as error:
        data.error = f"cannot read: {error.strerror or error}"
        return data
    data.size = len(raw)
    try:
        playlists = _DECODER.decode(raw).playlists
    except msgspec.ValidationError:
        playlists = _tolerant(raw, data)
    except msgspec.DecodeError as error:
        data.error = f"not valid JSON (truncated or corrupt?): {error}"
        return data
    if playlists is None:
        return data
    extracted: dict[str, dict] | None = {} if export_dir else None
    if extracted is not None or not _columnar(playlists, data, with_playlists, sent):
        _extract(playlists, data, with_playlists, extracted, sent)
    if export_dir:
        target = Path(export_dir) / f"extracted.{file.name}"
        target.write_bytes(orjson.dumps(extracted))
    return data


def _tolerant(raw: bytes, data: SliceData) -> list[Playlist] | None:
    """Playlists of a slice with odd values: each bad playlist or entry skipped alone."""
    doc = orjson.loads(raw)
    found = doc.get("playlists") if isinstance(doc, dict) else None
    if not isinstance(found, list):
        data.error = 'not an MPD slice: no "playlists" list'
        return None
    playlists = []
    for index, item in enumerate(found):
        if not isinstance(item, dict) or not isinstance(item.get("tracks"), list):
            data.skip("playlist without a pid or a track list", f"playlist #{index}")
            continue
        entries = []
        for entry in item["tracks"]:
            try:
                entries.append(msgspec.convert(entry, Entry))
            except msgspec.ValidationError as error:
                data.entries_read += 1
                data.skip("malformed entry", error)
        try:
            playlist = msgspec.convert({**item, "tracks": []}, Playlist)
        except msgspec.ValidationError as error:
            data.entries_read += len(item["tracks"])
            data.skip("playlist without a pid or a track list", error)
            continue
        playlist.tracks = entries
        playlists.append(playlist)
    return playlists


def _extract(
    playlists: list[Playlist],
    data: SliceData,
    with_playlists: bool,
    extracted: dict | None,
    sent: Sent | None,
) -> None:
    """Entries, and each track once, with work per distinct URI rather than per entry.

    Half the entries of a slice repeat a track: the per-entry work is list and dict
    comprehensions (C speed); validation, names and ids are done once per distinct URI.
    """
    every = [item for playlist in playlists for item in playlist.tracks]
    first = {item.track_uri: item for item in reversed(every)}  # earliest entry wins
    ids = _ids(first, TRACK)
    bad = {uri for uri in first if uri not in ids}
    data.distinct_tracks = len(ids)
    for playlist in playlists:
        _playlist(playlist, data, with_playlists, bad)
    new = [(ids[u], e) for u, e in first.items() if u in ids]
    new.reverse()  # file order
    if sent is not None and new:
        keep = sent.tracks.fresh_ids([t for t, _ in new])
        new = [item for item, fresh in zip(new, keep, strict=True) if fresh]
    artist_names = {e.artist_uri: e.artist_name for _, e in reversed(new)}
    artist_of = _ids({u: n for u, n in artist_names.items() if n}, ARTIST)  # needs a name
    data.artists = _rows(artist_of, artist_names, sent.artists if sent else None)
    album_names = {e.album_uri: e.album_name for _, e in reversed(new)}
    album_of = _ids(album_names, ALBUM)
    data.albums = _rows(album_of, album_names, sent.albums if sent else None)
    data.tracks = [
        (
            t,
            e.track_name or "",
            album_of.get(e.album_uri),
            e.duration_ms,
            artist_of.get(e.artist_uri),
        )
        for t, e in new
    ]
    without = sum(1 for row in data.tracks if row[4] is None)
    if without:
        data.skip("track kept without artist (bad artist URI or name)", "", without)
    if sent is not None:
        for keys, rows in (
            (sent.tracks, data.tracks),
            (sent.artists, data.artists),
            (sent.albums, data.albums),
        ):
            if rows:
                keys.add_ids([row[0] for row in rows])
    if extracted is not None:
        for t, e in new:
            extracted[t] = {
                "track_name": e.track_name,
                "artist_name": e.artist_name,
                "artist_uri": artist_of.get(e.artist_uri),
                "album_name": e.album_name,
                "album_uri": album_of.get(e.album_uri),
            }


# The columnar path: a slice whose URIs are all well formed (every real MPD slice) is
# handled with a few passes over flat lists and numpy arrays, no per-entry Python work
# beyond pulling each field out once. Anything odd (a local file, a short id, a missing
# name) sends the whole slice through `_extract`, which handles each case; both give the
# same rows.

_ALNUM = np.zeros(256, dtype=bool)
_ALNUM[
    np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8)
] = True
_SEP = "|"  # in neither a prefix nor an id: see `_bulk_ids`
_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F))


def _bulk_ids(uris: list, prefix: str) -> np.ndarray | None:
    """The bare ids as an (n, 22) byte array when every item is `prefix` + 22 base62
    characters, else None. One join and three array comparisons: joined with a
    separator that neither part can hold, the separators land exactly on the row ends
    only if every item has exactly the right length."""
    try:
        joined = _SEP.join(uris) + _SEP
    except TypeError:  # a missing URI
        return None
    size = len(prefix) + 23
    if len(joined) != size * len(uris) or not joined.isascii():
        return None
    rows = np.frombuffer(joined.encode("ascii"), np.uint8).reshape(len(uris), size)
    head = np.frombuffer(prefix.encode("ascii"), np.uint8)
    ids = rows[:, len(head) : size - 1]
    if not (
        (rows[:, : len(head)] == head).all()
        and (rows[:, -1] == ord(_SEP)).all()
        and _ALNUM[ids].all()
    ):
        return None
    return np.ascontiguousarray(ids)


def _strings(ids: np.ndarray) -> list[str]:
    """Python strings of (n, 22) id bytes (widened to UCS-4: numpy makes them in C)."""
    return ids.astype(np.uint32).view("U22").ravel().tolist()


def _id_bytes(ids: list[str]) -> np.ndarray:
    """(n, 22) bytes of validated 22-character ASCII ids."""
    return np.frombuffer("".join(ids).encode("ascii"), np.uint8).reshape(len(ids), 22)


def _words(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, 22) id bytes as three 64-bit words each (zero-padded), and a 64-bit hash."""
    padded = np.zeros((len(ids), 24), np.uint8)
    padded[:, :22] = ids
    words = padded.view(np.uint64)
    return words, (words[:, 0] * _MIX[0]) ^ (words[:, 1] * _MIX[1]) ^ words[:, 2]


def _first_of(words: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """Indices of the first occurrence of each distinct id, in file order.

    Rows are grouped by hash with one sort; each group's earliest row is its minimum
    index. Every row is then compared with its group's first row in full, and a hash
    collision (never seen, but possible) falls back to exact sorting of the words.
    """
    n = len(hashes)
    if n == 0:
        return np.zeros(0, dtype=np.intp)
    order = np.argsort(hashes)
    ordered = hashes[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    leader = np.minimum.reduceat(order, starts)
    group = np.repeat(leader, np.diff(np.append(starts, n)))
    if not (words[order] == words[group]).all():
        _, leader = np.unique(words, axis=0, return_index=True)
    return np.sort(leader)


def _columnar(
    playlists: list[Playlist], data: SliceData, with_playlists: bool, sent: Sent | None
) -> bool:
    """Fill `data` from a slice whose URIs and names are all well formed; False (and
    `data` untouched) when something needs `_extract`'s case-by-case handling."""
    every = [item for playlist in playlists for item in playlist.tracks]
    track_bytes = _bulk_ids([item.track_uri for item in every], TRACK)
    if track_bytes is None:
        return False
    track_words, track_hashes = _words(track_bytes)
    first = _first_of(track_words, track_hashes)
    distinct = len(first)
    if sent is not None:
        first = first[sent.tracks.fresh(track_words[first], track_hashes[first])]
    new = [every[i] for i in first.tolist()]
    artist_bytes = _bulk_ids([item.artist_uri for item in new], ARTIST)
    album_bytes = _bulk_ids([item.album_uri for item in new], ALBUM)
    if artist_bytes is None or album_bytes is None:
        return False
    artist_names = [item.artist_name for item in new]
    artist_words, artist_hashes = _words(artist_bytes)
    artist_first = _first_of(artist_words, artist_hashes)
    if not all([artist_names[i] for i in artist_first.tolist()]):  # an artist needs a name
        return False
    album_words, album_hashes = _words(album_bytes)
    album_first = _first_of(album_words, album_hashes)
    if sent is not None:
        artist_first = artist_first[
            sent.artists.fresh(artist_words[artist_first], artist_hashes[artist_first])
        ]
        album_first = album_first[
            sent.albums.fresh(album_words[album_first], album_hashes[album_first])
        ]
    artist_ids = _strings(artist_bytes)
    album_ids = _strings(album_bytes)
    data.distinct_tracks = distinct
    data.tracks = list(
        zip(
            _strings(track_bytes[first]),
            [item.track_name or "" for item in new],
            album_ids,
            [item.duration_ms for item in new],
            artist_ids,
            strict=True,
        )
    )
    data.artists = [(artist_ids[i], artist_names[i]) for i in artist_first.tolist()]
    data.albums = [(album_ids[i], new[i].album_name) for i in album_first.tolist()]
    if sent is not None:
        sent.tracks.add(track_words[first], track_hashes[first])
        sent.artists.add(artist_words[artist_first], artist_hashes[artist_first])
        sent.albums.add(album_words[album_first], album_hashes[album_first])
    _columnar_playlists(playlists, every, track_bytes, data, with_playlists)
    return True


def _columnar_playlists(
    playlists: list[Playlist],
    every: list[Entry],
    track_bytes: np.ndarray,
    data: SliceData,
    with_playlists: bool,
) -> None:
    data.entries_read += len(every)
    positions = [item.pos for item in every]
    joined = track_bytes.tobytes().decode("ascii") if with_playlists else ""
    start = 0
    for playlist in playlists:
        count = len(playlist.tracks)
        end = start + count
        if playlist.num_tracks != count:
            data.num_tracks_mismatch += 1
        if positions[start:end] != list(range(count)):
            data.renumbered += 1
        if with_playlists:
            playlist_id = playlist_key(playlist.pid)
            data.entries.append((playlist_id, joined[22 * start : 22 * end]))
            data.playlists.append(_playlist_row(playlist_id, playlist))
        start = end


def _playlist(playlist: Playlist, data: SliceData, with_playlists: bool, bad: set) -> None:
    items = playlist.tracks
    count = len(items)
    data.entries_read += count
    if playlist.num_tracks != count:
        data.num_tracks_mismatch += 1
    uris = [item.track_uri for item in items]
    if bad and not bad.isdisjoint(uris):
        for uri in uris:
            if uri in bad:
                reason = (
                    "local file entry (no Spotify id)"
                    if isinstance(uri, str) and uri.startswith(LOCAL)
                    else "entry without a Spotify track URI"
                )
                data.skip(reason, uri)
        uris = [uri for uri in uris if uri not in bad]
        data.renumbered += 1
    elif [item.pos for item in items] != list(range(count)):
        data.renumbered += 1
    if with_playlists:
        playlist_id = playlist_key(playlist.pid)
        data.entries.append((playlist_id, "".join([uri[14:] for uri in uris])))
        data.playlists.append(_playlist_row(playlist_id, playlist))


def _ids(uris: dict | list, prefix: str) -> dict[str, str]:
    """URI -> bare id for the valid `spotify:<kind>:<22 base62>` URIs among `uris`.

    Checked in bulk (one join and one isalnum over all ids), one by one only when the
    bulk check finds something wrong.
    """
    size = len(prefix) + 22
    found = {
        u: u[len(prefix) :]
        for u in uris
        if u.__class__ is str and len(u) == size and u.startswith(prefix)
    }
    joined = "".join(found.values())
    if not (joined.isascii() and joined.isalnum()):
        found = {u: i for u, i in found.items() if i.isascii() and i.isalnum()}
    return found


def _rows(ids: dict[str, str], names: dict, sent: Keys | None) -> list[tuple]:
    """(id, name) rows in first-seen order, leaving out what this worker already sent."""
    rows = [(i, names[u]) for u, i in ids.items()]
    if sent is None or not rows:
        return rows
    keep = sent.fresh_ids([row[0] for row in rows])
    return [row for row, fresh in zip(rows, keep, strict=True) if fresh]


def _playlist_row(playlist_id: str, playlist: Playlist) -> tuple:
    collaborative = playlist.collaborative
    if isinstance(collaborative, str):
        collaborative = {"true": True, "false": False}.get(collaborative.lower())
    return (
        playlist_id,
        playlist.name,
        playlist.description,
        playlist.num_followers,
        playlist.modified_at,
        collaborative,
    )
