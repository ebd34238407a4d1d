"""For the discovery, scheduler and lease tests: small hand-built models, a recording
delivery, counting job bodies, and reads of the recorded runs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert

from bot.services.cards import TrackCard
from bot.services.discovery import DiscoveryPost
from bot.services.jobs import Body, JobOutcome
from sql import jobs, model_versions
from sql.database import Database
from sql.normalize import norm_name
from sql.schema import artist, artist_track, track

VERSION = "v-test"


def track_id(bucket: str, cluster: int, i: int) -> str:
    """A 22-character base62 id, readable in failures."""
    head = "".join(ch for ch in bucket if ch.isalnum())[:6]
    return f"{head}{cluster:02d}{i:04d}".ljust(22, "x")


async def build_model(
    db: Database, layout: dict[str, list[int]], *, version: str = VERSION
) -> dict[str, list[str]]:
    """An active model whose bucket `b` has clusters of sizes `layout[b]`, with one
    catalogue track (and artist) per position; returns bucket → track ids."""
    ids: dict[str, list[str]] = {}
    tracks, artists, links, clusters, assignments = [], [], [], [], []
    for bucket, sizes in layout.items():
        ids[bucket] = []
        for number, size in enumerate(sizes):
            clusters.append((bucket, number, size))
            for position in range(size):
                tid = track_id(bucket, number, position)
                name = f"Song {tid[:10]}"
                tracks.append({"track_id": tid, "name": name, "name_norm": norm_name(name),
                               "source": "test"})  # fmt: skip
                artists.append({"artist_id": f"a{tid}"[:22], "name": f"Artist {tid[:10]}",
                                "name_norm": norm_name(f"Artist {tid[:10]}"), "source": "test"})  # fmt: skip
                links.append({"artist_id": f"a{tid}"[:22], "track_id": tid, "position": 0})
                assignments.append((version, bucket, number, position, tid))
                ids[bucket].append(tid)
    async with db.transaction() as conn:
        await conn.execute(insert(track), tracks)
        await conn.execute(insert(artist), artists)
        await conn.execute(insert(artist_track), links)
        await model_versions.insert_model_version(conn, version, fingerprint="f", path="-")
        await model_versions.write_clusters(conn, version, clusters)
        await model_versions.write_assignments(conn, assignments)
        await model_versions.finish_model_version(conn, version, status="ready")
        await model_versions.set_active_version(conn, version)
    return ids


@dataclass
class Recorder:
    """A delivery that keeps what it was asked to post (or fails as told)."""

    posts: list[DiscoveryPost] = field(default_factory=list)
    times: list[datetime] = field(default_factory=list)
    error: Exception | None = None

    async def __call__(self, post: DiscoveryPost, cards: dict[str, TrackCard]) -> int | None:
        if self.error is not None:
            raise self.error
        assert all(p.track_id in cards for p in post.picks)
        self.posts.append(post)
        self.times.append(datetime.now())
        return len(self.posts)

    @property
    def tracks(self) -> list[str]:
        return [p.track_id for post in self.posts for p in post.picks]


def ticker(counts: dict[str, int], key: str, seconds: float = 0.0) -> Body:
    """A job body that counts its runs under `key` (and takes `seconds`)."""

    async def body() -> JobOutcome:
        counts[key] = counts.get(key, 0) + 1
        await asyncio.sleep(seconds)
        return JobOutcome("ok", {"n": counts[key]})

    return body


async def recorded_runs(db: Database, job: str) -> list[dict]:
    """The runs of `job`, oldest first."""
    async with db.connection() as conn:
        return list(reversed(await jobs.runs(conn, job, 1000)))


def per_period(runs: list[dict], period: float) -> dict[int, int]:
    """Runs per epoch-aligned period (the scheduler's periods)."""
    counts: dict[int, int] = {}
    for run in runs:
        index = int(run["started_at"].replace(tzinfo=UTC).timestamp() // period)
        counts[index] = counts.get(index, 0) + 1
    return counts


async def until(check: Callable[[], Any], timeout: float, what: str) -> None:  # noqa: ASYNC109
    """Poll `check` (sync or async) until true."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
