"""On-demand lookups of what the catalogue lacks: fetched from Spotify (features from
Spotify or ReccoBeats), stored, and returned, so the next ask is served locally.

Errors a member may see are one line: `SpotifyNotConfigured` ("no Spotify credentials:
catalogue-only mode"), `SpotifyCoolingDown` ("Spotify cooling down until …"),
`NotOnSpotify`, and the other `SpotifyError`s.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from pipeline.enrichment import RETRY_FAILED, RETRY_UNAVAILABLE, store
from pipeline.reccobeats import ReccoBeatsClient
from pipeline.spotify import shapes
from pipeline.spotify.client import SpotifyClient
from pipeline.spotify.errors import (
    SpotifyCoolingDown,
    SpotifyError,
    SpotifyForbidden,
    SpotifyNotConfigured,
)
from pipeline.webapi import CoolingDown, WebApiError
from sql import catalogue, clock
from sql import enrichment_state as state
from sql.database import Database
from sql.enrichment_state import FAILED, FETCHED, UNAVAILABLE, Outcome

log = logging.getLogger("tunecluster.lookup")


class NotOnSpotify(SpotifyError):
    """Spotify has no such thing, or does not show it to this app."""


@dataclass
class LookedUpTrack:
    track_id: str
    name: str
    artists: list[str] = field(default_factory=list)
    album_id: str | None = None
    has_features: bool = False
    source: str = "catalogue"  # catalogue | spotify


@dataclass
class LookedUpAlbum:
    album_id: str
    name: str | None
    track_ids: list[str]


@dataclass
class LookedUpArtist:
    artist_id: str
    name: str
    genres: list[str]


@dataclass
class LookedUpPlaylist:
    playlist_id: str
    name: str | None
    track_ids: list[str]


def _require(spotify: SpotifyClient | None, what: str) -> SpotifyClient:
    if spotify is None:
        raise SpotifyNotConfigured(what)
    return spotify


async def lookup_track(
    db: Database,
    track_id: str,
    *,
    spotify: SpotifyClient | None,
    reccobeats: ReccoBeatsClient | None = None,
) -> LookedUpTrack | None:
    """The track from the catalogue, else from Spotify (track and features concurrently,
    then its artists), stored; None when Spotify has no such track."""
    local = await _local_track(db, track_id)
    if local is not None:
        return local
    client = _require(spotify, f"track {track_id} is not in the catalogue")
    found, features, features_outcome = await _track_and_features(client, reccobeats, track_id)
    if found is None:
        return None
    rows = shapes.Rows()
    shapes.add_track(rows, found)
    artist_outcomes = await _artists(client, rows, track_id)
    if features is not None:
        rows.features.append(features)
    outcomes = {
        ("track", "details"): [Outcome(track_id, FETCHED)],
        ("artist", "details"): artist_outcomes,
        ("track", "audio_features"): [features_outcome] if features_outcome else [],
    }
    await _store_fetched(db, rows, outcomes)
    return LookedUpTrack(
        track_id,
        rows.tracks[track_id]["name"],
        [a["name"] for a in found.get("artists") or [] if isinstance(a, dict) and a.get("name")],
        rows.tracks[track_id]["album_id"],
        features is not None,
        "spotify",
    )


async def _track_and_features(
    spotify: SpotifyClient, reccobeats: ReccoBeatsClient | None, track_id: str
) -> tuple[dict | None, dict | None, Outcome | None]:
    """Spotify's track object with its feature row and that row's outcome, fetched
    concurrently; a failed track fetch cancels the features."""
    track_task = asyncio.ensure_future(spotify.get_many("tracks", [track_id]))
    features_task = asyncio.ensure_future(_features(spotify, reccobeats, track_id))
    try:
        found = (await track_task).get(track_id)
    except BaseException:
        features_task.cancel()
        await asyncio.gather(features_task, return_exceptions=True)
        raise
    features, outcome = await features_task
    return found, features, outcome


async def _artists(spotify: SpotifyClient, rows: shapes.Rows, track_id: str) -> list[Outcome]:
    """Add the track's artists (with their genres) to `rows`; a failure other than a
    cool-down only leaves them out: the track is still worth keeping without genres."""
    outcomes: list[Outcome] = []
    try:
        artists = await spotify.get_many("artists", list(rows.artists))
        for artist_id, obj in artists.items():
            if obj is not None:
                shapes.add_artist(rows, obj)
                outcomes.append(Outcome(artist_id, FETCHED))
    except SpotifyCoolingDown:
        raise
    except SpotifyError as error:
        log.info("artists of %s not fetched: %s", track_id, error)
    return outcomes


async def _store_fetched(
    db: Database, rows: shapes.Rows, outcomes: dict[tuple[str, str], list[Outcome]] | None = None
) -> None:
    """What was fetched and each (entity type, aspect)'s outcomes, in one transaction."""
    now = clock.naive_now()
    async with db.transaction() as conn:
        await store(conn, rows)
        for (entity_type, aspect), recorded in (outcomes or {}).items():
            await state.record(conn, entity_type, aspect, recorded, now=now)


async def _local_track(db: Database, track_id: str) -> LookedUpTrack | None:
    async with db.connection() as conn:
        row = await catalogue.get_track(conn, track_id)
        if row is None:
            return None
        artists = (await catalogue.track_artists(conn, [track_id])).get(track_id, [])
        has = bool(await catalogue.get_audio_features(conn, [track_id]))
    return LookedUpTrack(track_id, row["name"], [a["name"] for a in artists], row["album_id"], has)


async def _features(
    spotify: SpotifyClient, reccobeats: ReccoBeatsClient | None, track_id: str
) -> tuple[dict | None, Outcome | None]:
    """Audio features from Spotify where allowed, else ReccoBeats; never fails the lookup
    (except for a cool-down, which must stop everything)."""
    later = clock.naive_now() + RETRY_UNAVAILABLE
    try:
        if (await spotify.modes()).get("audio_features") != "forbidden":
            try:
                found = (await spotify.get_many("audio_features", [track_id])).get(track_id)
                row = shapes.feature_row(found, track_id, "spotify") if found else None
                if row:
                    return row, Outcome(track_id, FETCHED)
            except SpotifyForbidden:
                pass
        if reccobeats is None:
            return None, None
        row = (await reccobeats.features_batch([track_id])).get(track_id)
        if row:
            return row, Outcome(track_id, FETCHED)
        return None, Outcome(
            track_id, UNAVAILABLE, "ReccoBeats has no audio features for it", later
        )
    except CoolingDown:  # Spotify's or ReccoBeats'
        raise
    except WebApiError as error:
        log.info("audio features of %s not fetched: %s", track_id, error)
        return None, Outcome(track_id, FAILED, str(error), clock.naive_now() + RETRY_FAILED)


async def lookup_album(
    db: Database, album_id: str, *, spotify: SpotifyClient | None
) -> LookedUpAlbum | None:
    """An album and its tracks from Spotify, stored; None when Spotify has none."""
    client = _require(spotify, f"album {album_id} is not in the catalogue")
    album, items = await client.album_tracks(album_id)
    if album is None:
        return None
    rows = shapes.Rows()
    shapes.add_album(rows, album)
    for item in items:
        shapes.add_track(rows, item, album_id=album_id)
    await _store_fetched(db, rows)
    return LookedUpAlbum(album_id, rows.albums[album_id]["name"], list(rows.tracks))


async def lookup_artist(
    db: Database, artist_id: str, *, spotify: SpotifyClient | None
) -> LookedUpArtist | None:
    """An artist with its genres from Spotify, stored; None when Spotify has none."""
    client = _require(spotify, f"artist {artist_id} is not in the catalogue")
    found = (await client.get_many("artists", [artist_id])).get(artist_id)
    if found is None:
        return None
    rows = shapes.Rows()
    shapes.add_artist(rows, found)
    await _store_fetched(db, rows, {("artist", "details"): [Outcome(artist_id, FETCHED)]})
    genres = sorted({catalogue.normalise_genre(g["genre"]) for g in rows.genres})
    return LookedUpArtist(artist_id, rows.artists[artist_id]["name"], genres)


async def lookup_playlist(
    db: Database, playlist_id: str, *, spotify: SpotifyClient | None, limit: int = 100
) -> LookedUpPlaylist:
    """A playlist's tracks from Spotify, stored with the playlist; a one-line error when
    Spotify has it not or will not show it (development-mode apps see only their own)."""
    client = _require(spotify, f"playlist {playlist_id} is not in the catalogue")
    try:
        found = await client.playlist(playlist_id, limit=limit)
    except SpotifyForbidden:
        found = None
        forbidden = True
    else:
        forbidden = False
    if found is None:
        why = "does not share its tracks with this app" if forbidden else "has no such playlist"
        raise NotOnSpotify(f"playlist {playlist_id} is not in the catalogue and Spotify {why}")
    name, tracks = found
    rows = shapes.Rows()
    for obj in tracks:
        shapes.add_track(rows, obj)
    ids = list(rows.tracks)
    async with db.transaction() as conn:
        await store(conn, rows)
        await catalogue.upsert_playlists(
            conn, [{"playlist_id": playlist_id, "name": name, "source": "spotify"}]
        )
        await catalogue.upsert_playlist_tracks(
            conn,
            [
                {"playlist_id": playlist_id, "position": i, "track_id": t["id"]}
                for i, t in enumerate(tracks)
            ],
        )
    return LookedUpPlaylist(playlist_id, name, ids)


async def search_spotify(
    db: Database, text: str, *, spotify: SpotifyClient | None, limit: int = 10
) -> list[str]:
    """Spotify's track search; the tracks found are stored and their ids returned."""
    client = _require(spotify, "nothing in the catalogue matches")
    found = await client.search_tracks(text, limit=limit)
    rows = shapes.Rows()
    for obj in found:
        shapes.add_track(rows, obj)
    if rows.tracks:
        await _store_fetched(db, rows)
    return list(rows.tracks)
