"""Reads by a Spotify reference: an album's, artist's or playlist's name and tracks.

What the link resolver (`pipeline.resolver`) asks the catalogue before it asks Spotify.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from sql.schema import album, artist, artist_track, playlist, track


async def album_name(conn: AsyncConnection, album_id: str) -> str | None:
    return await conn.scalar(select(album.c.name).where(album.c.album_id == album_id))


async def artist_name(conn: AsyncConnection, artist_id: str) -> str | None:
    return await conn.scalar(select(artist.c.name).where(artist.c.artist_id == artist_id))


async def playlist_name(conn: AsyncConnection, playlist_id: str) -> str | None:
    return await conn.scalar(select(playlist.c.name).where(playlist.c.playlist_id == playlist_id))


async def album_track_ids(conn: AsyncConnection, album_id: str) -> list[str]:
    """An album's catalogue tracks in disc/track order."""
    query = (
        select(track.c.track_id)
        .where(track.c.album_id == album_id)
        .order_by(track.c.disc_number, track.c.track_number, track.c.name_norm, track.c.track_id)
    )
    return list((await conn.execute(query)).scalars())


async def artist_track_ids(conn: AsyncConnection, artist_id: str, limit: int) -> list[str]:
    """An artist's catalogue tracks, most popular first (unknown popularity last)."""
    query = (
        select(track.c.track_id)
        .join(artist_track, artist_track.c.track_id == track.c.track_id)
        .where(artist_track.c.artist_id == artist_id)
        .order_by(track.c.popularity.is_(None), track.c.popularity.desc(), track.c.track_id)
        .limit(max(limit, 1))
    )
    return list((await conn.execute(query)).scalars())
