"""The original project's six CSV exports (`sample_*.csv` in one folder).

Quirks of that export, handled here and reported:
- `sample_track.popularity` is always 0 (a placeholder): when the whole column is 0 it
  is stored as unknown, so it can never erase a real value or fail a popularity floor.
- `sample_album.album_popularity` actually held track popularity; it is stored as the
  album's popularity, which curation uses as the fallback when a track's is unknown.
- `sample_artist_track` has no credit order: file order per track gives the position.
- `sample_audio_features.pseudo_id` is a row counter and is dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.importers.reading import (
    as_int,
    feature_values,
    genre_list,
    is_spotify_id,
    named_rows,
    numbers,
    read_folder,
    release_date,
    rows_with_id,
    unique_rows,
    valid_id,
)
from pipeline.importers.report import ImportReport
from pipeline.importers.writing import CatalogueBatch
from sql.schema import CONTINUOUS_FEATURES

FORMAT = "seed-csv"
SOURCE = "seed-csv"
FEATURES = CONTINUOUS_FEATURES  # the export has no key, mode or time signature
FILES = {
    "sample_artist.csv": ("artist_id", "name", "genres", "popularity"),
    "sample_album.csv": ("album_id", "album_popularity", "release_date"),
    "sample_track.csv": ("track_id", "album_id", "track_name", "duration_ms", "popularity"),
    "sample_audio_features.csv": ("track_id", *FEATURES),
    "sample_artist_track.csv": ("artist_id", "track_id"),
    "sample_artist_album.csv": ("artist_id", "album_id"),
}


def parse(path: Path, report: ImportReport) -> CatalogueBatch:
    frames = read_folder(path, FILES, FORMAT, report, sep=",")
    batch = CatalogueBatch()
    _artists(frames["sample_artist.csv"], batch, report)
    _albums(frames["sample_album.csv"], batch, report)
    _tracks(frames["sample_track.csv"], batch, report)
    _features(frames["sample_audio_features.csv"], batch, report)
    _artist_tracks(frames["sample_artist_track.csv"], batch, report)
    _artist_albums(frames["sample_artist_album.csv"], batch, report)
    report.note("sample_album.album_popularity holds track popularity: stored as album popularity")
    return batch


def _artists(frame: pd.DataFrame, batch: CatalogueBatch, report: ImportReport) -> None:
    file = "sample_artist.csv"
    popularity = numbers(frame, ["popularity"], report, file)["popularity"]
    columns = ("artist_id", "name")
    for i, row, artist_id, name in named_rows(frame, file, columns, "artist", report):
        batch.put(
            "artists",
            artist_id,
            {
                "artist_id": artist_id,
                "name": name,
                "popularity": as_int(popularity[i]),
                "source": SOURCE,
            },
        )
        batch.put_genres(artist_id, genre_list(row.genres, file, i, report), SOURCE)


def _albums(frame: pd.DataFrame, batch: CatalogueBatch, report: ImportReport) -> None:
    file = "sample_album.csv"
    popularity = numbers(frame, ["album_popularity"], report, file)["album_popularity"]
    for i, row, album_id in rows_with_id(frame, file, "album_id", "album", report):
        date, precision = release_date(row.release_date)
        if date is None and row.release_date.strip():
            report.skip(
                f"{file}: unreadable release date (album kept without it)",
                f"row {i + 1}: {row.release_date!r}",
            )
        batch.put(
            "albums",
            album_id,
            {
                "album_id": album_id,
                "release_date": date,
                "release_date_precision": precision,
                "popularity": as_int(popularity[i]),
                "source": SOURCE,
            },
        )


def _tracks(frame: pd.DataFrame, batch: CatalogueBatch, report: ImportReport) -> None:
    file = "sample_track.csv"
    values = numbers(frame, ["duration_ms", "popularity"], report, file)
    known = values["popularity"][~np.isnan(values["popularity"])]
    placeholder = len(known) > 0 and bool((known == 0).all())
    if placeholder:
        report.note(f"{file}: popularity is 0 on every row (a placeholder): stored as unknown")
    duration = values["duration_ms"]
    popularity = values["popularity"]
    columns = ("track_id", "track_name")
    for i, row, track_id, name in named_rows(frame, file, columns, "track", report):
        album_id = row.album_id.strip()
        if not is_spotify_id(album_id):
            if album_id:
                report.skip(
                    f"{file}: invalid album id (track kept without album)",
                    f"row {i + 1}: {album_id!r}",
                )
            album_id = None
        elif album_id not in batch.albums:
            batch.put("albums", album_id, {"album_id": album_id, "source": SOURCE})
        batch.put(
            "tracks",
            track_id,
            {
                "track_id": track_id,
                "name": name,
                "album_id": album_id,
                "duration_ms": as_int(duration[i]),
                "popularity": None if placeholder else as_int(popularity[i]),
                "source": SOURCE,
            },
        )


def _features(frame: pd.DataFrame, batch: CatalogueBatch, report: ImportReport) -> None:
    file = "sample_audio_features.csv"
    values = numbers(frame, FEATURES, report, file)
    report.note(f"{file}: pseudo_id is a row counter and is not stored")
    without_counter = frame.drop(columns=["pseudo_id"], errors="ignore")
    for i, _, track_id in rows_with_id(without_counter, file, "track_id", "track", report):
        if track_id not in batch.tracks:
            report.skip(f"{file}: features of a track not in sample_track.csv", track_id)
            continue
        batch.put_features(track_id, feature_values(values, i, FEATURES), SOURCE)


def _artist_tracks(frame: pd.DataFrame, batch: CatalogueBatch, report: ImportReport) -> None:
    file = "sample_artist_track.csv"
    credits: dict[str, int] = {}
    for artist_id, track_id in _links(frame, "track", batch.tracks, batch, report, file):
        if (artist_id, track_id) in batch.artist_tracks:
            continue
        position = credits.get(track_id, 0)
        credits[track_id] = position + 1
        batch.credit(artist_id, track_id, position)
    report.note(f"{file} has no credit order: file order per track gives the position")


def _artist_albums(frame: pd.DataFrame, batch: CatalogueBatch, report: ImportReport) -> None:
    file = "sample_artist_album.csv"
    for artist_id, album_id in _links(frame, "album", batch.albums, batch, report, file):
        batch.put(
            "artist_albums",
            (artist_id, album_id),
            {"artist_id": artist_id, "album_id": album_id},
        )


def _links(
    frame: pd.DataFrame,
    other: str,
    known: dict,
    batch: CatalogueBatch,
    report: ImportReport,
    file: str,
) -> Iterator[tuple[str, str]]:
    """(artist id, `other` id) of the link rows whose ends are valid ids the export has
    (in `batch.artists` and `known`); the other rows are reported as skipped."""
    for i, row in unique_rows(frame, file, report):
        artist_id = valid_id(row.artist_id, "artist", file, i, report)
        other_id = valid_id(getattr(row, f"{other}_id"), other, file, i, report)
        if artist_id is None or other_id is None:
            continue
        if artist_id not in batch.artists or other_id not in known:
            report.skip(f"{file}: link to an artist or {other} not in the export", f"row {i + 1}")
            continue
        yield artist_id, other_id
