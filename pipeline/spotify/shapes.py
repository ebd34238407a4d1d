"""Spotify objects → catalogue rows. Every field may be missing (development-mode apps
get no popularity, followers or label); a missing field is None, and the catalogue's
merge rule keeps what was known."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sql.schema import FEATURE_COLUMNS

SOURCE = "spotify"
Row = dict[str, Any]


@dataclass
class Rows:
    """Everything a batch of Spotify objects adds to the catalogue."""

    artists: dict[str, Row] = field(default_factory=dict)
    albums: dict[str, Row] = field(default_factory=dict)
    tracks: dict[str, Row] = field(default_factory=dict)
    artist_tracks: list[Row] = field(default_factory=list)
    artist_albums: list[Row] = field(default_factory=list)
    genres: list[Row] = field(default_factory=list)
    features: list[Row] = field(default_factory=list)

    def merge_artist(self, row: Row) -> None:
        """A full artist wins over the id+name stub a track carries."""
        known = self.artists.get(row["artist_id"])
        self.artists[row["artist_id"]] = (
            {**known, **{k: v for k, v in row.items() if v is not None}} if known else row
        )

    def merge_album(self, row: Row) -> None:
        known = self.albums.get(row["album_id"])
        self.albums[row["album_id"]] = (
            {**known, **{k: v for k, v in row.items() if v is not None}} if known else row
        )


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _str(value: Any, limit: int = 512) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def image_url(images: Any) -> str | None:
    """The largest image's address."""
    if not isinstance(images, list):
        return None
    usable = [i for i in images if isinstance(i, dict) and isinstance(i.get("url"), str)]
    if not usable:
        return None
    best = max(usable, key=lambda i: (_int(i.get("width")) or 0) * (_int(i.get("height")) or 0))
    return best["url"][:512]


def artist_stub(obj: dict) -> Row | None:
    if not isinstance(obj, dict) or not _str(obj.get("id"), 64) or not _str(obj.get("name")):
        return None
    return {"artist_id": obj["id"], "name": obj["name"], "source": SOURCE}


def artist_row(obj: dict) -> Row:
    followers = obj.get("followers")
    return {
        "artist_id": obj["id"],
        "name": _str(obj.get("name")) or obj["id"],
        "popularity": _int(obj.get("popularity")),
        "followers": _int(followers.get("total")) if isinstance(followers, dict) else None,
        "image_url": image_url(obj.get("images")),
        "source": SOURCE,
    }


def artist_genres(obj: dict) -> list[Row]:
    genres = obj.get("genres")
    if not isinstance(genres, list):
        return []
    return [
        {"artist_id": obj["id"], "genre": g, "source": SOURCE}
        for g in genres
        if isinstance(g, str) and g.strip()
    ]


def album_row(obj: dict) -> Row:
    precision = obj.get("release_date_precision")
    return {
        "album_id": obj["id"],
        "name": _str(obj.get("name")),
        "album_type": _str(obj.get("album_type"), 32),
        "release_date": _str(obj.get("release_date"), 10),
        "release_date_precision": precision if precision in ("year", "month", "day") else None,
        "popularity": _int(obj.get("popularity")),
        "label": _str(obj.get("label"), 255),
        "image_url": image_url(obj.get("images")),
        "total_tracks": _int(obj.get("total_tracks")),
        "source": SOURCE,
    }


def add_album(rows: Rows, obj: dict) -> None:
    rows.merge_album(album_row(obj))
    for artist in obj.get("artists") or []:
        stub = artist_stub(artist)
        if stub:
            rows.artists.setdefault(stub["artist_id"], stub)
            rows.artist_albums.append({"artist_id": stub["artist_id"], "album_id": obj["id"]})


def add_artist(rows: Rows, obj: dict) -> None:
    rows.merge_artist(artist_row(obj))
    rows.genres.extend(artist_genres(obj))


def add_track(rows: Rows, obj: dict, *, album_id: str | None = None) -> None:
    """A full track (with its album) or an album's simplified track (album_id given)."""
    album = obj.get("album")
    if isinstance(album, dict) and _str(album.get("id"), 64):
        add_album(rows, album)
        album_id = album["id"]
    external = obj.get("external_ids")
    isrc = external.get("isrc") if isinstance(external, dict) else None
    rows.tracks[obj["id"]] = {
        "track_id": obj["id"],
        "name": _str(obj.get("name")) or obj["id"],
        "album_id": album_id,
        "duration_ms": _int(obj.get("duration_ms")),
        "popularity": _int(obj.get("popularity")),
        "explicit": obj.get("explicit") if isinstance(obj.get("explicit"), bool) else None,
        "isrc": _str(isrc, 16),
        "disc_number": _int(obj.get("disc_number")),
        "track_number": _int(obj.get("track_number")),
        "source": SOURCE,
    }
    for position, artist in enumerate(obj.get("artists") or []):
        stub = artist_stub(artist)
        if stub:
            rows.artists.setdefault(stub["artist_id"], stub)
            rows.artist_tracks.append(
                {"artist_id": stub["artist_id"], "track_id": obj["id"], "position": position}
            )


def feature_row(obj: dict, track_id: str, source: str) -> Row | None:
    """An audio-features row; None when the object carries no usable value."""
    row: Row = {"track_id": track_id, "source": source}
    for name in FEATURE_COLUMNS:
        value = obj.get(name)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        row[name] = (
            (int(value) if name in ("key", "mode", "time_signature") else float(value))
            if ok
            else None
        )
    if all(row[name] is None for name in FEATURE_COLUMNS):
        return None
    return row


def is_entity(obj: Any) -> bool:
    """A well-formed Spotify object: a dict with a string id."""
    return isinstance(obj, dict) and isinstance(obj.get("id"), str) and bool(obj["id"])
