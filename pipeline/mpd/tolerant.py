"""The tolerant reader: any slice, odd values and all, case by case.

Used for the slices the fast reader (`pipeline.mpd.columnar`) declines. The typed
decoder builds only the fields used, into small structs; when it refuses the file
because some value has the wrong type, the file is decoded generically and each
playlist and entry converted on its own, so a bad one is skipped and counted alone.
Broken JSON (a truncated download) comes back as `error` with no rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import msgspec
import orjson

from pipeline.mpd.slice_data import (
    ALBUM,
    ARTIST,
    INT32,
    LOCAL,
    NAMED,
    TRACK,
    TRACKS,
    SliceData,
    playlist_key,
    playlist_row,
    table,
)

Int32 = Annotated[int, msgspec.Meta(ge=0, lt=INT32)]
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class Entry(msgspec.Struct, gc=False):
    """A playlist entry; `pos` is not read: positions are the order of the list."""

    track_uri: str | None = None
    track_name: str | None = None
    artist_uri: str | None = None
    artist_name: str | None = None
    album_uri: str | None = None
    album_name: str | None = None
    duration_ms: Int32 | None = None


class Playlist(msgspec.Struct, gc=False):
    pid: Int64
    tracks: list[Entry]
    name: str | None = None
    description: str | None = None
    num_tracks: int | None = None
    num_followers: Int32 | None = None
    modified_at: Int64 | None = None
    collaborative: str | bool | None = None


class Slice(msgspec.Struct, gc=False):
    playlists: list[Playlist]


_DECODER = msgspec.json.Decoder(Slice)
_NOT_JSON = "not valid JSON (truncated or corrupt?): {}"


def read_any(
    path: str, data: SliceData, with_playlists: bool, extracted: dict | None = None
) -> None:
    """Fill `data` from any file; never raises for bad content (see `data.error`).
    `extracted`, when given, receives the original project's per-track records."""
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        data.error = f"cannot read: {error.strerror or error}"
        return
    try:
        playlists = _DECODER.decode(raw).playlists
    except msgspec.ValidationError:
        playlists = _one_by_one(raw, data)
    except msgspec.DecodeError as error:
        data.error = _NOT_JSON.format(error)
        return
    if playlists is not None:
        _extract(playlists, data, with_playlists, extracted)


def _one_by_one(raw: bytes, data: SliceData) -> list[Playlist] | None:
    """Playlists of a slice with odd values: each bad playlist or entry skipped alone."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as error:  # e.g. content after the document
        data.error = _NOT_JSON.format(error)
        return None
    found = doc.get("playlists") if isinstance(doc, dict) else None
    if not isinstance(found, list):
        data.error = 'not an MPD slice: no "playlists" list'
        return None
    playlists = []
    for index, item in enumerate(found):
        if not isinstance(item, dict) or not isinstance(item.get("tracks"), list):
            data.skip("playlist without a track list", f"playlist #{index}")
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
            data.skip("malformed playlist (no pid, or a value of the wrong type)", error)
            continue
        playlist.tracks = entries
        playlists.append(playlist)
    return playlists


def _extract(
    playlists: list[Playlist], data: SliceData, with_playlists: bool, extracted: dict | None
) -> None:
    """Entries, and each distinct track once with the values of its first entry."""
    every = [item for playlist in playlists for item in playlist.tracks]
    first = {item.track_uri: item for item in reversed(every)}  # earliest entry wins
    ids = _ids(dict.fromkeys([item.track_uri for item in every]), TRACK)  # file order
    bad = {uri for uri in first if uri not in ids}
    data.distinct_tracks = len(ids)
    for playlist in playlists:
        _playlist(playlist, data, with_playlists, bad)
    new = [(i, first[u]) for u, i in ids.items()]
    artist_names: dict[Any, str | None] = {}
    album_names: dict[Any, str | None] = {}
    for _, e in new:  # each artist and album named by its first track
        artist_names.setdefault(e.artist_uri, e.artist_name)
        album_names.setdefault(e.album_uri, e.album_name)
    artist_of = _ids([u for u, name in artist_names.items() if name], ARTIST)
    album_of = _ids(album_names, ALBUM)
    tracks = [
        (
            t,
            e.track_name or "",
            album_of.get(e.album_uri),
            e.duration_ms,
            artist_of.get(e.artist_uri),
        )
        for t, e in new
    ]
    # A track without a usable artist is kept, not skipped: the writer counts the ones it
    # inserts (MpdReport.tracks_new_without_artist), once each across slices.
    data.tracks = table(tracks, TRACKS)
    data.artists = table([(i, artist_names[u]) for u, i in artist_of.items()], NAMED)
    data.albums = table([(i, album_names[u]) for u, i in album_of.items()], NAMED)
    if extracted is not None:
        for t, e in new:
            extracted[t] = {
                "track_name": e.track_name,
                "artist_name": e.artist_name,
                "artist_uri": artist_of.get(e.artist_uri),
                "album_name": e.album_name,
                "album_uri": album_of.get(e.album_uri),
            }


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
    if with_playlists:
        playlist_id = playlist_key(playlist.pid)
        data.entries.append((playlist_id, "".join([uri[len(TRACK) :] for uri in uris])))
        data.playlists.append(
            playlist_row(
                playlist_id,
                playlist.name,
                playlist.description,
                playlist.num_followers,
                playlist.modified_at,
                playlist.collaborative,
            )
        )


def _ids(uris: Any, prefix: str) -> dict[str, str]:
    """URI -> bare id for the valid `spotify:<kind>:<22 base62>` URIs among `uris`, in
    their order."""
    size = len(prefix) + 22
    return {
        u: u[len(prefix) :]
        for u in uris
        if u.__class__ is str
        and len(u) == size
        and u.startswith(prefix)
        and u[len(prefix) :].isascii()
        and u[len(prefix) :].isalnum()
    }
