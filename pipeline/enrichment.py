"""Completing what the catalogue lacks, resumably.

Order matters for the request count: tracks first (a track answer carries its album's
release date, type and cover, so in development mode albums need no request of their
own), then albums (popularity and label where the app gets them), then artists (genres,
followers, popularity), then audio features (Spotify where allowed, else ReccoBeats).

The work list is what the database says is missing (`sql.enrichment_state.pending`),
walked in id order a page at a time. Results and per-entity outcomes are written
together in one transaction per flush, so a crash loses at most the unflushed buffer and
a rerun does exactly what is left. A cool-down beyond the cap stops the run (persisted);
the summary says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from pipeline.links import is_spotify_id
from pipeline.reccobeats import ReccoBeatsClient
from pipeline.spotify import shapes
from pipeline.spotify.client import SpotifyClient
from pipeline.spotify.errors import SpotifyError, SpotifyForbidden
from pipeline.webapi import ClientStats, CoolingDown
from sql import catalogue, clock
from sql import enrichment_state as state
from sql.database import Database
from sql.enrichment_state import (
    FAILED,
    FETCHED,
    NOT_FOUND,
    UNAVAILABLE,
    WITHOUT_POPULARITY,
    Outcome,
)
from sql.errors import TuneclusterError

log = logging.getLogger("tunecluster.enrich")

TYPES = ("tracks", "albums", "artists", "features")
ASPECT = {
    "tracks": ("track", "details"),
    "albums": ("album", "details"),
    "artists": ("artist", "details"),
    "features": ("track", "audio_features"),
}
KIND = {"tracks": "tracks", "albums": "albums", "artists": "artists"}  # Spotify's word
RETRY_FAILED = timedelta(hours=1)
RETRY_UNAVAILABLE = timedelta(days=30)
PAGE = 2000
FLUSH = 500

Progress = Callable[[str, int, int], None]  # (type, done, total)


@dataclass
class TypeSummary:
    pending: int = 0
    fetched: int = 0
    not_found: int = 0
    unavailable: int = 0
    failed: int = 0
    skipped: str | None = None  # why the type was not worked on

    @property
    def done(self) -> int:
        return self.fetched + self.not_found + self.unavailable + self.failed


@dataclass
class EnrichSummary:
    types: dict[str, TypeSummary] = field(default_factory=dict)
    spotify: ClientStats | dict[str, Any] = field(default_factory=dict)  # {}: no client
    reccobeats: ClientStats | dict[str, Any] = field(default_factory=dict)
    capabilities: dict[str, str] = field(default_factory=dict)
    elapsed_seconds: float = 0.0
    stopped: str | None = None

    def as_dict(self) -> dict[str, Any]:
        requests = self.spotify.get("requests", 0) + self.reccobeats.get("requests", 0)
        return {
            "types": {name: {**vars(t), "done": t.done} for name, t in self.types.items()},
            "requests": requests,
            "requests_per_entity": self.requests_per_entity(),
            "spotify": self.spotify,
            "reccobeats": self.reccobeats,
            "waited_seconds": round(
                self.spotify.get("waited_seconds", 0) + self.reccobeats.get("waited_seconds", 0), 3
            ),
            "paused_seconds": round(
                self.spotify.get("paused_seconds", 0) + self.reccobeats.get("paused_seconds", 0), 3
            ),
            "capabilities": self.capabilities,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "stopped": self.stopped,
        }

    def requests_per_entity(self) -> dict[str, float]:
        per_type: dict[str, int] = dict.fromkeys(self.types, 0)
        prefixes = {
            "tracks": "tracks",
            "albums": "albums",
            "artists": "artists",
            "features": "audio-features",
        }
        for endpoint, count in self.spotify.get("requests_per_endpoint", {}).items():
            for name, prefix in prefixes.items():
                if endpoint.startswith(prefix) and name in per_type:
                    per_type[name] += count
        if "features" in per_type:
            per_type["features"] += self.reccobeats.get("requests", 0)
        return {
            name: round(count / self.types[name].done, 4) if self.types[name].done else 0.0
            for name, count in per_type.items()
        }


class _Skip(Exception):
    """This type cannot be worked on in this run; the message says why."""


@dataclass
class _Buffer:
    rows: shapes.Rows = field(default_factory=shapes.Rows)
    outcomes: list[Outcome] = field(default_factory=list)


async def enrich(
    db: Database,
    *,
    spotify: SpotifyClient | None,
    reccobeats: ReccoBeatsClient | None,
    types: Sequence[str] = TYPES,
    limit: int | None = None,
    progress: Progress | None = None,
    page: int = PAGE,
    flush_every: int = FLUSH,
) -> EnrichSummary:
    """Enrich each requested type in turn; returns the summary (also when stopped)."""
    unknown = sorted(set(types) - set(TYPES))
    if unknown:
        raise TuneclusterError(
            f"unknown enrichment type(s) {', '.join(unknown)} (use {', '.join(TYPES)})"
        )
    run = _Run(db, spotify, reccobeats, limit, progress, page, flush_every)
    started = time.monotonic()
    try:
        for name in TYPES:
            if name in types:
                await run.type(name)
    except CoolingDown as stop:  # Spotify's or ReccoBeats'
        run.summary.stopped = str(stop)
    finally:
        run.summary.elapsed_seconds = time.monotonic() - started
        if spotify is not None:
            run.summary.spotify = spotify.stats()
            run.summary.capabilities = await spotify.capabilities()
        if reccobeats is not None:
            run.summary.reccobeats = reccobeats.stats()
    return run.summary


class _Run:
    """One enrichment run: the clients, the bounds, and the summary it fills in."""

    def __init__(
        self,
        db: Database,
        spotify: SpotifyClient | None,
        reccobeats: ReccoBeatsClient | None,
        limit: int | None,
        progress: Progress | None,
        page: int,
        flush_every: int,
    ) -> None:
        self.db = db
        self.spotify = spotify
        self.reccobeats = reccobeats
        self.limit = limit
        self.progress = progress or (lambda *_: None)
        self.page = page
        self.with_popularity: dict[str, bool] = {}
        self.flush_every = flush_every
        self.summary = EnrichSummary()

    async def type(self, name: str) -> None:
        entity_type, aspect = ASPECT[name]
        summary = self.summary.types[name] = TypeSummary()
        if name != "features" and self.spotify is None:
            summary.skipped = "no Spotify credentials: catalogue-only mode"
            return
        if name == "features" and self.spotify is None and self.reccobeats is None:
            summary.skipped = "no Spotify credentials and no ReccoBeats"
            return
        with_popularity = self.with_popularity[name] = await self._with_popularity(name)
        now = clock.naive_now()
        async with self.db.connection() as conn:
            total = await state.count_pending(
                conn, entity_type, aspect, now=now, with_popularity=with_popularity
            )
        summary.pending = min(total, self.limit) if self.limit is not None else total
        self.progress(name, 0, summary.pending)
        after: str | None = None
        while summary.done < summary.pending:
            want = min(self.page, summary.pending - summary.done)
            async with self.db.connection() as conn:
                ids = await state.pending(
                    conn, entity_type, aspect, now=now, with_popularity=with_popularity,
                    after=after, limit=want,
                )  # fmt: skip
            if not ids:
                break
            after = ids[-1]
            try:
                await self._page(name, ids, summary)
            except _Skip as skip:
                summary.skipped = str(skip)
                return

    async def _with_popularity(self, name: str) -> bool:
        """Whether this app's answers carry popularity. When that is unknown (never
        learned, or found absent longer ago than the client's re-check period) and some
        fetches came back without it, one of them is fetched again to find out: an app
        that gained extended access then refetches what it got without popularity."""
        kind = KIND.get(name)
        if kind is None or self.spotify is None:
            return False
        known = await self.spotify.has_field(kind, "popularity")
        if known is None:
            known = await self.spotify.has_field("tracks", "popularity")
        if known is None:
            known = await self._probe(name, kind)
        return bool(known)

    async def _probe(self, name: str, kind: str) -> bool | None:
        entity_type, aspect = ASPECT[name]
        async with self.db.connection() as conn:  # nothing was fetched short: no question
            ids = await state.fetched_without_popularity(conn, entity_type, aspect, limit=1)
        if not ids:
            return None
        try:
            async for _ in self.spotify.units(kind, ids):
                pass  # the answer teaches the client its fields; the main pass stores it
        except SpotifyError:
            return None  # a cool-down or a refusal: the main pass meets it and says so
        return await self.spotify.has_field(kind, "popularity")

    async def _page(self, name: str, ids: list[str], summary: TypeSummary) -> None:
        buffer = _Buffer()
        valid = [i for i in ids if is_spotify_id(i)]
        buffer.outcomes += [
            Outcome(i, NOT_FOUND, "not a Spotify id") for i in ids if not is_spotify_id(i)
        ]
        try:
            if name == "features":
                await self._features(valid, buffer, summary)
            else:
                await self._details(name, valid, buffer, summary)
        finally:
            if buffer.outcomes:
                await self._flush(name, buffer, summary)

    async def _details(
        self, name: str, ids: list[str], buffer: _Buffer, summary: TypeSummary
    ) -> None:
        assert self.spotify is not None  # type() skips the Spotify types without a client
        add = {
            "tracks": shapes.add_track,
            "albums": shapes.add_album,
            "artists": shapes.add_artist,
        }[name]
        async for chunk, outcome in self.spotify.units(KIND[name], ids):
            if isinstance(outcome, Exception):
                buffer.outcomes += [self._failed(i, outcome) for i in chunk]
            else:
                for one in chunk:
                    obj = outcome.get(one)
                    if isinstance(obj, Exception):
                        buffer.outcomes.append(self._failed(one, obj))
                    elif obj is None:
                        buffer.outcomes.append(
                            Outcome(one, NOT_FOUND, f"Spotify has no such {name[:-1]}")
                        )
                    else:
                        add(buffer.rows, obj)
                        partial = obj.get("popularity") is None and not self.with_popularity[name]
                        buffer.outcomes.append(
                            Outcome(one, FETCHED, WITHOUT_POPULARITY if partial else None)
                        )
            await self._flush_if_full(name, buffer, summary)

    async def _features(self, ids: list[str], buffer: _Buffer, summary: TypeSummary) -> None:
        """Spotify's audio features where this app gets them, the rest from ReccoBeats."""
        if self.spotify is None:
            fallback, forbidden = ids, True
        else:
            fallback, forbidden = await self._spotify_features(self.spotify, ids, buffer, summary)
        if not fallback:
            return
        if self.reccobeats is None:
            if forbidden:  # nobody to ask: leave them for a run that has ReccoBeats
                raise _Skip(
                    "Spotify refuses audio features to this app and ReccoBeats is unavailable"
                )
            buffer.outcomes += [
                Outcome(i, NOT_FOUND, "Spotify has no audio features for it") for i in fallback
            ]
            return
        await self._reccobeats_features(self.reccobeats, fallback, buffer, summary)

    async def _spotify_features(
        self, spotify: SpotifyClient, ids: list[str], buffer: _Buffer, summary: TypeSummary
    ) -> tuple[list[str], bool]:
        """Buffer what Spotify gives; return the ids left for ReccoBeats and whether
        Spotify refuses audio features to this app."""
        fallback: list[str] = []
        settled: set[str] = set()
        try:
            async for chunk, outcome in spotify.units("audio_features", ids):
                settled.update(chunk)
                if isinstance(outcome, Exception):
                    buffer.outcomes += [self._failed(i, outcome) for i in chunk]
                    continue
                for one in chunk:
                    obj = outcome.get(one)
                    if isinstance(obj, Exception):
                        buffer.outcomes.append(self._failed(one, obj))
                        continue
                    row = shapes.feature_row(obj, one, "spotify") if obj else None
                    if row:
                        buffer.rows.features.append(row)
                        buffer.outcomes.append(Outcome(one, FETCHED))
                    else:
                        fallback.append(one)
                await self._flush_if_full("features", buffer, summary)
        except SpotifyForbidden:
            return fallback + [i for i in ids if i not in settled], True
        return fallback, False

    async def _reccobeats_features(
        self, reccobeats: ReccoBeatsClient, ids: list[str], buffer: _Buffer, summary: TypeSummary
    ) -> None:
        async for chunk, outcome in reccobeats.units(ids):
            if isinstance(outcome, Exception):
                buffer.outcomes += [self._failed(i, outcome) for i in chunk]
                continue
            for one in chunk:
                if one in outcome:
                    buffer.rows.features.append(outcome[one])
                    buffer.outcomes.append(Outcome(one, FETCHED))
                else:
                    buffer.outcomes.append(
                        Outcome(
                            one,
                            UNAVAILABLE,
                            "ReccoBeats has no audio features for it",
                            self._later(RETRY_UNAVAILABLE),
                        )
                    )
            await self._flush_if_full("features", buffer, summary)

    def _failed(self, one: str, error: Exception) -> Outcome:
        return Outcome(one, FAILED, str(error), self._later(RETRY_FAILED))

    @staticmethod
    def _later(delay: timedelta) -> datetime:
        return clock.naive_now() + delay

    async def _flush_if_full(self, name: str, buffer: _Buffer, summary: TypeSummary) -> None:
        if len(buffer.outcomes) >= self.flush_every:
            await self._flush(name, buffer, summary)

    async def _flush(self, name: str, buffer: _Buffer, summary: TypeSummary) -> None:
        entity_type, aspect = ASPECT[name]
        rows, outcomes = buffer.rows, buffer.outcomes
        async with self.db.transaction() as conn:
            await store(conn, rows)
            await state.record(conn, entity_type, aspect, outcomes, now=clock.naive_now())
        for o in outcomes:
            setattr(summary, o.status, getattr(summary, o.status) + 1)
        buffer.rows, buffer.outcomes = shapes.Rows(), []
        self.progress(name, summary.done, summary.pending)


async def store(conn: AsyncConnection, rows: shapes.Rows) -> None:
    """Write what Spotify/ReccoBeats gave, in foreign-key order. Rows that exist keep
    their `source` (where the entity came from); new ones are marked 'spotify'."""
    if rows.artists:
        await catalogue.upsert_artists(conn, await _keep_sources(conn, "artist", rows.artists))
    if rows.albums:
        await catalogue.upsert_albums(conn, await _keep_sources(conn, "album", rows.albums))
    if rows.tracks:
        await catalogue.upsert_tracks(conn, await _keep_sources(conn, "track", rows.tracks))
    if rows.artist_albums:
        await catalogue.link_artist_albums(conn, rows.artist_albums)
    if rows.artist_tracks:
        await catalogue.link_artist_tracks(conn, rows.artist_tracks)
    if rows.genres:
        await catalogue.upsert_artist_genres(conn, rows.genres)
    if rows.features:
        await catalogue.upsert_audio_features(conn, rows.features)


async def _keep_sources(
    conn: AsyncConnection, entity_type: str, rows: dict[str, dict]
) -> list[dict]:
    known = await state.existing_sources(conn, entity_type, rows)
    return [{**row, "source": known.get(one, row["source"])} for one, row in rows.items()]
