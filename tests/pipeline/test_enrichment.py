"""Enrichment against the loopback fakes: 10,000 tracks per tier with faults throughout,
minimal request counts, resumption after an interruption, the persisted stop, the CLI."""

from __future__ import annotations

import asyncio
import json
import math
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline import reccobeats
from pipeline.enrichment import enrich
from pipeline.reccobeats import ReccoBeatsClient
from pipeline.spotify import client as spotify_client
from pipeline.spotify.client import SpotifyClient
from pipeline.spotify.errors import SpotifyCoolingDown
from pipeline.webapi import DatabaseState
from sql import catalogue
from sql import enrichment_state as state
from sql.database import Database
from sql.errors import TuneclusterError
from sql.migrate import init_schema
from sql.schema import (
    album,
    artist,
    artist_album,
    artist_genre,
    artist_track,
    audio_features,
    enrichment,
    metadata,
    track,
)
from tests.fakes.reccobeats import FakeReccoBeats
from tests.fakes.spotify import (
    CLIENT_ID,
    CLIENT_SECRET,
    FakeSpotify,
    Faults,
    Universe,
    catalogue_rows,
    make_universe,
)
from tests.support.cli import run_cli_async, settings_env

# periods (in requests) of each injected fault; the development tier sends ~30x more requests
FAULTS = {
    "extended": {"503": 41, "malformed": 67, "timeout": 149, "429": 211, "expire": 307, "500": 397},
    "development": {
        "503": 41,
        "malformed": 67,
        "timeout": 499,
        "429": 2503,
        "expire": 3001,
        "500": 397,
    },
}


async def load(db: Database, u: Universe) -> None:
    rows = catalogue_rows(u)
    async with db.transaction() as conn:
        await catalogue.upsert_artists(conn, rows["artists"])
        await catalogue.upsert_albums(conn, rows["albums"])
        await catalogue.upsert_tracks(conn, rows["tracks"])
        await catalogue.link_artist_tracks(conn, rows["artist_tracks"])


@asynccontextmanager
async def services(
    u: Universe, tier: str, *, faults: dict | None = None, broken=(), rate=4000.0, **fake
):
    spotify_faults = Faults(every=dict(faults or {}), broken_ids=set(broken), stall=1.5)
    recco_faults = Faults(
        every={k: v for k, v in (faults or {}).items() if k != "expire"}, stall=1.5
    )
    known = set(list(u.features)[: int(len(u.features) * 0.9)])  # ReccoBeats lacks 10 %
    async with (
        # the clients below keep at most 8 (Spotify) and 2 (ReccoBeats) requests in flight
        FakeSpotify(u, tier=tier, faults=spotify_faults, rate=rate, in_flight=8, **fake) as sp,
        FakeReccoBeats(u, known=known, faults=recco_faults, rate=rate, in_flight=2) as rb,
    ):
        yield sp, rb


@asynccontextmanager
async def clients(db: Database, sp: FakeSpotify, rb: FakeReccoBeats, rate=3000.0, **extra):
    async with (
        SpotifyClient(
            replace(
                spotify_client.API,
                base_url=sp.api_url,
                requests_per_second=rate,
                concurrency=8,
                timeout=1.0,
                max_attempts=4,
                backoff_initial=0.01,
            ),
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            accounts_url=sp.accounts_url,
            state=DatabaseState(db, "spotify"),
            **extra,
        ) as spotify,
        ReccoBeatsClient(
            replace(
                reccobeats.API,
                base_url=rb.url,
                requests_per_second=rate,
                timeout=1.0,
                backoff_initial=0.01,
            ),
            state=DatabaseState(db, "reccobeats"),
        ) as recco,
    ):
        yield spotify, recco


async def run_enrichment(db, sp, rb, **kwargs):
    async with clients(db, sp, rb) as (spotify, recco):
        return await enrich(db, spotify=spotify, reccobeats=recco, **kwargs)


async def outcome_table(db: Database, entity_type: str, aspect: str) -> dict[str, dict]:
    async with db.connection() as conn:
        return await state.outcomes(conn, entity_type, aspect)


# --- 10,000 tracks per tier ----------------------------------------------------------------------


async def check_everything_settled(db: Database, u: Universe, broken: set[str], tier: str) -> None:
    tracks = await outcome_table(db, "track", "details")
    assert set(tracks) == set(u.tracks) | set(u.unknown_tracks)
    for tid, row in tracks.items():
        expected = (
            "failed" if tid in broken else "not_found" if tid in u.unknown_tracks else "fetched"
        )
        assert row["status"] == expected, (tid, row)
        assert row["status"] == "fetched" or row["reason"]
    features = await outcome_table(db, "track", "audio_features")
    assert set(features) == set(u.tracks) | set(u.unknown_tracks)
    # Spotify's batch of features fails with the broken ids; ReccoBeats knows no such fault
    failed = {t for t, r in features.items() if r["status"] == "failed"}
    assert failed == (broken if tier == "extended" else set())
    assert {r["status"] for t, r in features.items() if t not in broken} <= {
        "fetched",
        "unavailable",
        "not_found",
    }
    assert all(
        r["reason"] and r["retry_after"] for r in features.values() if r["status"] == "unavailable"
    )
    artists = await outcome_table(db, "artist", "details")
    assert set(artists) == set(u.artists) and {r["status"] for r in artists.values()} == {"fetched"}
    async with db.connection() as conn:
        stored = await catalogue.get_tracks(conn, u.tracks)
        assert all(
            stored[t]["isrc"] and stored[t]["duration_ms"] for t in u.tracks if t not in broken
        )
        pops = [stored[t]["popularity"] for t in u.tracks if t not in broken]
        assert (
            all(p is not None for p in pops) if tier == "extended" else pops == [None] * len(pops)
        )
        albums = await catalogue.get_albums(conn, u.albums)
        assert all(a["release_date"] and a["image_url"] for a in albums.values())
        genres = await catalogue.artist_genres(conn, u.artists)
        assert genres == {a: sorted(o["genres"]) for a, o in u.artists.items() if o["genres"]}
        counts = await catalogue.counts(conn, ["audio_features"])
        assert counts["audio_features"] == sum(r["status"] == "fetched" for r in features.values())
        assert not await state.pending(conn, "track", "details", now=_now())


def _now():
    from sql import clock

    return clock.naive_now()


async def _enrich_10k(db: Database, tier: str) -> None:
    u = make_universe(10_000, n_artists=2000, n_albums=1250, unknown=100, seed=11)
    broken = {list(u.tracks)[i] for i in (17, 4242)}
    await load(db, u)
    async with services(u, tier, faults=FAULTS[tier], broken=broken) as (sp, rb):
        summary = await run_enrichment(db, sp, rb)
    assert summary.stopped is None
    await check_everything_settled(db, u, broken, tier)
    n = len(u.tracks) + len(u.unknown_tracks)
    t = summary.types
    assert (t["tracks"].fetched, t["tracks"].not_found, t["tracks"].failed) == (10_000 - 2, 100, 2)
    # faults were injected throughout, and none was caused by going too fast
    assert sp.watch.injected_429 >= 1 and sp.watch.over_limit == 0 and sp.watch.during_cooldown == 0
    assert rb.watch.over_limit == 0 and rb.watch.during_cooldown == 0
    # Answers the fake sent; the minimum for the tier exactly, plus at most one per retry
    # (under load an answer can arrive after the client's timeout and be asked again).
    # The fault-free test below shows the minimum alone.
    retried = summary.spotify["retried"]
    if tier == "extended":
        minimum = {
            "tracks (batch)": math.ceil(n / 50) - 2,  # the broken ids' batches failed
            "albums (batch)": math.ceil(len(u.albums) / 20),
            "audio-features (batch)": math.ceil(n / 100) - 2,
        }
        for endpoint, least in minimum.items():
            assert least <= sp.endpoint_total(endpoint, 200) <= least + retried, endpoint
    else:
        assert sp.counts[("tracks (batch)", 403)] == 1  # the one probe, then single ids
        answered = sp.endpoint_total("tracks", 200) + sp.endpoint_total("tracks", 404)
        assert n - 2 <= answered <= n - 2 + retried
        assert sp.endpoint_total("albums", None) == 0  # tracks carried the album details
        least = math.ceil(n / 40)
        assert least <= rb.counts[200] <= least + summary.reccobeats["retried"]
    assert summary.as_dict()["requests"] > 0


async def test_enrich_10k_extended_tier_with_faults(db: Database) -> None:
    await _enrich_10k(db, "extended")


@pytest.mark.slow
async def test_enrich_10k_development_tier_with_faults(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'dev.db'}")  # HTTP-bound: one engine is enough
    await init_schema(db)
    try:
        await _enrich_10k(db, "development")
    finally:
        await db.dispose()


@pytest.mark.parametrize("tier", ["extended", "development"])
async def test_request_count_is_the_minimum(db: Database, tier: str) -> None:
    u = make_universe(730, n_artists=150, n_albums=60, unknown=7, seed=3)
    await load(db, u)
    async with services(u, tier) as (sp, rb):
        await run_enrichment(db, sp, rb, types=["tracks"])
        n = len(u.tracks) + len(u.unknown_tracks)
        if tier == "extended":
            assert sp.counts == {("tracks (batch)", 200): math.ceil(n / 50)}
        else:
            assert sp.counts == {
                ("tracks (batch)", 403): 1,
                ("tracks", 200): 730,
                ("tracks", 404): 7,
            }
        before = dict(sp.counts)
        summary = await run_enrichment(db, sp, rb, types=["tracks"])  # nothing left to do
        assert dict(sp.counts) == before and summary.types["tracks"].pending == 0


async def test_gaining_extended_access_refetches_what_came_without_popularity(
    db: Database,
) -> None:
    u = make_universe(120, n_artists=30, n_albums=20, unknown=0, seed=12)
    await load(db, u)

    async def popularity() -> list:
        async with db.connection() as conn:
            return list((await conn.execute(select(track.c.popularity))).scalars())

    async def run(tier: str, **client) -> FakeSpotify:
        async with services(u, tier) as (sp, rb), clients(db, sp, rb, **client) as (spo, rec):
            await enrich(db, spotify=spo, reccobeats=rec, types=["tracks"])
        return sp

    await run("development")
    assert set(await popularity()) == {None}
    # Within the re-check period nothing is asked again, whatever the app may do now.
    assert sum((await run("extended")).counts.values()) == 0
    # After it, a development app finds out with one track (and the batch re-probe)...
    sp = await run("development", recheck_days=0)
    assert sp.counts == {("tracks (batch)", 403): 1, ("tracks", 200): 1}
    assert set(await popularity()) == {None}
    # ... and an app that gained extended access refetches every track, in batches.
    sp = await run("extended", recheck_days=0)
    assert sp.counts == {("tracks (batch)", 200): 1 + math.ceil(len(u.tracks) / 50)}
    assert None not in await popularity()
    assert sum((await run("extended")).counts.values()) == 0


# --- interrupted, then resumed ----------------------------------------------------------------------

SNAPSHOT = (artist, album, track, audio_features, artist_album, artist_track, artist_genre)
VOLATILE = {"created_at", "updated_at", "last_attempt_at", "retry_after"}


async def snapshot(db: Database) -> dict[str, list[tuple]]:
    out = {}
    async with db.connection() as conn:
        for table in (*SNAPSHOT, enrichment):
            cols = [c for c in table.c if c.name not in VOLATILE]
            rows = (await conn.execute(select(*cols))).all()
            out[table.name] = sorted(tuple(_stable(v) for v in r) for r in rows)
    return out


def _stable(value):
    """Floats to 9 places; a failure's reason without the last status seen, which depends
    on which injected fault met the broken id's last attempt."""
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, str) and "failed after" in value:
        return value.split(" (HTTP")[0]
    return value


async def reset(db: Database, u: Universe) -> None:
    async with db.transaction() as conn:
        if db.dialect == "mysql":
            from sqlalchemy import text

            await conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for table in reversed(metadata.sorted_tables):
            await conn.execute(table.delete())
        if db.dialect == "mysql":
            from sqlalchemy import text

            await conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    await load(db, u)


async def test_interrupted_run_resumed_equals_uninterrupted(db: Database) -> None:
    u = make_universe(800, n_artists=160, n_albums=80, unknown=8, seed=5)
    broken = {list(u.tracks)[99]}
    faults = {"503": 29, "malformed": 53, "429": 251, "expire": 307}
    await load(db, u)
    async with services(u, "development", faults=faults, broken=broken) as (sp, rb):
        await run_enrichment(db, sp, rb)
    reference = await snapshot(db)

    await reset(db, u)
    interrupted = 0
    for stop_at in (400, 500):  # inside tracks, then inside artists
        async with services(u, "development", faults=faults, broken=broken) as (sp, rb):
            task = asyncio.ensure_future(run_enrichment(db, sp, rb))
            sp.on_request = lambda number, at=stop_at, t=task: number == at and t.cancel()
            try:
                await task
            except asyncio.CancelledError:
                interrupted += 1
    async with services(u, "development", faults=faults, broken=broken) as (sp, rb):
        summary = await run_enrichment(db, sp, rb)
    assert interrupted == 2 and summary.stopped is None
    resumed = await snapshot(db)
    assert resumed.keys() == reference.keys()
    for name in reference:
        assert resumed[name] == reference[name], name


# --- stops, credentials, the command line ------------------------------------------------------------


async def test_quota_stop_is_persisted_and_refused_next_time(db: Database) -> None:
    u = make_universe(300, unknown=0, seed=9)
    await load(db, u)
    async with services(u, "development") as (sp, rb):
        sp.faults.at[40] = "quota"
        sp.faults.retry_after = 7200
        summary = await run_enrichment(db, sp, rb)
        assert summary.stopped and summary.stopped.startswith("Spotify cooling down until")
        # only requests already in flight (concurrency 8) arrive after the stop
        assert 40 <= sp.requests <= 47 and sp.watch.during_cooldown == 0
        sent = sp.requests
        done = summary.types["tracks"].fetched
        assert 30 <= done <= sent - 2  # the probe and the 429 fetched nothing
        tracks = await outcome_table(db, "track", "details")
        assert len(tracks) == done
        with pytest.raises(SpotifyCoolingDown, match="QUOTA_EXCEEDED"):
            await run_enrichment(db, sp, rb)
        assert sp.requests == sent


async def test_catalogue_only_mode_still_gets_features_from_reccobeats(db: Database) -> None:
    u = make_universe(100, seed=4)
    await load(db, u)
    async with services(u, "development") as (sp, rb):
        async with ReccoBeatsClient(
            replace(reccobeats.API, base_url=rb.url, requests_per_second=500)
        ) as recco:
            summary = await enrich(db, spotify=None, reccobeats=recco)
        assert sp.requests == 0
    assert summary.types["tracks"].skipped == "no Spotify credentials: catalogue-only mode"
    assert summary.types["features"].fetched == 90 and summary.types["features"].unavailable == 10


async def test_features_wait_when_nobody_can_give_them(db: Database) -> None:
    u = make_universe(60, seed=6)
    await load(db, u)
    async with services(u, "development") as (sp, rb), clients(db, sp, rb) as (spotify, _recco):
        summary = await enrich(db, spotify=spotify, reccobeats=None, types=["features"])
    assert summary.types["features"].skipped.startswith("Spotify refuses audio features")
    assert await outcome_table(db, "track", "audio_features") == {}  # nothing marked, all left


def test_unknown_types_are_refused() -> None:
    from bot.cli.enrich import _types

    assert _types(None) == ["tracks", "albums", "artists", "features"]
    assert _types(["features,tracks", "tracks"]) == ["tracks", "features"]
    with pytest.raises(TuneclusterError, match=r"unknown type\(s\) lyrics"):
        _types(["tracks,lyrics"])


async def _cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    return await run_cli_async(*args, env={**settings_env(), **env})


async def test_enrich_command(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    db = Database(url)
    await init_schema(db)
    u = make_universe(200, unknown=2, seed=8)
    await load(db, u)
    async with services(u, "development") as (sp, rb):
        env = {
            "TUNECLUSTER_DATABASE_URL": url,
            "TUNECLUSTER_SPOTIFY_CLIENT_ID": CLIENT_ID,
            "TUNECLUSTER_SPOTIFY_CLIENT_SECRET": CLIENT_SECRET,
            "TUNECLUSTER_SPOTIFY_API_URL": sp.api_url,
            "TUNECLUSTER_SPOTIFY_ACCOUNTS_URL": sp.accounts_url,
            "TUNECLUSTER_RECCOBEATS_URL": rb.url,
            "TUNECLUSTER_SPOTIFY_REQUESTS_PER_SECOND": "400",
            "TUNECLUSTER_RECCOBEATS_REQUESTS_PER_SECOND": "400",
        }
        code, out, err = await _cli(
            env, "enrich", "--types", "tracks,features", "--limit", "150", "--json"
        )
        assert code == 0, err
        result = json.loads(out)
        assert result["types"]["tracks"]["done"] == 150 and "artists" not in result["types"]
        assert result["requests_per_entity"]["tracks"] >= 1
        assert result["capabilities"]["tracks.mode"] == "single"
        code, out, err = await _cli(env, "enrich")
        assert code == 0, err
        assert "fetched" in out and "requests:" in out and "waiting on limits" in out
        for text in (out, err):
            assert CLIENT_SECRET not in text and "Bearer" not in text
        async with db.transaction() as conn:  # a stop persisted by an earlier run
            from datetime import UTC, datetime, timedelta

            until = datetime.now(UTC) + timedelta(hours=2)
            await state.set_cooldown(conn, "spotify", until, "QUOTA_EXCEEDED", now=_now())
        sent = sp.requests
        code, out, err = await _cli(env, "enrich")
        assert (
            code == 1
            and "error: Spotify cooling down until" in err
            and len(err.strip().splitlines()) == 1
        )
        assert sp.requests == sent
    await db.dispose()
