"""The ReccoBeats client against its loopback fake."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from pipeline.reccobeats import (
    API,
    BATCH,
    ReccoBeatsClient,
    ReccoBeatsCoolingDown,
    ReccoBeatsError,
    spotify_id,
)
from tests.fakes.reccobeats import FakeReccoBeats
from tests.fakes.spotify import Faults, make_universe

U = make_universe(200)
TRACKS = list(U.tracks)


def client(fake: FakeReccoBeats, *, batch_size: int = BATCH, **config: Any) -> ReccoBeatsClient:
    values = {
        "base_url": fake.url,
        "requests_per_second": 200.0,
        "backoff_initial": 0.01,
        "timeout": 0.5,
    }
    return ReccoBeatsClient(replace(API, **{**values, **config}), batch_size=batch_size)


async def test_matches_back_through_href_and_omits_unknown() -> None:
    known = set(TRACKS[:90])
    async with FakeReccoBeats(U, known=known) as fake, client(fake) as recco:
        found = await recco.audio_features(TRACKS[:100])
    assert set(found) == known
    row = found[TRACKS[0]]
    assert row["source"] == "reccobeats" and row["time_signature"] is None
    assert row["tempo"] == pytest.approx(U.features[TRACKS[0]]["tempo"])
    assert row["key"] == U.features[TRACKS[0]]["key"] and isinstance(row["mode"], int)
    assert fake.requests == 3  # ceil(100 / 40)
    assert max(fake.ids_asked.values()) == 1


def test_href_forms() -> None:
    tid = TRACKS[0]
    assert spotify_id(f"https://open.spotify.com/track/{tid}") == tid
    assert spotify_id(f"https://open.spotify.com/intl-de/track/{tid}?si=1") == tid
    assert spotify_id("https://open.spotify.com/album/x") is None
    assert spotify_id(None) is None


async def test_faults_are_retried_and_429_honoured() -> None:
    faults = Faults(at={1: "503", 2: "malformed", 4: "429", 6: "timeout"}, retry_after=1, stall=1.0)
    async with FakeReccoBeats(U, faults=faults) as fake, client(fake) as recco:
        found = await recco.audio_features(TRACKS[:160])
    assert len(found) == 160
    assert fake.watch.during_cooldown == 0 and fake.watch.injected_429 == 1


async def test_failures_are_one_line_errors() -> None:
    async with (
        FakeReccoBeats(U, faults=Faults(every={"503": 1})) as fake,
        client(fake, max_attempts=2) as recco,
    ):
        with pytest.raises(
            ReccoBeatsError, match="ReccoBeats audio-features failed after 2 attempts"
        ):
            await recco.audio_features(TRACKS[:5])
        outcomes = [o async for _, o in recco.units(TRACKS[:5])]
        assert isinstance(outcomes[0], ReccoBeatsError)


async def test_long_pause_stops() -> None:
    faults = Faults(at={1: "429"}, retry_after=900)
    async with (
        FakeReccoBeats(U, faults=faults) as fake,
        client(fake, cooldown_cap_seconds=60) as recco,
    ):
        with pytest.raises(ReccoBeatsCoolingDown, match="ReccoBeats cooling down until"):
            await recco.audio_features(TRACKS[:5])
        with pytest.raises(ReccoBeatsCoolingDown):
            await recco.audio_features(TRACKS[5:10])
    assert fake.requests == 1


async def test_rate_is_kept() -> None:
    async with (
        FakeReccoBeats(U, rate=20, window=1.0) as fake,
        client(fake, requests_per_second=20, batch_size=1) as recco,
    ):
        await recco.audio_features(TRACKS[:45])
    assert fake.watch.over_limit == 0 and fake.watch.max_in_window(1.0) <= 20
