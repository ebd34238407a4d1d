"""The Spotify Web API client that adapts to what its app may do.

Capabilities are discovered by trying, and remembered with the time they were learned
(`api_capability` through a `ServiceState`): per entity type the batch endpoint
(`tracks` 50, `artists` 50, `albums` 20, `audio_features` 100 ids), else one id per
request with bounded concurrency, else nothing (403 on both: permanent for the app).
A mode other than "batch" is re-checked after `recheck_days`, since Spotify's rules
for an app change. Which optional fields come back (popularity, followers) is learned
from the answers, so the enrichment only asks for what this app can get; a field found
absent is re-learned after `recheck_days` as well.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any, ClassVar, Literal

import aiohttp

from pipeline.spotify import shapes
from pipeline.spotify.auth import Credentials, TokenProvider
from pipeline.spotify.errors import (
    ERRORS,
    SpotifyAuthError,
    SpotifyBadRequest,
    SpotifyCoolingDown,
    SpotifyError,
    SpotifyForbidden,
    SpotifyUnavailable,
)
from pipeline.webapi import ApiConfig, ClientStats, ServiceErrors, ServiceState, SessionClient
from sql import clock

Kind = Literal["tracks", "artists", "albums", "audio_features"]
Mode = Literal["batch", "single", "forbidden"]
BATCH: dict[str, int] = {"tracks": 50, "artists": 50, "albums": 20, "audio_features": 100}
PATH = {
    "tracks": "tracks",
    "artists": "artists",
    "albums": "albums",
    "audio_features": "audio-features",
}
OPTIONAL_FIELDS = {
    "tracks": ("popularity",),
    "artists": ("popularity", "followers"),
    "albums": ("popularity", "label"),
}
ISOLATE_GIVE_UP = 3
API = ApiConfig("https://api.spotify.com/v1", requests_per_second=3.0, concurrency=4)
ACCOUNTS_URL = "https://accounts.spotify.com"
Result = dict[str, dict | None]  # a value may also be a SpotifyError (that id failed)
Outcome = Result | SpotifyError


class SpotifyClient(SessionClient):
    """Async Web API client; `async with SpotifyClient(config, client_id=..., ...) as
    spotify: ...` (`config` defaults to `API`)."""

    service: ClassVar[str] = "Spotify"
    errors: ClassVar[ServiceErrors] = ERRORS

    def __init__(
        self,
        config: ApiConfig = API,
        *,
        client_id: str,
        client_secret: str,
        accounts_url: str = ACCOUNTS_URL,
        recheck_days: float = 7.0,
        state: ServiceState | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(config, state=state, session=session)
        self._credentials = Credentials(client_id, client_secret)
        self._accounts_url = accounts_url
        self._tokens: TokenProvider | None = None
        self.recheck = timedelta(days=recheck_days)
        self._modes: dict[str, Mode] | None = None
        self._fields: dict[str, str] = {}
        self._probe_locks = {kind: asyncio.Lock() for kind in BATCH}

    def __repr__(self) -> str:
        return f"SpotifyClient({self.config.base_url!r}, {self._credentials!r})"

    # --- lifecycle ---------------------------------------------------------------------------

    def _auth(self, session: aiohttp.ClientSession) -> TokenProvider:
        self._tokens = TokenProvider(
            session,
            self._accounts_url,
            self._credentials,
            timeout=self.config.timeout,
            max_attempts=self.config.max_attempts,
            backoff_initial=self.config.backoff_initial,
        )
        return self._tokens

    def stats(self) -> ClientStats:
        return {**super().stats(), "tokens": self._tokens.fetched if self._tokens else 0}

    # --- what this app may do ------------------------------------------------------------------

    async def modes(self) -> dict[str, Mode]:
        """The known mode per entity type (missing or stale entries are unknown)."""
        if self._modes is None:
            known = await self.state.capabilities()
            now = clock.aware_now()
            self._modes = {}
            for kind in BATCH:
                value, learned = known.get(f"{kind}.mode", (None, None))
                if value == "batch" or (
                    value in ("single", "forbidden") and now - learned < self.recheck
                ):
                    self._modes[kind] = value  # type: ignore[assignment]
            self._fields = {  # an absent field is re-learned too: the app may have gained it
                name.removeprefix("field."): value
                for name, (value, learned) in known.items()
                if name.startswith("field.")
                and (value == "present" or now - learned < self.recheck)
            }
        return self._modes

    async def capabilities(self) -> dict[str, str]:
        """Everything learned so far, for summaries and `--json` output."""
        modes = await self.modes()
        return {
            **{f"{k}.mode": v for k, v in modes.items()},
            **{f"field.{k}": v for k, v in self._fields.items()},
        }

    async def has_field(self, kind: str, name: str) -> bool | None:
        """Whether answers for `kind` carry `name` (None while unknown)."""
        await self.modes()
        value = self._fields.get(f"{kind}.{name}")
        return None if value is None else value == "present"

    async def _learn_mode(self, kind: str, mode: Mode) -> None:
        modes = await self.modes()
        if modes.get(kind) != mode:
            modes[kind] = mode
        await self.state.learn(f"{kind}.mode", mode)

    async def _learn_fields(self, kind: str, objects: Iterable[dict | None]) -> None:
        seen = [o for o in objects if isinstance(o, dict)]
        if not seen or kind not in OPTIONAL_FIELDS:
            return
        for name in OPTIONAL_FIELDS[kind]:
            value = "present" if any(o.get(name) is not None for o in seen) else "absent"
            if self._fields.get(f"{kind}.{name}") != value and (
                value == "present" or f"{kind}.{name}" not in self._fields
            ):
                self._fields[f"{kind}.{name}"] = value
                await self.state.learn(f"field.{kind}.{name}", value)

    # --- fetching by id ------------------------------------------------------------------------

    async def units(
        self, kind: Kind, ids: Sequence[str]
    ) -> AsyncIterator[tuple[list[str], Outcome]]:
        """Fetch `ids` in the best mode, yielding (ids, result or error) per request unit
        as units complete. A cool-down or an auth failure ends the whole iteration."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            return
        while ids:
            mode = (await self.modes()).get(kind)
            if mode is not None:
                break
            async with self._probe_locks[kind]:
                if (await self.modes()).get(kind) is not None:
                    continue
                first = ids[: BATCH[kind]]
                try:
                    first, result = await self._discover(kind, first)
                except (SpotifyCoolingDown, SpotifyAuthError, SpotifyForbidden):
                    raise
                except SpotifyError as error:
                    result = error
                ids = ids[len(first) :]
            yield first, result
        if not ids:
            return
        mode = (await self.modes()).get(kind)
        if mode == "forbidden":
            raise SpotifyForbidden(PATH[kind], "learned earlier")
        size = BATCH[kind] if mode == "batch" else 1
        chunks = [ids[i : i + size] for i in range(0, len(ids), size)]
        async for chunk, outcome in _bounded(
            chunks, lambda c: self._unit(kind, c), self.config.concurrency * 2
        ):
            yield chunk, outcome

    async def get_many(self, kind: Kind, ids: Sequence[str]) -> Result:
        """Every id's object (None when Spotify has none); the first failure is raised."""
        found: Result = {}
        async for _chunk, outcome in self.units(kind, ids):
            if isinstance(outcome, Exception):
                raise outcome
            found.update(outcome)
        return found

    async def _discover(self, kind: str, ids: list[str]) -> tuple[list[str], Outcome]:
        """Try the batch endpoint once; on 403 try one id alone; remember what worked.
        Returns the ids it settled (all of them, or the first alone) and their result."""
        try:
            result = await self._batch(kind, ids)
            await self._learn_mode(kind, "batch")
            return ids, result
        except SpotifyForbidden:
            pass
        try:
            result = await self._single(kind, ids[0])
        except SpotifyForbidden:
            await self._learn_mode(kind, "forbidden")
            raise
        except SpotifyError as error:
            return ids[:1], error
        await self._learn_mode(kind, "single")
        return ids[:1], result

    async def _unit(self, kind: str, ids: list[str]) -> Outcome:
        try:
            if len(ids) > 1 or (await self.modes()).get(kind) == "batch":
                try:
                    return await self._batch(kind, ids)
                except SpotifyForbidden:  # the app lost batch access mid-run
                    await self._learn_mode(kind, "single")
                    return await self._isolate(kind, ids)
                except SpotifyUnavailable:  # one bad id can sink a batch: find it
                    return await self._isolate(kind, ids)
            return await self._single(kind, ids[0])
        except SpotifyForbidden:
            await self._learn_mode(kind, "forbidden")
            raise
        except (SpotifyCoolingDown, SpotifyAuthError):
            raise
        except SpotifyError as error:
            return error

    async def _isolate(self, kind: str, ids: list[str]) -> Outcome:
        """One id at a time, each failure kept with its id. Three failures in a row mean
        an outage, not a bad id: the rest fail alike without more requests."""
        found: dict[str, dict | SpotifyError | None] = {}
        streak = 0
        last: SpotifyError | None = None
        for one in ids:
            if streak >= ISOLATE_GIVE_UP and last is not None:
                found[one] = last
                continue
            try:
                found.update(await self._single(kind, one))
                streak = 0
            except (SpotifyCoolingDown, SpotifyAuthError, SpotifyForbidden):
                raise
            except SpotifyError as failure:
                found[one] = last = failure
                streak += 1
        return found  # type: ignore[return-value]

    async def _batch(self, kind: str, ids: list[str]) -> Result:
        key = kind

        def valid(body: Any) -> bool:
            items = body.get(key) if isinstance(body, dict) else None
            return (
                isinstance(items, list)
                and len(items) == len(ids)
                and all(item is None or shapes.is_entity(item) for item in items)
            )

        body = await self.transport.get(
            PATH[kind], {"ids": ",".join(ids)}, endpoint=f"{PATH[kind]} (batch)", valid=valid
        )
        items = body[key] if body is not None else [None] * len(ids)
        result = dict(zip(ids, items, strict=True))
        await self._learn_fields(kind, result.values())
        return result

    async def _single(self, kind: str, one: str) -> Result:
        try:
            body = await self.transport.get(
                f"{PATH[kind]}/{one}",
                endpoint=PATH[kind],
                valid=lambda b: b is None or shapes.is_entity(b),
            )
        except SpotifyBadRequest:  # Spotify's "invalid id"
            body = None
        await self._learn_fields(kind, [body])
        return {one: body}

    # --- other reads ---------------------------------------------------------------------------

    async def album_tracks(
        self, album_id: str, *, limit: int = 200
    ) -> tuple[dict | None, list[dict]]:
        """An album and its (simplified) tracks, following `next` pages up to `limit`."""
        album = (await self.get_many("albums", [album_id])).get(album_id)
        if album is None:
            return None, []
        page = album.get("tracks") if isinstance(album.get("tracks"), dict) else {}
        items = [t for t in page.get("items") or [] if shapes.is_entity(t)]
        offset = len(page.get("items") or [])
        while page.get("next") and len(items) < limit:
            page = (
                await self.transport.get(
                    f"albums/{album_id}/tracks",
                    {"offset": str(offset), "limit": "50"},
                    endpoint="albums/tracks",
                    valid=lambda b: isinstance(b, dict) and isinstance(b.get("items"), list),
                )
                or {}
            )
            batch = page.get("items") or []
            if not batch:
                break
            offset += len(batch)
            items += [t for t in batch if shapes.is_entity(t)]
        return album, items[:limit]

    async def playlist(
        self, playlist_id: str, *, limit: int = 100
    ) -> tuple[str | None, list[dict]] | None:
        """A playlist's name and full tracks (first `limit`); None when Spotify has none.
        Development-mode apps only see playlists their user owns: 403/404 say so."""
        body = await self.transport.get(
            f"playlists/{playlist_id}",
            {"fields": "name,tracks(items(track),next)"},
            endpoint="playlists",
            valid=lambda b: b is None or isinstance(b, dict),
        )
        if body is None:
            return None
        page = body.get("tracks") if isinstance(body.get("tracks"), dict) else {}
        tracks = [
            item["track"]
            for item in page.get("items") or []
            if isinstance(item, dict) and shapes.is_entity(item.get("track"))
        ]
        return (body.get("name") if isinstance(body.get("name"), str) else None), tracks[:limit]

    async def search_tracks(self, query: str, *, limit: int = 10) -> list[dict]:
        """Track search; development-mode apps get at most 10 results."""
        body = await self.transport.get(
            "search",
            {"q": query[:200], "type": "track", "limit": str(max(1, min(limit, 10)))},
            endpoint="search",
            valid=lambda b: isinstance(b, dict) and isinstance(b.get("tracks"), dict),
        )
        items = (body or {}).get("tracks", {}).get("items") or []
        return [t for t in items if shapes.is_entity(t)]


async def _bounded(
    chunks: list[list[str]],
    work: Callable[[list[str]], Awaitable[Outcome]],
    window: int,
) -> AsyncIterator[tuple[list[str], Outcome]]:
    """Run `work` over chunks with at most `window` outstanding, yielding as they finish;
    a fatal error (cool-down, auth, forbidden) cancels the rest and is raised."""
    queue = iter(chunks)
    running: dict[asyncio.Task, list[str]] = {}

    def refill() -> None:
        while len(running) < window:
            chunk = next(queue, None)
            if chunk is None:
                return
            running[asyncio.ensure_future(work(chunk))] = chunk

    refill()
    try:
        while running:
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                chunk = running.pop(task)
                yield chunk, task.result()
            refill()
    finally:
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
