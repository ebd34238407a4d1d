"""Importers on small generated files holding every edge case, on SQLite and MariaDB."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.importers import import_dataset
from pipeline.importers.reading import SPOTIFY_ID, WrongFormat, name_key
from sql import catalogue
from sql.database import Database
from sql.errors import TuneclusterError
from sql.schema import (
    album,
    artist,
    audio_features,
    source_file,
    track,
    track_genre,
)
from tests.fixtures.datasets import (
    TIDY_COLUMNS,
    kaggle_edge_file,
    seed_folder,
    tid,
    tidy_row,
    tidytuesday_edge_file,
    write_csv,
)
from tests.support.cli import run_cli, settings_env

TABLES = ["artist", "album", "track", "audio_features", "artist_track", "artist_genre"]
TABLES += ["track_genre"]
TABLES += ["playlist", "playlist_track", "genre", "artist_album"]


async def _counts(db: Database) -> dict[str, int]:
    async with db.connection() as conn:
        return await catalogue.counts(conn, TABLES)


async def test_tidytuesday_edge_cases(db: Database, tmp_path: Path) -> None:
    report = await import_dataset(db, "tidytuesday", tidytuesday_edge_file(tmp_path / "t.csv"))
    assert report.rows_read == 10
    assert dict(report.skipped) == {
        "t.csv: malformed line (26 fields, expected 23)": 1,
        "duplicate row": 1,
        "invalid track id": 1,
    }
    assert report.examples["invalid track id"] == ["row 8: 'not-a-spotify-id'"]
    assert await _counts(db) == {
        "artist": 3,  # "Artist 0" (twice spelled), "Beyoncé", "Artist 2"
        "album": 6,
        "track": 6,  # t0..t4 and the all-"NA" track
        "audio_features": 6,
        "artist_track": 5,  # the NA track has no artist
        "artist_genre": 0,  # the subgenre is the track's (it sits in that playlist)
        "track_genre": 7,  # t0 in two playlists: dance pop and electropop; t6 has no artist
        "playlist": 2,
        "playlist_track": 7,
        "genre": 2,
        "artist_album": 0,
    }
    assert {name: c.inserted for name, c in report.tables.items()}["track"] == 6
    async with db.connection() as conn:
        tracks = await catalogue.get_tracks(conn, [tid("track", i) for i in range(7)])
        artists = (await conn.execute(select(artist))).mappings().all()
        tempo = await conn.scalar(
            select(audio_features.c.tempo).where(audio_features.c.track_id == tid("track", 4))
        )
        year_only = (await catalogue.get_albums(conn, [tid("album", 3)]))[tid("album", 3)]
        genres = await catalogue.own_track_genres(conn, [tid("track", 0), tid("track", 6)])
        sources = set((await conn.execute(select(track_genre.c.source))).scalars())
    names = {k: v["name"] for k, v in tracks.items()}
    assert names[tid("track", 1)] == "Déjà Vu 💃 — مرحبا"
    assert names[tid("track", 2)] == "None"
    assert names[tid("track", 3)] == "null"
    assert names[tid("track", 6)] == ""  # R's NA: kept, name unknown
    assert tid("track", 5) not in tracks
    assert tempo is None  # "fast" is not a number: stored as unknown, row kept
    assert (year_only["release_date"], year_only["release_date_precision"]) == ("2012", "year")
    assert year_only["release_year"] == 2012
    assert genres == {tid("track", 0): ["dance pop", "electropop"], tid("track", 6): ["dance pop"]}
    assert sources == {"playlist-subgenre"}  # "playlist": the evaluation's leakage warning
    for row in artists:
        assert row["name_keyed"] is True
        assert row["artist_id"].startswith("name:") and not SPOTIFY_ID.fullmatch(row["artist_id"])
    assert {r["name"] for r in artists} == {"Artist 0", "Beyoncé", "Artist 2"}


async def test_rerun_is_idempotent_and_counts_updates(db: Database, tmp_path: Path) -> None:
    path = tidytuesday_edge_file(tmp_path / "t.csv")
    await import_dataset(db, "tidytuesday", path)
    before = await _counts(db)
    again = await import_dataset(db, "tidytuesday", path)
    assert await _counts(db) == before
    for name, c in again.tables.items():
        assert (c.inserted, c.updated) == (0, 0), name
    assert again.tables["track"].unchanged == 6
    assert again.tables["playlist_track"].unchanged == 7

    # One changed value and one new row: exactly one update and one insert.
    rows = [tidy_row(0, 0, track_popularity=99), tidy_row(7, 0)]
    changed = write_csv(tmp_path / "changed.csv", TIDY_COLUMNS, rows)
    third = await import_dataset(db, "tidytuesday", changed)
    assert third.tables["track"].inserted == 1
    assert third.tables["track"].updated == 1
    assert third.tables["track"].unchanged == 0


async def test_a_poorer_source_never_erases(db: Database, tmp_path: Path) -> None:
    await import_dataset(db, "tidytuesday", tidytuesday_edge_file(tmp_path / "t.csv"))
    poorer = tidy_row(0, 0, track_popularity="", danceability="NA", track_album_name="NA")
    path = write_csv(tmp_path / "poor.csv", TIDY_COLUMNS, [poorer])
    report = await import_dataset(db, "tidytuesday", path)
    assert report.tables["track"].unchanged == 1
    async with db.connection() as conn:
        stored = await catalogue.get_tracks(conn, [tid("track", 0)])
        features = await catalogue.get_audio_features(conn, [tid("track", 0)])
        albums = await catalogue.get_albums(conn, [tid("album", 0)])
    assert stored[tid("track", 0)]["popularity"] == 40
    assert features[tid("track", 0)]["danceability"] == pytest.approx(0.5)
    assert albums[tid("album", 0)]["name"] == "Album 0"


async def test_kaggle_tracks_edge_cases(db: Database, tmp_path: Path) -> None:
    report = await import_dataset(db, "kaggle-tracks", kaggle_edge_file(tmp_path / "k.csv"))
    assert report.rows_read == 6
    assert dict(report.skipped) == {"invalid track id": 1}
    counts = await _counts(db)
    assert (counts["track"], counts["artist"], counts["album"]) == (4, 3, 3)
    assert (counts["artist_track"], counts["artist_genre"], counts["genre"]) == (4, 0, 2)
    assert counts["track_genre"] == 5  # t0 in two rows (k-pop, dance); t1, t2, t4
    async with db.connection() as conn:
        credits = await catalogue.track_artists(conn, [tid("track", 0)])
        genres = await catalogue.own_track_genres(conn, [tid("track", i) for i in range(5)])
        explicit = await conn.scalar(
            select(track.c.explicit).where(track.c.track_id == tid("track", 1))
        )
        signature = await conn.scalar(
            select(audio_features.c.time_signature).where(
                audio_features.c.track_id == tid("track", 0)
            )
        )
        albums = set((await conn.execute(select(album.c.album_id))).scalars())
    assert [a["name"] for a in credits[tid("track", 0)]] == ["Artist A", "Artist B"]
    assert genres == {
        tid("track", 0): ["dance", "k-pop"],  # each row's genre, for this track only
        tid("track", 1): ["k-pop"],  # Artist B is on t0 too: t0's "dance" stays on t0
        tid("track", 2): ["k-pop"],  # no artist: the genre is still the track's
        tid("track", 4): ["k-pop"],
    }
    assert explicit is True and signature == 4
    # "Album 0" by Artist A and "Album 0" by Artist C are different albums.
    assert name_key("Artist A", "Album 0", kind="album") in albums
    assert name_key("Artist C", "Album 0", kind="album") in albums
    again = await import_dataset(db, "kaggle-tracks", kaggle_edge_file(tmp_path / "k.csv"))
    assert all((c.inserted, c.updated) == (0, 0) for c in again.tables.values())


async def test_seed_csv_edge_cases(db: Database, tmp_path: Path) -> None:
    report = await import_dataset(db, "seed-csv", seed_folder(tmp_path / "seed"))
    assert report.rows_read == 17
    assert report.rows_skipped == 6
    counts = await _counts(db)
    assert (counts["artist"], counts["album"], counts["track"]) == (3, 3, 3)
    assert (counts["audio_features"], counts["artist_track"], counts["artist_genre"]) == (1, 3, 2)
    async with db.connection() as conn:
        artists = await catalogue.get_artists(conn, [tid("artist", i) for i in range(3)])
        genres = await catalogue.artist_genres(conn, [tid("artist", 0)])
        tracks = await catalogue.get_tracks(conn, [tid("track", i) for i in range(3)])
        credits = await catalogue.track_artists(conn, [tid("track", 0)])
    assert artists[tid("artist", 1)]["name"] == "NA"  # a name, not a missing value, here
    assert artists[tid("artist", 2)]["popularity"] is None
    assert genres[tid("artist", 0)] == ["icelandic rock", "post-rock"]
    assert {t["popularity"] for t in tracks.values()} == {None}  # the all-zero placeholder
    assert tracks[tid("track", 1)]["name"] == "None"
    assert [a["artist_id"] for a in credits[tid("track", 0)]] == [
        tid("artist", 0),
        tid("artist", 1),
    ]


async def test_wrong_format_is_refused_in_one_line(db: Database, tmp_path: Path) -> None:
    tidy = tidytuesday_edge_file(tmp_path / "t.csv")
    with pytest.raises(WrongFormat) as refused:
        await import_dataset(db, "kaggle-tracks", tidy)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"{tidy} is not a kaggle-tracks file: missing columns artists,")
    with pytest.raises(WrongFormat, match=r"not a seed-csv folder: missing sample_artist\.csv"):
        await import_dataset(db, "seed-csv", tmp_path)
    commas = tmp_path / "commas"
    commas.mkdir()
    for name in ("artists", "songs", "acoustic_features", "tracks", "releases"):
        (commas / f"{name}.csv").write_text("artist_id,name,genres\nx,y,[]\n")
    with pytest.raises(WrongFormat, match=r"artists\.csv is not a musicoset file: missing columns"):
        await import_dataset(db, "musicoset", commas)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(WrongFormat, match="is not a tidytuesday file"):
        await import_dataset(db, "tidytuesday", empty)
    with pytest.raises(TuneclusterError, match="unknown format 'spotify'"):
        await import_dataset(db, "spotify", tidy)
    assert (await _counts(db))["track"] == 0


async def test_import_records_its_files(db: Database, tmp_path: Path) -> None:
    path = tidytuesday_edge_file(tmp_path / "t.csv")
    await import_dataset(db, "tidytuesday", path)
    async with db.connection() as conn:
        rows = (await conn.execute(select(source_file))).mappings().all()
    assert [(r["kind"], r["status"], r["rows_read"]) for r in rows] == [("tidytuesday", "done", 10)]
    assert rows[0]["name"] == f"tidytuesday:{path.resolve()}"
    assert rows[0]["size_bytes"] == path.stat().st_size


def test_cli_import_reports_and_refuses(tmp_path: Path, sqlite_url: str) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, env=settings_env(database_url=sqlite_url), cwd=tmp_path)

    assert cli("db", "init").returncode == 0
    path = tidytuesday_edge_file(tmp_path / "t.csv")
    done = cli("import", "tidytuesday", str(path), "--json")
    assert done.returncode == 0, done.stderr
    assert '"rows_read": 10' in done.stdout
    refused = cli("import", "seed-csv", str(tmp_path / "nowhere"))
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nowhere'}: no such file or folder"
    ]


async def test_a_field_over_128_kib_skips_its_row_counted(db: Database, tmp_path: Path) -> None:
    """csv's own field limit used to drop such a row without counting it."""
    rows = [tidy_row(0, 0), tidy_row(1, 0, track_name="x" * (140 * 1024)), tidy_row(2, 0)]
    path = write_csv(tmp_path / "big.csv", TIDY_COLUMNS, rows)
    report = await import_dataset(db, "tidytuesday", path)
    assert report.rows_read == 3
    assert dict(report.skipped) == {"big.csv: a field longer than 128 KiB": 1}
    assert report.tables["track"].inserted == 2  # read = imported + skipped
