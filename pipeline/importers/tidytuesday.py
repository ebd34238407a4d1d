"""TidyTuesday 2020-01-21 `spotify_songs.csv`: tracks with features, playlists, entries.

One row per (track, playlist); the same playlist may appear under several subgenres.
Artists come as names only: each gets a name key (`reading.name_key`) and
`name_keyed=True`. The playlist subgenre is the file's only genre signal, and a fact
about the track (it sits in a playlist of that subgenre): it is stored in `track_genre`
with source `playlist-subgenre` — which leaks playlist membership into any
playlist-based evaluation, so evaluations must say so. Artist genres of that source
left by earlier versions (which gave it to the track's artist) are removed by the import. The file
was written by R: "NA" marks a missing value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.importers.reading import (
    as_int,
    feature_values,
    is_spotify_id,
    numbers,
    read_table,
    release_date,
    valid_track_rows,
)
from pipeline.importers.report import ImportReport
from pipeline.importers.writing import CatalogueBatch
from sql.catalogue import normalise_genre
from sql.schema import FEATURE_COLUMNS

FORMAT = "tidytuesday"
FILE = "spotify_songs.csv"
SOURCE = "tidytuesday"
GENRE_SOURCE = "playlist-subgenre"
FEATURES = tuple(f for f in FEATURE_COLUMNS if f != "time_signature")  # the file has none
COLUMNS = (
    "track_id",
    "track_name",
    "track_artist",
    "track_popularity",
    "track_album_id",
    "track_album_name",
    "track_album_release_date",
    "playlist_name",
    "playlist_id",
    "playlist_genre",
    "playlist_subgenre",
    *FEATURES,
    "duration_ms",
)


def _text(value: str) -> str | None:
    value = value.strip()
    return None if value in ("", "NA") else value


@dataclass
class _Tally:
    """What the rows were short of, and the playlists' entries so far."""

    missing_name: int = 0
    missing_artist: int = 0
    repeated_entries: int = 0
    positions: dict[str, dict[str, int]] = field(default_factory=dict)  # playlist → track
    subgenres: dict[str, set[str]] = field(default_factory=dict)


def parse(path: Path, report: ImportReport) -> CatalogueBatch:
    file = path / FILE if path.is_dir() else path
    frame = read_table(file, sep=",", required=COLUMNS, fmt=FORMAT, report=report)
    values = numbers(frame, (*FEATURES, "track_popularity", "duration_ms"), report, file.name)
    duplicate = frame.duplicated(subset=list(COLUMNS)).to_numpy()
    batch = CatalogueBatch()
    tally = _Tally()
    batch.supersedes_artist_genres.add(GENRE_SOURCE)
    report.note(
        f"track genres come from playlist subgenres (source '{GENRE_SOURCE}'): they leak "
        "playlist membership into playlist-based evaluation"
    )
    for i, row, track_id in valid_track_rows(frame, duplicate, report):
        subgenre = _track(row, track_id, values, i, batch, tally)
        _entry(row, track_id, subgenre, i, batch, report, tally)
    _notes(report, batch, tally)
    return batch


def _track(
    row: Any,
    track_id: str,
    values: dict[str, np.ndarray],
    i: int,
    batch: CatalogueBatch,
    tally: _Tally,
) -> str:
    """The row's album, track, features, genre and artist; returns its subgenre ('' if none)."""
    name = _text(row.track_name)
    tally.missing_name += name is None
    batch.put(
        "tracks",
        track_id,
        {
            "track_id": track_id,
            "name": name,
            "album_id": _album(row, batch),
            "duration_ms": as_int(values["duration_ms"][i]),
            "popularity": as_int(values["track_popularity"][i]),
            "source": SOURCE,
        },
    )
    features = feature_values(values, i, FEATURES)
    if any(v is not None for v in features.values()):
        batch.put_features(track_id, features, SOURCE)
    subgenre = normalise_genre(row.playlist_subgenre) if _text(row.playlist_subgenre) else ""
    batch.put_track_genres(track_id, [subgenre], GENRE_SOURCE)
    artist_name = _text(row.track_artist)
    tally.missing_artist += not batch.credit_names(
        track_id, [artist_name] if artist_name else [], SOURCE
    )
    return subgenre


def _album(row: Any, batch: CatalogueBatch) -> str | None:
    """The row's album with its release date; None when the album id is not one."""
    album_id = row.track_album_id.strip()
    if not is_spotify_id(album_id):
        return None
    date, precision = release_date(row.track_album_release_date)
    batch.put(
        "albums",
        album_id,
        {
            "album_id": album_id,
            "name": _text(row.track_album_name),
            "release_date": date,
            "release_date_precision": precision,
            "source": SOURCE,
        },
    )
    return album_id


def _entry(
    row: Any,
    track_id: str,
    subgenre: str,
    i: int,
    batch: CatalogueBatch,
    report: ImportReport,
    tally: _Tally,
) -> None:
    """The row's playlist and its entry for the track (once per playlist and track)."""
    playlist_id = row.playlist_id.strip()
    if not is_spotify_id(playlist_id):
        report.skip(
            "invalid playlist id (track kept, playlist entry skipped)",
            f"row {i + 1}: {playlist_id!r}",
        )
        return
    batch.put(
        "playlists",
        playlist_id,
        {
            "playlist_id": playlist_id,
            "name": _text(row.playlist_name),
            "genre": _text(row.playlist_genre),
            "subgenre": subgenre or None,
            "source": SOURCE,
        },
    )
    tally.subgenres.setdefault(playlist_id, set()).add(subgenre)
    entries = tally.positions.setdefault(playlist_id, {})
    if track_id in entries:
        tally.repeated_entries += 1
        return
    entries[track_id] = position = len(entries)
    batch.put(
        "playlist_tracks",
        (playlist_id, position),
        {"playlist_id": playlist_id, "position": position, "track_id": track_id},
    )


def _notes(report: ImportReport, batch: CatalogueBatch, tally: _Tally) -> None:
    # Several subgenres of one playlist make the playlist row differ: not a data conflict.
    batch.conflicts.pop("playlists", None)
    if tally.missing_name:
        report.note(f"{tally.missing_name} row(s) with no track name (NA): track kept, name empty")
    if tally.missing_artist:
        report.note(f"{tally.missing_artist} row(s) with no artist (NA): track kept without artist")
    if tally.repeated_entries:
        report.note(
            f"{tally.repeated_entries} row(s) repeat a (playlist, track) pair under another "
            "subgenre: one playlist entry kept, every subgenre given to the track"
        )
    several = sum(1 for s in tally.subgenres.values() if len(s) > 1)
    if several:
        report.note(
            f"{several} playlist(s) listed under several subgenres: the playlist row keeps "
            "the first"
        )
