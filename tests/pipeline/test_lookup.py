"""On-demand lookups and the resolver's Spotify fallback, against the loopback fakes."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import replace

import pytest

from pipeline import reccobeats
from pipeline.lookup import NotOnSpotify, lookup_artist, lookup_track
from pipeline.reccobeats import ReccoBeatsClient
from pipeline.resolver import TrackNotFound, resolve, resolve_track
from pipeline.spotify.client import API, SpotifyClient
from pipeline.spotify.errors import SpotifyCoolingDown, SpotifyNotConfigured
from pipeline.webapi import DatabaseState
from sql import catalogue
from sql import enrichment_state as state
from sql.database import Database
from tests.fakes.reccobeats import FakeReccoBeats
from tests.fakes.spotify import (
    CLIENT_ID,
    CLIENT_SECRET,
    FakeSpotify,
    Faults,
    fake_id,
    make_universe,
)

U = make_universe(120, n_artists=20, n_albums=10, seed=21)
TRACKS = list(U.tracks)
OWNED, SHARED = fake_id("playlist", 1), fake_id("playlist", 2)
U.playlists = {
    OWNED: {"name": "Mine", "owned": True, "tracks": TRACKS[:3]},
    SHARED: {"name": "Editorial", "owned": False, "tracks": TRACKS[3:6]},
}


@asynccontextmanager
async def online(db: Database, tier: str, **fake):
    async with (
        FakeSpotify(U, tier=tier, **fake) as sp,
        FakeReccoBeats(U) as rb,
        SpotifyClient(
            replace(API, base_url=sp.api_url, requests_per_second=500, backoff_initial=0.01),
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            accounts_url=sp.accounts_url,
            state=DatabaseState(db, "spotify"),
        ) as spotify,
        ReccoBeatsClient(
            replace(reccobeats.API, base_url=rb.url, requests_per_second=500)
        ) as recco,
    ):
        yield sp, rb, spotify, recco


@pytest.mark.parametrize("tier", ["extended", "development"])
async def test_track_lookup_fetches_stores_and_serves_locally(db: Database, tier: str) -> None:
    tid = TRACKS[4]
    async with online(db, tier) as (sp, rb, spotify, recco):
        found = await lookup_track(db, tid, spotify=spotify, reccobeats=recco)
        assert found is not None and found.source == "spotify" and found.has_features
        assert found.name == U.tracks[tid]["name"] and found.artists
        sent = sp.requests + rb.requests
        again = await lookup_track(db, tid, spotify=spotify, reccobeats=recco)
        assert again is not None and again.source == "catalogue" and again.has_features
        assert sp.requests + rb.requests == sent  # served locally
        assert await lookup_track(db, fake_id("nope"), spotify=spotify, reccobeats=recco) is None
    async with db.connection() as conn:
        features = await catalogue.get_audio_features(conn, [tid])
        genres = await catalogue.artist_genres(conn, [a["id"] for a in U.tracks[tid]["artists"]])
        done = await state.outcomes(conn, "track", "details", [tid])
    assert features[tid]["source"] == ("spotify" if tier == "extended" else "reccobeats")
    expected = {a["id"]: sorted(U.artists[a["id"]]["genres"]) for a in U.tracks[tid]["artists"]}
    assert genres == {k: v for k, v in expected.items() if v}
    assert done[tid]["status"] == "fetched"
    if tier == "development":  # features came from ReccoBeats, Spotify's were never asked twice
        assert sp.endpoint_total("audio-features", None) == 2


async def test_without_credentials_says_catalogue_only(db: Database) -> None:
    with pytest.raises(SpotifyNotConfigured, match="no Spotify credentials: catalogue-only mode"):
        await lookup_track(db, TRACKS[0], spotify=None)


async def test_cooling_down_is_refused_before_any_request(db: Database) -> None:
    async with online(db, "extended", faults=Faults(at={1: "quota"}, retry_after=600)) as (
        sp,
        _rb,
        spotify,
        recco,
    ):
        with pytest.raises(SpotifyCoolingDown, match="Spotify cooling down until"):
            await lookup_track(db, TRACKS[0], spotify=spotify, reccobeats=recco)
        sent = sp.requests
        with pytest.raises(SpotifyCoolingDown):
            await resolve_track(db, f"spotify:track:{TRACKS[1]}", spotify=spotify, reccobeats=recco)
        assert sp.requests == sent <= 2


async def test_resolver_falls_back_to_spotify(db: Database) -> None:
    album_id = next(iter(U.albums))
    artist_id = next(iter(U.artists))
    async with online(db, "development") as (_sp, _rb, spotify, recco):
        assert await resolve_track(db, TRACKS[7], spotify=spotify, reccobeats=recco) == TRACKS[7]
        album = await resolve(db, f"https://open.spotify.com/album/{album_id}", spotify=spotify)
        assert album.source == "spotify" and album.track_ids == [
            t["id"] for t in U.albums[album_id]["tracks"]["items"]
        ]
        again = await resolve(db, f"spotify:album:{album_id}")  # now local, no client needed
        assert again.source == "catalogue" and again.track_ids == album.track_ids
        artist = await resolve(db, f"spotify:artist:{artist_id}", spotify=spotify)
        assert artist.genres == sorted(U.artists[artist_id]["genres"])
        playlist = await resolve(db, f"spotify:playlist:{OWNED}", spotify=spotify)
        assert playlist.track_ids == TRACKS[:3] and playlist.name == "Mine"
        with pytest.raises(NotOnSpotify, match="does not share its tracks with this app"):
            await resolve(db, f"spotify:playlist:{SHARED}", spotify=spotify)
        found = await resolve(db, "Track 57", spotify=spotify)
        assert found.source == "spotify" and TRACKS[57] in found.track_ids
        assert (await resolve(db, "Track 57")).source == "catalogue"
        with pytest.raises(TrackNotFound, match="Spotify has no track"):
            await resolve_track(db, fake_id("missing"), spotify=spotify)
        looked = await lookup_artist(db, fake_id("no-artist"), spotify=spotify)
        assert looked is None
