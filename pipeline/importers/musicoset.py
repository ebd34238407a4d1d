"""MusicOSet (Silva, Rocha & Moro, 2019): Billboard-charting songs with Spotify ids.

Tab-separated files despite the `.csv` names, never quoted; "-" marks a missing value.
- `artists.csv`: artists with followers, popularity, image and their Spotify genres
  (stored with source `musicoset`; `main_genre` is one of them; `artist_type` has no
  column in the schema and is not kept).
- `songs.csv`: tracks (name, popularity, explicit) with an `{artist_id: name}` dict in
  credit order; `billboard` and `song_type` have no column and are not kept.
- `acoustic_features.csv`: audio features and the duration.
- `tracks.csv`: each song's album, track number and album release date.
- `releases.csv`: albums with release dates, and artist-album links.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.importers.reading import (
    as_bool,
    as_int,
    feature_values,
    genre_list,
    is_spotify_id,
    named_rows,
    numbers,
    python_literal,
    read_folder,
    release_date,
    rows_with_id,
    unique_rows,
    valid_id,
)
from pipeline.importers.report import ImportReport
from pipeline.importers.writing import CatalogueBatch
from sql.schema import FEATURE_COLUMNS

FORMAT = "musicoset"
SOURCE = "musicoset"
FEATURES = FEATURE_COLUMNS
FILES = {
    "artists.csv": (
        "artist_id",
        "name",
        "followers",
        "popularity",
        "main_genre",
        "genres",
        "image_url",
    ),
    "songs.csv": ("song_id", "song_name", "artists", "popularity", "explicit"),
    "acoustic_features.csv": ("song_id", "duration_ms", *FEATURES),
    "tracks.csv": ("song_id", "album_id", "track_number", "release_date", "release_date_precision"),
    "releases.csv": ("artist_id", "album_id", "release_date", "release_date_precision"),
}


def _text(value: str) -> str | None:
    value = value.strip()
    return None if value in ("", "-") else value


def parse(path: Path, report: ImportReport) -> CatalogueBatch:
    frames = read_folder(path, FILES, FORMAT, report, sep="\t", quoted=False)
    batch = CatalogueBatch()
    _artists(frames["artists.csv"], batch, report)
    _songs(frames["songs.csv"], batch, report)
    _features(frames["acoustic_features.csv"], batch, report)
    _releases(frames["releases.csv"], batch, report)
    _tracks(frames["tracks.csv"], batch, report)
    report.note("artists.artist_type, songs.billboard and songs.song_type have no column: not kept")
    return batch


def _artists(frame: pd.DataFrame, batch: CatalogueBatch, report: ImportReport) -> None:
    file = "artists.csv"
    values = numbers(frame, ["followers", "popularity"], report, file)
    columns = ("artist_id", "name")
    for i, row, artist_id, name in named_rows(frame, file, columns, "artist", report, _text):
        batch.put(
            "artists",
            artist_id,
            {
                "artist_id": artist_id,
                "name": name,
                "followers": as_int(values["followers"][i]),
                "popularity": as_int(values["popularity"][i]),
                "image_url": _text(row.image_url),
                "source": SOURCE,
            },
        )
        genres = genre_list(row.genres, file, i, report)
        batch.put_genres(artist_id, [*genres, _text(row.main_genre)], SOURCE)


def _songs(frame: pd.DataFrame, batch: CatalogueBatch, report: ImportReport) -> None:
    file = "songs.csv"
    popularity = numbers(frame, ["popularity"], report, file)["popularity"]
    added_artists = 0
    columns = ("song_id", "song_name")
    for i, row, track_id, name in named_rows(frame, file, columns, "song", report, _text):
        credits = python_literal(row.artists, dict)
        if credits is None:
            report.skip(
                f"{file}: artists not a dict (song kept without artists)",
                f"row {i + 1}: {row.artists[:60]!r}",
            )
            credits = {}
        batch.put(
            "tracks",
            track_id,
            {
                "track_id": track_id,
                "name": name,
                "popularity": as_int(popularity[i]),
                "explicit": as_bool(row.explicit),
                "source": SOURCE,
            },
        )
        added_artists += _credits(track_id, credits, batch, report, f"row {i + 1}")
    if added_artists:
        report.note(f"{added_artists} credited artist(s) absent from artists.csv added by name")


def _credits(
    track_id: str, credits: dict, batch: CatalogueBatch, report: ImportReport, where: str
) -> int:
    """The song's credits (artist id → name, in credit order); an artist absent from
    artists.csv is added by name. Returns how many were added."""
    file = "songs.csv"
    added = position = 0
    for artist_id, artist_name in credits.items():
        if not (isinstance(artist_id, str) and is_spotify_id(artist_id)):
            report.skip(f"{file}: invalid artist id in a credit", f"{where}: {artist_id!r}")
            continue
        if artist_id not in batch.artists:
            if not (isinstance(artist_name, str) and artist_name.strip()):
                report.skip(f"{file}: credited artist without a name", artist_id)
                continue
            added += 1
            batch.put(
                "artists",
                artist_id,
                {"artist_id": artist_id, "name": artist_name.strip(), "source": SOURCE},
            )
        batch.credit(artist_id, track_id, position)
        position += 1
    return added


def _features(frame: pd.DataFrame, batch: CatalogueBatch, report: ImportReport) -> None:
    file = "acoustic_features.csv"
    values = numbers(frame, ["duration_ms", *FEATURES], report, file)
    for i, _, track_id in rows_with_id(frame, file, "song_id", "song", report):
        if track_id not in batch.tracks:
            report.skip(f"{file}: features of a song not in songs.csv", track_id)
            continue
        duration = as_int(values["duration_ms"][i])
        batch.put("tracks", track_id, {"track_id": track_id, "duration_ms": duration})
        batch.put_features(track_id, feature_values(values, i, FEATURES), SOURCE)


def _album(album_id: str, row, batch: CatalogueBatch) -> None:
    date, precision = release_date(row.release_date)
    given = _text(row.release_date_precision)
    batch.put(
        "albums",
        album_id,
        {
            "album_id": album_id,
            "release_date": date,
            "release_date_precision": given if date and given else precision,
            "source": SOURCE,
        },
    )


def _releases(frame: pd.DataFrame, batch: CatalogueBatch, report: ImportReport) -> None:
    file = "releases.csv"
    for i, row in unique_rows(frame, file, report):
        album_id = valid_id(row.album_id, "album", file, i, report)
        artist_id = valid_id(row.artist_id, "artist", file, i, report)
        if album_id is None:
            continue
        _album(album_id, row, batch)
        if artist_id is None:
            continue
        if artist_id not in batch.artists:
            report.skip(f"{file}: release of an artist not in the dataset (album kept)", artist_id)
            continue
        batch.put(
            "artist_albums", (artist_id, album_id), {"artist_id": artist_id, "album_id": album_id}
        )


def _tracks(frame: pd.DataFrame, batch: CatalogueBatch, report: ImportReport) -> None:
    file = "tracks.csv"
    numbers_ = numbers(frame, ["track_number"], report, file)["track_number"]
    for i, row in unique_rows(frame, file, report):
        track_id = valid_id(row.song_id, "song", file, i, report)
        album_id = valid_id(row.album_id, "album", file, i, report)
        if track_id is None or album_id is None:
            continue
        if track_id not in batch.tracks:
            report.skip(f"{file}: album of a song not in songs.csv", track_id)
            continue
        _album(album_id, row, batch)
        batch.put(
            "tracks",
            track_id,
            {"track_id": track_id, "album_id": album_id, "track_number": as_int(numbers_[i])},
        )
