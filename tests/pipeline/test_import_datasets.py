"""The three real datasets of ../shared/data imported into SQLite and MariaDB, with exact
counts. Each dataset is imported once per engine (module-scoped), then once more to
show the rerun changes nothing.

The expected numbers were checked independently against the raw files with pandas
(distinct ids, distinct normalised artist names, distinct (artist, genre) pairs) and
agree with ../shared/data/README.md where it gives them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pipeline.importers import ImportReport, TableCounts, import_dataset
from pipeline.importers.reading import SPOTIFY_ID
from sql import catalogue
from sql.database import Database
from sql.schema import album, artist, artist_genre, playlist, track, track_genre
from tests.support.databases import empty_database

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]

TABLES = (
    "artist",
    "album",
    "track",
    "audio_features",
    "artist_track",
    "artist_album",
    "genre",
    "artist_genre",
    "track_genre",
    "playlist",
    "playlist_track",
)
EXPECTED = {
    "seed-csv": {
        "artist": 1_154,
        "album": 967,
        "track": 1_000,
        "audio_features": 1_000,
        "artist_track": 1_261,
        "artist_album": 1_229,
        "genre": 1_114,
        "artist_genre": 3_545,
        "track_genre": 0,
        "playlist": 0,
        "playlist_track": 0,
    },
    "musicoset": {
        "artist": 11_521,  # 11,518 in artists.csv + 3 credited only in songs.csv
        "album": 32_934,
        "track": 20_405,
        "audio_features": 20_405,
        "artist_track": 22_239,
        "artist_album": 26_204,
        "genre": 1_560,
        "artist_genre": 36_256,
        "track_genre": 0,
        "playlist": 0,
        "playlist_track": 0,
    },
    "tidytuesday": {
        "artist": 10_683,  # distinct normalised names, "NA" excluded
        "album": 22_545,
        "track": 28_356,
        "audio_features": 28_356,
        "artist_track": 28_352,  # 4 tracks have "NA" as artist
        "artist_album": 0,
        "genre": 24,
        "artist_genre": 0,  # the playlist subgenre is the track's, not its artist's
        "track_genre": 32_833,  # distinct (track, subgenre) pairs
        "playlist": 471,
        "playlist_track": 32_251,  # distinct (playlist, track) of 32,833 rows
    },
}
ROWS_READ = {"seed-csv": 6_611, "musicoset": 99_255, "tidytuesday": 32_833}
PATHS = {"seed-csv": "seed-sample", "musicoset": "musicoset", "tidytuesday": "tidytuesday"}


class Imported:
    def __init__(self, db: Database, first: ImportReport, again: ImportReport) -> None:
        self.db, self.first, self.again = db, first, again


@pytest.fixture(
    scope="module",
    params=[(e, d) for d in EXPECTED for e in ("sqlite", "mysql")],
    ids=lambda p: f"{p[1]}-{p[0]}",
)
async def imported(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, shared_data: Path
) -> AsyncIterator[Imported]:
    fmt = request.param[1]
    folder = tmp_path_factory.mktemp(fmt)
    db = await empty_database(request, request.param[0], folder / "catalogue.db")
    path = shared_data / PATHS[fmt]
    try:
        first = await import_dataset(db, fmt, path)
        again = await import_dataset(db, fmt, path)
        yield Imported(db, first, again)
    finally:
        await db.dispose()


async def test_exact_counts(imported: Imported, request: pytest.FixtureRequest) -> None:
    fmt = imported.first.format
    async with imported.db.connection() as conn:
        counts = await catalogue.counts(conn, TABLES)
    assert counts == EXPECTED[fmt]
    assert imported.first.rows_read == ROWS_READ[fmt]
    for table in ("artist", "album", "track", "audio_features", "playlist"):
        assert imported.first.tables.get(table, TableCounts()).inserted == EXPECTED[fmt][table]


async def test_rerun_changes_nothing(imported: Imported) -> None:
    fmt = imported.again.format
    async with imported.db.connection() as conn:
        counts = await catalogue.counts(conn, TABLES)
    assert counts == EXPECTED[fmt]
    for name, c in imported.again.tables.items():
        assert (c.inserted, c.updated) == (0, 0), name
    assert imported.again.tables["track"].unchanged == EXPECTED[fmt]["track"]


async def test_dataset_specifics(imported: Imported) -> None:
    fmt = imported.first.format
    check = {"seed-csv": _seed, "musicoset": _musicoset, "tidytuesday": _tidytuesday}[fmt]
    async with imported.db.connection() as conn:
        await check(conn, imported.first)


async def _seed(conn, report: ImportReport) -> None:
    assert report.rows_skipped == 0
    genres = await catalogue.artist_genres(conn, ["4Cy6TrPbVlo9OP1MTSONo9"])
    assert genres == {"4Cy6TrPbVlo9OP1MTSONo9": ["jawaiian", "pacific islands pop"]}
    with_genre = await conn.scalar(select(func.count(func.distinct(artist_genre.c.artist_id))))
    assert with_genre == 1_054  # the other 100 artists are "[]" (unclassified)
    # The all-zero track popularity is a placeholder: stored as unknown.
    assert await conn.scalar(select(func.count()).where(track.c.popularity.is_not(None))) == 0
    assert await conn.scalar(select(func.count()).where(album.c.popularity.is_not(None))) == 967
    mercy = await catalogue.get_tracks(conn, ["000VZqvXwT0YNqKk7iG2GS"])
    assert mercy["000VZqvXwT0YNqKk7iG2GS"]["name"] == "Mercy"


async def _musicoset(conn, report: ImportReport) -> None:
    assert dict(report.skipped) == {
        "releases.csv: release of an artist not in the dataset (album kept)": 318
    }
    with_genre = await conn.scalar(select(func.count(func.distinct(artist_genre.c.artist_id))))
    assert with_genre == 8_370  # ../shared/data/README.md
    ariana = await catalogue.get_artists(conn, ["66CXWjxzNUsdJxJ2JdwvnR"])
    assert ariana["66CXWjxzNUsdJxJ2JdwvnR"]["followers"] == 34_554_242
    credits = await catalogue.track_artists(conn, ["3T6Lsd2qR4nk92hwxJ5sBW"])
    assert [a["name"] for a in credits["3T6Lsd2qR4nk92hwxJ5sBW"]][:2] == [
        "Mitchell Ayres & His Orchestra",
        "Perry Como",
    ]
    quoted = await conn.scalar(
        select(artist.c.name).where(artist.c.artist_id == "6DVipHzYsPlIoA0DW8Gmns")
    )
    assert quoted == "Royce Da 5'9\""


async def _tidytuesday(conn, report: ImportReport) -> None:
    assert report.rows_skipped == 0
    keyed = await conn.scalar(select(func.count()).where(artist.c.name_keyed.is_(True)))
    assert keyed == 10_683
    ids = list((await conn.execute(select(artist.c.artist_id))).scalars())
    assert not any(SPOTIFY_ID.fullmatch(i) for i in ids)
    sources = set((await conn.execute(select(track_genre.c.source))).scalars())
    assert sources == {"playlist-subgenre"}
    with_genre = await conn.scalar(select(func.count(func.distinct(track_genre.c.track_id))))
    assert with_genre == 28_356  # every track sits in a playlist with a subgenre
    in_decade = await conn.scalar(
        select(func.count())
        .select_from(track.join(album))
        .where(album.c.release_year.between(2010, 2019))
    )
    assert in_decade == 19_834  # ../shared/data/README.md
    nameless = await conn.scalar(select(func.count()).where(track.c.name == ""))
    assert nameless == 4  # the 5 "NA" rows hold 4 distinct tracks
    genres = set((await conn.execute(select(playlist.c.genre))).scalars())
    assert genres == {"edm", "latin", "pop", "r&b", "rap", "rock"}
