"""`/status`: what the catalogue holds, which model serves,
what the background jobs last did, and what Spotify allows this app right now."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from pipeline.spotify.client import BATCH
from sql import catalogue, clock, jobs, model_versions
from sql import enrichment_state as state
from sql.database import Database

SHOWN_TABLES = ("track", "artist", "album", "audio_features", "playlist")
SPOTIFY_KINDS = tuple(BATCH)  # the entity types whose access mode the client learns


@dataclass
class ServingModel:
    version: str
    status: str
    since: datetime | None  # when it finished training (else when it was created)
    age: str  # "3 d", "5 h", … or "unknown"


@dataclass
class Status:
    counts: dict[str, int]
    model: ServingModel | None  # None: no model trained yet
    jobs: list[dict[str, Any]]  # the newest run of each background job
    spotify: str  # what Spotify allows this app, in one line
    feedback: list[str] | None = None  # members' reactions per arm (the bot adds them)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "counts": self.counts,
            "model": asdict(self.model) if self.model is not None else None,
            "jobs": self.jobs,
            "spotify": self.spotify,
        }
        if self.feedback is not None:
            out["feedback"] = self.feedback
        return out


async def status(db: Database, *, spotify_configured: bool) -> Status:
    async with db.connection() as conn:
        counts = await catalogue.counts(conn, SHOWN_TABLES)
        version = await model_versions.active_version(conn)
        model = await model_versions.get_model_version(conn, version) if version else None
        runs = await jobs.last_runs(conn)
        learned = await state.capabilities(conn, "spotify")
        pause = await state.cooldown(conn, "spotify")
    return Status(counts, _model(model), runs, _spotify(spotify_configured, learned, pause))


def _model(row: dict[str, Any] | None) -> ServingModel | None:
    if row is None:
        return None
    since = row.get("finished_at") or row.get("created_at")
    age = _age(since) if isinstance(since, datetime) else "unknown"
    return ServingModel(row["version"], row["status"], since, age)


def _age(since: datetime) -> str:
    seconds = (clock.naive_now() - since).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{max(seconds, 0):.0f} s"


def _spotify(
    configured: bool, learned: dict[str, tuple[str, datetime]], pause: tuple[datetime, str] | None
) -> str:
    if not configured:
        return "no credentials: catalogue-only mode"
    modes = [
        f"{kind} {learned[f'{kind}.mode'][0]}"
        for kind in SPOTIFY_KINDS
        if f"{kind}.mode" in learned
    ]
    tier = ", ".join(modes) if modes else "access not probed yet"
    if pause and pause[0] > clock.naive_now():
        return f"{tier}; cooling down until {pause[0]:%Y-%m-%d %H:%M} UTC ({pause[1]})"
    return tier
