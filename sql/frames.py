"""The catalogue as pandas frames, for curation, EDA, training and offline evaluation.

Each loader streams its query in partitions and builds numpy columns per partition, so
a catalogue of a few million tracks loads without a row of Python dicts per track.
Numbers that may be unknown come back as float64 with NaN (numpy-friendly, and what
scikit-learn and matplotlib expect); ids and names are Python strings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, Select, exists, func, literal, select, union
from sqlalchemy.ext.asyncio import AsyncConnection

from sql.schema import (
    FEATURE_COLUMNS,
    album,
    artist,
    artist_genre,
    artist_track,
    audio_features,
    playlist,
    playlist_track,
    track,
    track_genre,
)

PARTITION = 50_000

# The track query's columns, by their names in the frame: the track's own, then (after
# the primary artist's, which `_artist_credits` reads) its audio features.
_TRACK = (
    ("track_id", track.c.track_id),
    ("name", track.c.name),
    ("album_id", track.c.album_id),
    ("release_year", album.c.release_year),
    ("duration_ms", track.c.duration_ms),
    ("track_popularity", track.c.popularity),
    ("album_popularity", album.c.popularity),
)
_FEATURES = (
    *((name, audio_features.c[name]) for name in FEATURE_COLUMNS),
    ("has_features", audio_features.c.track_id.is_not(None)),
)
_ARTIST = ("artist_popularity", "primary_artist_id", "primary_artist_name")
TRACK_FRAME_COLUMNS = (*(n for n, _ in _TRACK), *_ARTIST, *(n for n, _ in _FEATURES))
NUMERIC_COLUMNS = (
    "release_year",
    "duration_ms",
    "track_popularity",
    "album_popularity",
    *FEATURE_COLUMNS,
)


async def _frame(
    conn: AsyncConnection,
    query: Select,
    columns: Sequence[str],
    numeric: Sequence[str] = (),
) -> pd.DataFrame:
    """Stream `query` and build one frame; `numeric` columns become float64 (NaN = NULL)."""
    parts: list[pd.DataFrame] = []
    result = await conn.stream(query.execution_options(yield_per=PARTITION))
    async for rows in result.partitions(PARTITION):
        # rows are sequences; pandas-stubs' protocol wants __getitem__(SupportsIndex), which
        # the Row stub spells __getitem__(int)
        records = cast(Sequence[tuple[Any, ...]], rows)
        part = pd.DataFrame.from_records(records, columns=list(columns), coerce_float=True)
        for name in numeric:
            part[name] = pd.to_numeric(part[name], errors="coerce").astype(np.float64)
        parts.append(part)
    if not parts:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        for name in numeric:
            empty[name] = empty[name].astype(np.float64)
        return empty
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


async def track_frame(conn: AsyncConnection) -> pd.DataFrame:
    """One row per track, indexed by track id (the index is unnamed; `track_id` is also a
    column, so `frame.loc[id]` and `frame["track_id"]` both work without ambiguity).

    `artist_popularity` is the primary artist's (artist_track.position 0, or the lowest
    position present), or, when that is unknown, the highest among the track's other
    artists. Feature columns are NaN where the track has no audio features;
    `has_features` says whether an audio_features row exists at all.
    """
    read = (*_TRACK, *_FEATURES)
    query = (
        select(*(column for _, column in read))
        .select_from(
            track.outerjoin(album, album.c.album_id == track.c.album_id).outerjoin(
                audio_features, audio_features.c.track_id == track.c.track_id
            )
        )
        .order_by(track.c.track_id)
    )
    columns = [name for name, _ in read]
    frame = await _frame(conn, query, columns, NUMERIC_COLUMNS)
    frame["has_features"] = frame["has_features"].fillna(False).astype(bool)
    artists = await _artist_credits(conn)
    frame = frame.merge(artists, on="track_id", how="left")
    frame["artist_popularity"] = frame["artist_popularity"].astype(np.float64)
    frame = frame[list(TRACK_FRAME_COLUMNS)]
    frame.index = pd.Index(frame["track_id"].to_numpy(), name=None)  # unnamed: no ambiguity
    return frame


async def _artist_credits(conn: AsyncConnection) -> pd.DataFrame:
    """Per track: primary artist id and name, and the artist popularity described above."""
    query = select(
        artist_track.c.track_id,
        artist_track.c.position,
        artist.c.artist_id,
        artist.c.name,
        artist.c.popularity,
    ).join(artist, artist.c.artist_id == artist_track.c.artist_id)
    credits = await _frame(
        conn,
        query,
        ("track_id", "position", "artist_id", "name", "popularity"),
        ("position", "popularity"),
    )
    if credits.empty:
        return pd.DataFrame(
            {
                "track_id": pd.Series(dtype=object),
                "primary_artist_id": pd.Series(dtype=object),
                "primary_artist_name": pd.Series(dtype=object),
                "artist_popularity": pd.Series(dtype=np.float64),
            }
        )
    credits = credits.sort_values(
        ["track_id", "position", "popularity", "artist_id"],
        ascending=[True, True, False, True],
        na_position="last",
        kind="stable",
    )
    primary = credits.drop_duplicates("track_id", keep="first").set_index("track_id")
    best = credits.groupby("track_id", sort=False)["popularity"].max()
    popularity = primary["popularity"].fillna(best.reindex(primary.index))
    return pd.DataFrame(
        {
            "track_id": primary.index.to_numpy(),
            "primary_artist_id": primary["artist_id"].to_numpy(),
            "primary_artist_name": primary["name"].to_numpy(),
            "artist_popularity": popularity.to_numpy(dtype=np.float64),
        }
    )


async def track_genres_frame(
    conn: AsyncConnection, *, with_source: bool = False, with_origin: bool = False
) -> pd.DataFrame:
    """(track_id, genre) pairs, without repeats, by which a track is filed: the genres
    stored for the track itself (`track_genre`) where it has any, else every credited
    artist's genres.

    `with_source=True` adds the genre's source (for example "playlist-subgenre" for
    TidyTuesday's playlist-derived tags, which an evaluation must flag); a pair then
    repeats once per distinct source. `with_origin=True` adds `origin`: "track" or
    "artists", where the pair came from.
    """
    own: list[ColumnElement[Any]] = [track_genre.c.track_id, track_genre.c.genre]
    borrowed: list[ColumnElement[Any]] = [artist_track.c.track_id, artist_genre.c.genre]
    names = ["track_id", "genre"]
    if with_source:
        own.append(track_genre.c.source)
        borrowed.append(artist_genre.c.source)
        names.append("source")
    if with_origin:
        own.append(literal("track").label("origin"))
        borrowed.append(literal("artists").label("origin"))
        names.append("origin")
    has_own = exists().where(track_genre.c.track_id == artist_track.c.track_id)
    by_artists = (
        select(*borrowed)
        .select_from(
            artist_track.join(artist_genre, artist_genre.c.artist_id == artist_track.c.artist_id)
        )
        .where(~has_own)
    )
    both = union(select(*own), by_artists).subquery()  # UNION: without repeats
    query = select(*both.c).order_by(*both.c)
    return await _frame(conn, query, names)


async def playlist_entries_frame(conn: AsyncConnection) -> pd.DataFrame:
    """(playlist_id, track_id, position) rows, in playlist order (offline evaluation)."""
    query = select(
        playlist_track.c.playlist_id, playlist_track.c.track_id, playlist_track.c.position
    ).order_by(playlist_track.c.playlist_id, playlist_track.c.position)
    frame = await _frame(conn, query, ("playlist_id", "track_id", "position"))
    frame["position"] = frame["position"].astype(np.int64)
    return frame


async def playlist_entry_parts(
    conn: AsyncConnection,
) -> AsyncIterator[tuple[np.ndarray, np.ndarray]]:
    """(playlist ids, track ids) in partitions, ordered by playlist and position: what
    the association model learns from, streamed so no frame of every entry is built."""
    query = select(playlist_track.c.playlist_id, playlist_track.c.track_id).order_by(
        playlist_track.c.playlist_id, playlist_track.c.position
    )
    result = await conn.stream(query.execution_options(yield_per=PARTITION))
    async for rows in result.partitions(PARTITION):
        playlists, tracks = zip(*rows, strict=True) if rows else ((), ())
        yield np.asarray(playlists, dtype=object), np.asarray(tracks, dtype=object)


async def playlist_sources(conn: AsyncConnection) -> dict[str, int]:
    """Playlists per source (mpd, tidytuesday…): what an evaluation judged with."""
    query = select(playlist.c.source, func.count()).group_by(playlist.c.source)
    return {str(source): int(n) for source, n in (await conn.execute(query)).all()}
