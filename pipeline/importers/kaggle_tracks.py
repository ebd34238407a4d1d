"""The Kaggle / Hugging Face "Spotify Tracks Dataset" (`dataset.csv`, ~114k rows).

One row per (track, track_genre); the first column is an unnamed row index; `artists`
are names joined with ';' (no ids). Artists get name keys (`name_keyed=True`, the same
key TidyTuesday gives the same name); the album, known only by name, gets a name key
from its primary artist and its name. `track_genre` (the dataset's search genre, one of
114) is a fact about the track, not its artists: it is stored in `track_genre` with
source `track-genre` (a track in several rows gets each row's genre). Artist genres of
that source left by earlier versions, which gave it to every credited artist, are
removed by the import.
Missing values are empty fields (pandas wrote the file), never "NA".
"""

from __future__ import annotations

from pathlib import Path

from pipeline.importers.reading import (
    as_bool,
    as_int,
    feature_values,
    name_key,
    numbers,
    read_table,
    valid_track_rows,
)
from pipeline.importers.report import ImportReport
from pipeline.importers.writing import CatalogueBatch
from sql.schema import FEATURE_COLUMNS

FORMAT = "kaggle-tracks"
SOURCE = "kaggle-tracks"
GENRE_SOURCE = "track-genre"
FEATURES = FEATURE_COLUMNS
COLUMNS = (
    "track_id",
    "artists",
    "album_name",
    "track_name",
    "popularity",
    "duration_ms",
    "explicit",
    *FEATURES,
    "track_genre",
)


def parse(path: Path, report: ImportReport) -> CatalogueBatch:
    file = path / "dataset.csv" if path.is_dir() else path
    frame = read_table(file, sep=",", required=COLUMNS, fmt=FORMAT, report=report)
    frame = frame[list(COLUMNS)]  # the unnamed row index is not part of the identity
    values = numbers(frame, ("popularity", "duration_ms", *FEATURES), report, file.name)
    batch = CatalogueBatch()
    batch.supersedes_artist_genres.add(GENRE_SOURCE)
    no_artist = 0
    report.note(
        f"track genres come from the dataset's track_genre (source '{GENRE_SOURCE}'), "
        "stored for the track, not its artists"
    )
    for i, row, track_id in valid_track_rows(frame, frame.duplicated().to_numpy(), report):
        names = [n.strip() for n in row.artists.split(";") if n.strip()]
        batch.put(
            "tracks",
            track_id,
            {
                "track_id": track_id,
                "name": row.track_name.strip() or None,
                "album_id": _album(row.album_name, names, batch),
                "duration_ms": as_int(values["duration_ms"][i]),
                "popularity": as_int(values["popularity"][i]),
                "explicit": as_bool(row.explicit),
                "source": SOURCE,
            },
        )
        batch.put_track_genres(track_id, [row.track_genre], GENRE_SOURCE)
        features = feature_values(values, i, FEATURES)
        if any(v is not None for v in features.values()):
            batch.put_features(track_id, features, SOURCE)
        no_artist += not batch.credit_names(track_id, names, SOURCE)
    if no_artist:
        report.note(f"{no_artist} row(s) without artists: track kept without artist")
    return batch


def _album(album_name: str, artists: list[str], batch: CatalogueBatch) -> str | None:
    name = album_name.strip()
    if not name:
        return None
    album_id = name_key(artists[0] if artists else "", name, kind="album")
    batch.put("albums", album_id, {"album_id": album_id, "name": name, "source": SOURCE})
    return album_id
