"""The Spotify client against the loopback fake: tiers, tokens, limits, faults, secrecy."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pipeline.spotify.client import API, SpotifyClient
from pipeline.spotify.errors import (
    SpotifyAuthError,
    SpotifyCoolingDown,
    SpotifyForbidden,
    SpotifyUnavailable,
)
from pipeline.webapi import DatabaseState, MemoryState, ServiceState
from sql.database import Database
from tests.fakes.spotify import CLIENT_ID, CLIENT_SECRET, FakeSpotify, Faults, make_universe

U = make_universe(300, unknown=3)
TRACKS = list(U.tracks)
ARTISTS = list(U.artists)


def client(
    fake: FakeSpotify,
    *,
    client_secret: str = CLIENT_SECRET,
    recheck_days: float = 7.0,
    state: ServiceState | None = None,
    **config: Any,
) -> SpotifyClient:
    values = {
        "base_url": fake.api_url,
        "requests_per_second": 500.0,
        "concurrency": 4,
        "backoff_initial": 0.01,
        "timeout": 0.5,
        "max_attempts": 4,
    }
    return SpotifyClient(
        replace(API, **{**values, **config}),
        client_id=CLIENT_ID,
        client_secret=client_secret,
        accounts_url=fake.accounts_url,
        recheck_days=recheck_days,
        state=state,
    )


async def test_extended_tier_uses_batches_and_learns_fields() -> None:
    async with FakeSpotify(U, tier="extended") as fake, client(fake) as spotify:
        found = await spotify.get_many("tracks", TRACKS[:120] + U.unknown_tracks)
        assert sum(v is not None for v in found.values()) == 120
        assert [found[t] for t in U.unknown_tracks] == [None] * 3
        assert fake.counts == {("tracks (batch)", 200): 3}  # ceil(123 / 50)
        artists = await spotify.get_many("artists", ARTISTS[:60])
        assert all(a["followers"]["total"] >= 0 for a in artists.values())
        features = await spotify.get_many("audio_features", TRACKS[:100])
        assert len(features) == 100 and fake.counts[("audio-features (batch)", 200)] == 1
        assert await spotify.capabilities() == {
            "tracks.mode": "batch",
            "artists.mode": "batch",
            "audio_features.mode": "batch",
            "field.tracks.popularity": "present",
            "field.artists.popularity": "present",
            "field.artists.followers": "present",
        }


async def test_development_tier_falls_back_to_single_ids_once() -> None:
    state = MemoryState()
    async with FakeSpotify(U, tier="development") as fake:
        async with client(fake, state=state) as spotify:
            found = await spotify.get_many("tracks", TRACKS[:30] + U.unknown_tracks[:1])
            assert sum(v is not None for v in found.values()) == 30
            assert "popularity" not in found[TRACKS[0]]
            assert fake.counts[("tracks (batch)", 403)] == 1  # the one probe
            assert fake.counts[("tracks", 200)] == 30 and fake.counts[("tracks", 404)] == 1
            with pytest.raises(SpotifyForbidden, match="audio-features"):
                await spotify.get_many("audio_features", TRACKS[:5])
            with pytest.raises(SpotifyForbidden):  # remembered: nothing sent
                await spotify.get_many("audio_features", TRACKS[5:10])
            assert fake.endpoint_total("audio-features", None) == 2
            assert await spotify.has_field("tracks", "popularity") is False
        assert state.known["tracks.mode"][0] == "single"
        assert state.known["audio_features.mode"][0] == "forbidden"
        before = fake.requests
        async with client(fake, state=state) as spotify:  # a new process, same memory
            await spotify.get_many("tracks", TRACKS[:3])
        assert fake.requests - before == 3  # no new probe


async def test_stale_single_mode_is_rechecked() -> None:
    state = MemoryState()
    async with FakeSpotify(U, tier="development") as fake:
        async with client(fake, state=state, recheck_days=0) as spotify:
            await spotify.get_many("tracks", TRACKS[:2])
        async with client(fake, state=state, recheck_days=0) as spotify:
            await spotify.get_many("tracks", TRACKS[:2])
        assert fake.counts[("tracks (batch)", 403)] == 2


async def test_capabilities_persist_with_learned_at(db: Database) -> None:
    async with FakeSpotify(U, tier="development") as fake:
        async with client(fake, state=DatabaseState(db, "spotify")) as spotify:
            await spotify.get_many("artists", ARTISTS[:2])
        known = await DatabaseState(db, "spotify").capabilities()
        assert known["artists.mode"][0] == "single"
        assert known["artists.mode"][1].year >= 2024
        async with client(fake, state=DatabaseState(db, "spotify")) as spotify:
            await spotify.get_many("artists", ARTISTS[2:4])
        assert fake.counts[("artists (batch)", 403)] == 1


async def test_token_refreshed_once_on_401_and_before_expiry() -> None:
    faults = Faults(at={3: "expire"})
    async with FakeSpotify(U, tier="development", faults=faults) as fake, client(fake) as spotify:
        found = await spotify.get_many("tracks", TRACKS[:6])
        assert all(found.values())
        assert fake.token_requests == 2 and spotify.stats()["tokens"] == 2
    async with FakeSpotify(U, tier="development", token_lifetime=61) as fake:
        async with client(fake) as spotify:  # 61 s lifetime - 60 s margin: refresh each second
            await spotify.get_many("tracks", TRACKS[:1])
            await asyncio.sleep(1.05)
            await spotify.get_many("tracks", TRACKS[1:2])
        assert fake.token_requests == 2
        assert fake.endpoint_total("tracks", 401) == 0


async def test_bad_credentials_are_one_line_without_the_secret() -> None:
    async with FakeSpotify(U) as fake, client(fake, client_secret="wrong-secret-XYZ") as spotify:
        with pytest.raises(SpotifyAuthError) as caught:
            await spotify.get_many("tracks", TRACKS[:1])
    message = str(caught.value)
    assert "invalid_client" in message and "\n" not in message
    assert "wrong-secret-XYZ" not in message and "wrong-secret-XYZ" not in repr(spotify)


async def test_retry_after_is_honoured_and_nothing_is_sent_during_it() -> None:
    faults = Faults(at={5: "429"}, retry_after=1)
    async with FakeSpotify(U, tier="development", faults=faults) as fake:
        async with client(fake, concurrency=4) as spotify:
            started = time.monotonic()
            found = await spotify.get_many("tracks", TRACKS[:20])
            elapsed = time.monotonic() - started
        assert all(found.values())
        assert elapsed >= 1.0
        assert fake.watch.injected_429 == 1
        assert fake.watch.during_cooldown == 0
        assert spotify.stats()["throttled"] >= 1


async def test_long_retry_after_stops_and_persists(db: Database) -> None:
    faults = Faults(at={2: "429"}, retry_after=3600)
    state = DatabaseState(db, "spotify")
    async with FakeSpotify(U, tier="extended", faults=faults) as fake:
        async with client(fake, state=state, cooldown_cap_seconds=60) as spotify:
            await spotify.get_many("tracks", TRACKS[:1])
            with pytest.raises(SpotifyCoolingDown, match="Spotify cooling down until") as caught:
                await spotify.get_many("tracks", TRACKS[1:2])
            with pytest.raises(SpotifyCoolingDown):
                await spotify.get_many("tracks", TRACKS[2:3])
        assert caught.value.until.timestamp() > time.time() + 3500
        sent = fake.requests
        with pytest.raises(SpotifyCoolingDown, match="Retry-After 3600"):
            async with client(fake, state=state):  # the next run refuses early
                pass
        assert fake.requests == sent == 2


async def test_status_shows_a_persisted_stop(db: Database) -> None:
    from bot.services.status import status

    until = datetime.now(UTC) + timedelta(hours=2)
    await DatabaseState(db, "spotify").stop_until(until, "QUOTA_EXCEEDED")
    shown = (await status(db, spotify_configured=True)).spotify
    assert (
        shown
        == f"access not probed yet; cooling down until {until:%Y-%m-%d %H:%M} UTC (QUOTA_EXCEEDED)"
    )
    stop = await DatabaseState(db, "spotify").cooldown()
    assert stop is not None and stop[0] == until and stop[1] == "QUOTA_EXCEEDED"


async def test_quota_exceeded_stops_at_once() -> None:
    faults = Faults(at={1: "quota"}, retry_after=5)
    async with FakeSpotify(U, faults=faults) as fake, client(fake) as spotify:
        with pytest.raises(SpotifyCoolingDown, match="QUOTA_EXCEEDED"):
            await spotify.get_many("tracks", TRACKS[:3])
        assert fake.requests == 1


async def test_5xx_timeouts_and_malformed_bodies_are_retried_within_bounds() -> None:
    faults = Faults(at={1: "503", 2: "timeout", 3: "malformed", 4: "502"}, stall=1.0)
    async with FakeSpotify(U, faults=faults) as fake, client(fake, max_attempts=5) as spotify:
        found = await spotify.get_many("tracks", TRACKS[:50])
        assert len(found) == 50 and all(found.values())
        assert fake.requests == 5 and spotify.stats()["retried"] == 4


async def test_attempts_are_bounded() -> None:
    faults = Faults(every={"503": 1})
    async with FakeSpotify(U, faults=faults) as fake, client(fake, max_attempts=3) as spotify:
        with pytest.raises(SpotifyUnavailable, match="failed after 3 attempts"):
            await spotify.get_many("tracks", TRACKS[:2])
        assert fake.requests == 3


async def test_one_broken_id_fails_its_unit_only() -> None:
    faults = Faults(broken_ids={TRACKS[3]})
    async with (
        FakeSpotify(U, tier="development", faults=faults) as fake,
        client(fake, max_attempts=2) as spotify,
    ):
        outcomes = {tuple(ids): o async for ids, o in spotify.units("tracks", TRACKS[:8])}
    failed = [ids for ids, o in outcomes.items() if isinstance(o, Exception)]
    assert failed == [(TRACKS[3],)]
    assert fake.endpoint_total("tracks", 500) == 2


async def test_configured_rate_is_never_exceeded() -> None:
    rate = 40.0
    async with (
        FakeSpotify(U, tier="development", rate=rate, window=1.0) as fake,
        client(fake, requests_per_second=rate, concurrency=8) as spotify,
    ):
        await spotify.get_many("tracks", TRACKS[:100])
    assert fake.watch.over_limit == 0 and fake.watch.during_cooldown == 0
    assert fake.watch.max_in_window(1.0) <= rate
    assert fake.watch.max_in_window(0.5) <= rate / 2 + 1


async def test_no_secret_in_logs_reprs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    faults = Faults(at={2: "expire", 4: "429", 6: "503", 8: "timeout", 9: "malformed"}, stall=0.7)
    caplog.set_level(logging.DEBUG)
    async with FakeSpotify(U, tier="development", faults=faults) as fake:
        async with client(fake) as spotify:
            await spotify.get_many("tracks", TRACKS[:12])
            with pytest.raises(SpotifyForbidden) as forbidden:
                await spotify.get_many("audio_features", TRACKS[:1])
            tokens = set(spotify.transport.auth.secrets)
            shown = [
                repr(spotify),
                repr(spotify.transport),
                repr(spotify.transport.auth),
                str(forbidden.value),
            ]
        async with client(fake, client_secret="another-secret-123") as bad:
            with pytest.raises(SpotifyAuthError) as refused:
                await bad.get_many("tracks", TRACKS[:1])
            shown += [str(refused.value), repr(bad)]
    assert len(tokens) == 2
    text = "\n".join([caplog.text, *shown])
    for secret in (CLIENT_SECRET, "another-secret-123", *tokens):
        assert secret not in text
    assert "Bearer" not in text and "Authorization" not in text and "Basic " not in text
    assert all(h.startswith("Bearer tok-") for h in fake.seen_auth if h)
