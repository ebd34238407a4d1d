"""One JSON GET done right: shared pace and cool-down, bearer token with one refresh on
401, 429 honoured (Retry-After plus jitter, or a persisted stop beyond the cap or on a
used-up quota), 5xx / timeouts / malformed bodies retried with bounded exponential
backoff (tenacity), 403 raised as permanent, 404 returned as None.

Neutral: the service's name, its error types and its token (if any) are handed in, so
the Spotify client and, without a token, the ReccoBeats client share it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

import aiohttp
import orjson
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from pipeline.webapi.config import ApiConfig
from pipeline.webapi.errors import ServiceErrors
from pipeline.webapi.limits import RateGate
from pipeline.webapi.state import MemoryState, ServiceState
from pipeline.webapi.stats import RequestCounts
from sql import clock

log = logging.getLogger("tunecluster.http")
MAX_THROTTLES = 20  # 429s under the cap one request sits out before giving up


class BearerAuth(Protocol):
    """A source of bearer tokens (Spotify's `TokenProvider`)."""

    async def token(self) -> str: ...
    def invalidate(self, token: str) -> None: ...
    def redact(self, text: str) -> str: ...


class _Transient(Exception):
    """Worth another attempt: 5xx, a timeout, a broken connection, a malformed body."""


class Transport:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        config: ApiConfig,
        gate: RateGate,
        *,
        service: str,
        errors: ServiceErrors,
        auth: BearerAuth | None = None,
        state: ServiceState | None = None,
        backoff_max: float = 30.0,
    ) -> None:
        self.session = session
        self.base_url = config.base_url.rstrip("/")
        self.gate = gate
        self.service = service
        self.auth = auth
        self.state = state or MemoryState()
        self.timeout = aiohttp.ClientTimeout(total=config.timeout)
        self.max_attempts = config.max_attempts
        self.backoff_initial = config.backoff_initial
        self.backoff_max = backoff_max
        self.cooldown_cap = config.cooldown_cap_seconds
        self.errors = errors
        self.counts = RequestCounts()
        self._stopped: tuple[datetime, str] | None = None
        self._stop_lock = asyncio.Lock()
        self._checked_persisted = False

    def __repr__(self) -> str:
        return f"Transport({self.service}, {self.base_url!r})"

    def closed(self) -> Transport:
        """Keep the counts readable after the session closed; refuse further requests."""
        self.session = None  # type: ignore[assignment]
        return self

    # --- the persisted stop ----------------------------------------------------------------

    def stopped_until(self) -> datetime | None:
        """The end of a stop still running (this run's or a persisted one read at open)."""
        if self._stopped and self._stopped[0] > clock.aware_now():
            return self._stopped[0]
        return None

    async def refuse_if_stopped(self) -> None:
        """Raise the cooling error when a stop (this run's or a persisted one) is running."""
        if not self._checked_persisted:
            self._checked_persisted = True
            self._stopped = await self.state.cooldown()
        if self._stopped and self._stopped[0] > clock.aware_now():
            raise self.errors.cooling(self._stopped[0], self._stopped[1])

    async def _stop(self, seconds: float, reason: str) -> None:
        """Stop everyone, persist until when (first reason wins), raise the cooling error."""
        self.gate.cooldown.extend(seconds)  # nothing is sent from now on
        async with self._stop_lock:
            if self._stopped is None or self._stopped[0] <= clock.aware_now():
                until = clock.aware_now() + timedelta(seconds=seconds)
                # shielded: a sibling request's error must not cancel the write
                await asyncio.shield(self.state.stop_until(until, reason))
                self._stopped = (until, reason)
                log.warning(
                    "%s asked to stop until %s (%s)", self.service, until.isoformat(), reason
                )
        raise self.errors.cooling(*self._stopped)

    # --- one request ---------------------------------------------------------------------------

    async def get(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        endpoint: str,
        valid: Callable[[Any], bool] | None = None,
    ) -> Any | None:
        """The JSON body of `GET base/path`; None on 404. A body `valid` rejects counts
        as malformed and is retried like a 5xx."""
        await self.refuse_if_stopped()
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=wait_exponential(multiplier=self.backoff_initial, max=self.backoff_max)
            + wait_random(0, self.backoff_initial),
            retry=retry_if_exception_type(_Transient),
            reraise=True,
            before_sleep=self._count_retry,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    body = await self._until_not_throttled(path, params, endpoint)
                    if valid is not None and not valid(body):
                        raise _Transient("malformed body")
                    return body
        except _NotFound:
            return None
        except _Transient as error:
            raise self.errors.unavailable(
                f"{self.service} {endpoint} failed after {self.max_attempts} attempts ({error})"
            ) from None
        raise AssertionError("unreachable")

    def _count_retry(self, _state: RetryCallState) -> None:
        self.counts.retried += 1

    async def _until_not_throttled(
        self, path: str, params: Mapping[str, str] | None, endpoint: str
    ) -> Any | None:
        refreshed = False
        for _ in range(MAX_THROTTLES):
            status, headers, body, token = await self._send(path, params, endpoint)
            if status == 200:
                return _decode(body)
            if status == 401 and self.auth is not None and not refreshed:
                refreshed = True
                self.auth.invalidate(token or "")
                continue
            if status == 429:
                await self._throttled(headers, body)
                continue
            self._raise_for(status, body, endpoint)
        raise _Transient(f"still throttled after {MAX_THROTTLES} pauses")

    async def _send(
        self, path: str, params: Mapping[str, str] | None, endpoint: str
    ) -> tuple[int, Mapping[str, str], bytes, str | None]:
        url = f"{self.base_url}/{path.lstrip('/')}"
        token = await self.auth.token() if self.auth is not None else None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.gate.slot():
            self.counts.requests[endpoint] += 1
            try:
                async with self.session.get(
                    url, params=params, headers=headers, timeout=self.timeout
                ) as response:
                    return response.status, response.headers, await response.read(), token
            except (TimeoutError, aiohttp.ClientError) as error:
                log.debug("%s %s: %s", self.service, endpoint, type(error).__name__)
                raise _Transient(type(error).__name__) from None

    async def _throttled(self, headers: Mapping[str, str], body: bytes) -> None:
        self.counts.throttled += 1
        wait = _retry_after(headers)
        reason = _error_field(body, "reason") or ""
        if reason == "QUOTA_EXCEEDED" or wait > self.cooldown_cap:
            await self._stop(max(wait, 1.0), reason or f"Retry-After {wait:g} s")
        jittered = wait + random.uniform(0.05, 0.25) + 0.05 * wait
        log.info("%s asked for a %.1f s pause", self.service, wait)
        self.gate.cooldown.extend(jittered)

    def _raise_for(self, status: int, body: bytes, endpoint: str) -> None:
        if status == 404:
            raise _NotFound
        message = (_error_field(body, "message") or "").strip()[:120]
        if self.auth is not None:
            message = self.auth.redact(message)
        if status == 401:
            raise self.errors.auth(f"{self.service} refused a fresh token (401)")
        if status == 403:
            raise self.errors.forbidden(endpoint, message)
        if status == 400:
            raise self.errors.bad_request(
                f"{self.service} refused the request (400: {message or 'bad request'})"
            )
        if status >= 500 or status == 408:
            raise _Transient(f"HTTP {status}")
        raise self.errors.unavailable(f"{self.service} {endpoint} answered HTTP {status}")


class _NotFound(Exception):
    pass


def _decode(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _Transient("malformed JSON body") from None


def _retry_after(headers: Mapping[str, str]) -> float:
    raw = headers.get("Retry-After", "")
    try:
        return max(0.0, float(raw))
    except ValueError:
        return 1.0


def _error_field(body: bytes, name: str) -> str | None:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    value = error.get(name) if isinstance(error, dict) else None
    return value if isinstance(value, str) else None
