"""ReccoBeats: audio features by Spotify id when Spotify refuses them.

`GET /audio-features?ids=a,b,c` answers `{"content": [...]}` whose entries carry
ReccoBeats' own id; the Spotify id is only in `href`, so results are matched back
through it. Unknown ids are omitted (not null): the caller records them as unavailable
with a retry date. No time_signature comes back. Its own pace and 429 handling, through
the same web-API plumbing as Spotify (`pipeline.webapi`).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar

import aiohttp

from pipeline.spotify.shapes import feature_row
from pipeline.webapi import (
    ApiConfig,
    BadRequest,
    CoolingDown,
    Forbidden,
    ServiceErrors,
    ServiceState,
    SessionClient,
    WebApiError,
)

SOURCE = "reccobeats"
BATCH = 40  # reported cap per request
API = ApiConfig("https://api.reccobeats.com/v1", requests_per_second=2.0, concurrency=2)
_HREF = re.compile(r"open\.spotify\.com/(?:intl-[A-Za-z_-]+/)?track/([0-9A-Za-z]{22})")


class ReccoBeatsError(WebApiError):
    """ReccoBeats could not answer (down, malformed, over its limit)."""


class ReccoBeatsCoolingDown(CoolingDown, ReccoBeatsError):
    service = "ReccoBeats"


class ReccoBeatsForbidden(Forbidden, ReccoBeatsError):
    service = "ReccoBeats"


class ReccoBeatsBadRequest(BadRequest, ReccoBeatsError):
    """400: ReccoBeats refused the ids."""


ERRORS = ServiceErrors(
    forbidden=ReccoBeatsForbidden,
    cooling=ReccoBeatsCoolingDown,
    unavailable=ReccoBeatsError,
    auth=ReccoBeatsError,
    bad_request=ReccoBeatsBadRequest,
)


def spotify_id(href: Any) -> str | None:
    found = _HREF.search(href) if isinstance(href, str) else None
    return found.group(1) if found else None


class ReccoBeatsClient(SessionClient):
    """`async with ReccoBeatsClient(config) as recco: await recco.audio_features(ids)`
    (`config` defaults to `API`)."""

    service: ClassVar[str] = "ReccoBeats"
    errors: ClassVar[ServiceErrors] = ERRORS

    def __init__(
        self,
        config: ApiConfig = API,
        *,
        batch_size: int = BATCH,
        state: ServiceState | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(config, state=state, session=session)
        self.batch_size = batch_size

    async def features_batch(self, ids: Sequence[str]) -> dict[str, dict]:
        """Feature rows (catalogue shape, source 'reccobeats') for the ids it knows."""
        ids = list(dict.fromkeys(ids))[: self.batch_size]
        if not ids:
            return {}
        try:
            body = await self.transport.get(
                "audio-features", {"ids": ",".join(ids)}, endpoint="audio-features", valid=_valid
            )
        except ReccoBeatsBadRequest:
            body = None
        wanted = set(ids)
        found: dict[str, dict] = {}
        for entry in (body or {}).get("content") or []:
            track_id = spotify_id(entry.get("href"))
            if track_id in wanted and (row := feature_row(entry, track_id, SOURCE)):
                found[track_id] = row
        return found

    async def units(
        self, ids: Sequence[str]
    ) -> AsyncIterator[tuple[list[str], dict[str, dict] | ReccoBeatsError]]:
        """(ids, found rows or error) per request, in order; a cool-down ends it."""
        ids = list(dict.fromkeys(ids))
        for start in range(0, len(ids), self.batch_size):
            chunk = ids[start : start + self.batch_size]
            try:
                yield chunk, await self.features_batch(chunk)
            except ReccoBeatsCoolingDown:
                raise
            except ReccoBeatsError as error:
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
