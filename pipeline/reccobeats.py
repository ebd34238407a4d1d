"""ReccoBeats: audio features by Spotify id when Spotify refuses them.

`GET /audio-features?ids=a,b,c` answers `{"content": [...]}` whose entries carry
ReccoBeats' own id; the Spotify id is only in `href`, so results are matched back
through it. Unknown ids are omitted (not null): the caller records them as unavailable
with a retry date. No time_signature comes back. Its own pace and 429 handling, through
the same transport as Spotify.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp

from pipeline.spotify.errors import SpotifyCoolingDown, SpotifyError, SpotifyForbidden
from pipeline.spotify.limits import RateGate
from pipeline.spotify.session import SessionClient
from pipeline.spotify.shapes import feature_row
from pipeline.spotify.state import ServiceState
from pipeline.spotify.transport import BadRequest, Errors, Transport

SOURCE = "reccobeats"
BATCH = 40  # reported cap per request
_HREF = re.compile(r"open\.spotify\.com/(?:intl-[A-Za-z_-]+/)?track/([0-9A-Za-z]{22})")


class ReccoBeatsError(SpotifyError):
    """ReccoBeats could not answer (down, malformed, over its limit)."""


class ReccoBeatsCoolingDown(SpotifyCoolingDown, ReccoBeatsError):
    service = "ReccoBeats"


class ReccoBeatsForbidden(SpotifyForbidden, ReccoBeatsError):
    service = "ReccoBeats"


ERRORS = Errors(
    forbidden=ReccoBeatsForbidden,
    cooling=ReccoBeatsCoolingDown,
    unavailable=ReccoBeatsError,
    auth=ReccoBeatsError,
)


def spotify_id(href: Any) -> str | None:
    found = _HREF.search(href) if isinstance(href, str) else None
    return found.group(1) if found else None


class ReccoBeatsClient(SessionClient):
    """`async with ReccoBeatsClient(base_url=...) as recco: await recco.audio_features(ids)`."""

    def __init__(
        self,
        *,
        base_url: str = "https://api.reccobeats.com/v1",
        requests_per_second: float = 2.0,
        concurrency: int = 2,
        timeout: float = 15.0,
        max_attempts: int = 5,
        backoff_initial: float = 0.5,
        cooldown_cap_seconds: float = 300.0,
        batch_size: int = BATCH,
        state: ServiceState | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(session)
        self.batch_size = batch_size
        self.gate = RateGate(requests_per_second, concurrency)
        self._settings = {
            "base_url": base_url,
            "state": state,
            "timeout": timeout,
            "max_attempts": max_attempts,
            "backoff_initial": backoff_initial,
            "cooldown_cap": cooldown_cap_seconds,
        }

    def __repr__(self) -> str:
        return f"ReccoBeatsClient({self._settings['base_url']!r})"

    def _make_transport(self, session: aiohttp.ClientSession) -> Transport:
        settings = dict(self._settings)
        return Transport(
            session,
            settings.pop("base_url"),
            self.gate,
            service="ReccoBeats",
            errors=ERRORS,
            **settings,
        )

    def stats(self) -> dict[str, Any]:
        return self.transport.stats.as_dict(self.gate.waited, self.gate.cooldown.total)

    async def features_batch(self, ids: Sequence[str]) -> dict[str, dict]:
        """Feature rows (catalogue shape, source 'reccobeats') for the ids it knows."""
        ids = list(dict.fromkeys(ids))[: self.batch_size]
        if not ids:
            return {}
        try:
            body = await self.transport.get(
                "audio-features", {"ids": ",".join(ids)}, endpoint="audio-features", valid=_valid
            )
        except BadRequest:
            body = None
        wanted = set(ids)
        found: dict[str, dict] = {}
        for entry in (body or {}).get("content") or []:
            track_id = spotify_id(entry.get("href"))
            if track_id in wanted and (row := feature_row(entry, track_id, SOURCE)):
                found[track_id] = row
        return found

    async def units(self, ids: Sequence[str]) -> AsyncIterator[tuple[list[str], Any]]:
        """(ids, found rows or error) per request, in order; a cool-down ends it."""
        ids = list(dict.fromkeys(ids))
        for start in range(0, len(ids), self.batch_size):
            chunk = ids[start : start + self.batch_size]
            try:
                yield chunk, await self.features_batch(chunk)
            except ReccoBeatsCoolingDown:
                raise
            except SpotifyError as error:
                yield chunk, error

    async def audio_features(self, ids: Sequence[str]) -> dict[str, dict]:
        found: dict[str, dict] = {}
        async for _chunk, outcome in self.units(ids):
            if isinstance(outcome, Exception):
                raise outcome
            found.update(outcome)
        return found


def _valid(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and isinstance(body.get("content"), list)
        and all(isinstance(e, dict) for e in body["content"])
    )
