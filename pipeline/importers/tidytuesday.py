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

from pathlib import Path

from pipeline.importers.reading import (
    as_int,
    feature_values,
    is_spotify_id,
    name_key,
    numbers,
    read_table,
    release_date,
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


def parse(path: Path, report: ImportReport) -> CatalogueBatch:
    file = path / FILE if path.is_dir() else path
    frame = read_table(file, sep=",", required=COLUMNS, fmt=FORMAT, report=report)
    values = numbers(frame, (*FEATURES, "track_popularity", "duration_ms"), report, file.name)
    duplicate = frame.duplicated(subset=list(COLUMNS)).to_numpy()
    batch = CatalogueBatch()
    positions: dict[str, dict[str, int]] = {}
    subgenres: dict[str, set[str]] = {}
    missing_name = missing_artist = repeated_entries = 0
    batch.supersedes_artist_genres.add(GENRE_SOURCE)
    report.note(
        f"track genres come from playlist subgenres (source '{GENRE_SOURCE}'): they leak "
        "playlist membership into playlist-based evaluation"
    )
    for i, row in enumerate(frame.itertuples(index=False)):
        line = i + 1  # data row number (malformed lines are not counted)
        if duplicate[i]:
            report.skip("duplicate row", f"row {line}: {row.track_id}")
            continue
        track_id = row.track_id.strip()
        if not is_spotify_id(track_id):
            report.skip("invalid track id", f"row {line}: {track_id!r}")
            continue
        name = _text(row.track_name)
        missing_name += name is None
        album_id = row.track_album_id.strip()
        if is_spotify_id(album_id):
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
        else:
            album_id = None
        batch.put(
            "tracks",
            track_id,
            {
                "track_id": track_id,
                "name": name,
                "album_id": album_id,
                "duration_ms": as_int(values["duration_ms"][i]),
                "popularity": as_int(values["track_popularity"][i]),
                "source": SOURCE,
            },
        )
        features = feature_values(values, i, FEATURES)
        if any(v is not None for v in features.values()):
            batch.put("features", track_id, {"track_id": track_id, **features, "source": SOURCE})
        artist_name = _text(row.track_artist)
        artist_id = name_key(artist_name) if artist_name else None
        subgenre = normalise_genre(row.playlist_subgenre) if _text(row.playlist_subgenre) else ""
        batch.put_track_genres(track_id, [subgenre], GENRE_SOURCE)
        if artist_id:
            batch.put(
                "artists",
                artist_id,
                {"artist_id": artist_id, "name": artist_name, "name_keyed": True, "source": SOURCE},
            )
            batch.put(
                "artist_tracks",
                (artist_id, track_id),
                {"artist_id": artist_id, "track_id": track_id, "position": 0},
            )
        else:
            missing_artist += 1
        playlist_id = row.playlist_id.strip()
        if not is_spotify_id(playlist_id):
            report.skip(
                "invalid playlist id (track kept, playlist entry skipped)",
                f"row {line}: {playlist_id!r}",
            )
            continue
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
        subgenres.setdefault(playlist_id, set()).add(subgenre)
        entries = positions.setdefault(playlist_id, {})
        if track_id in entries:
            repeated_entries += 1
            continue
        entries[track_id] = len(entries)
        batch.put(
            "playlist_tracks",
            (playlist_id, entries[track_id]),
            {"playlist_id": playlist_id, "position": entries[track_id], "track_id": track_id},
        )
    _notes(report, batch, missing_name, missing_artist, repeated_entries, subgenres)
    return batch


def _notes(
    report: ImportReport,
    batch: CatalogueBatch,
    missing_name: int,
    missing_artist: int,
    repeated_entries: int,
    subgenres: dict[str, set[str]],
) -> None:
    # Several subgenres of one playlist make the playlist row differ: not a data conflict.
    batch.conflicts.pop("playlists", None)
    if missing_name:
        report.note(f"{missing_name} row(s) with no track name (NA): track kept, name empty")
    if missing_artist:
        report.note(f"{missing_artist} row(s) with no artist (NA): track kept without artist")
    if repeated_entries:
        report.note(
            f"{repeated_entries} row(s) repeat a (playlist, track) pair under another "
            "subgenre: one playlist entry kept, every subgenre given to the track"
        )
    several = sum(1 for s in subgenres.values() if len(s) > 1)
    if several:
        report.note(
            f"{several} playlist(s) listed under several subgenres: the playlist row keeps "
            "the first"
        )
