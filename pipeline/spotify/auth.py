"""Client-credentials tokens: fetched once, shared, refreshed before expiry and once on
a 401. The secret and the token live only here and never reach a log or a message."""

from __future__ import annotations

import asyncio
import base64
import logging
import time

import aiohttp
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from pipeline.spotify.errors import SpotifyAuthError

log = logging.getLogger("tunecluster.spotify.auth")
REFRESH_MARGIN = 60.0


class _Transient(Exception):
    pass


class Credentials:
    """A client id and secret whose repr and str never show the secret."""

    __slots__ = ("_secret", "client_id")

    def __init__(self, client_id: str, client_secret: str) -> None:
        if not client_id or not client_secret:
            raise SpotifyAuthError("the Spotify client id and secret must both be set")
        self.client_id = client_id
        self._secret = client_secret

    def basic_header(self) -> str:
        raw = f"{self.client_id}:{self._secret}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def __repr__(self) -> str:
        return f"Credentials(client_id={self.client_id[:4]!r}…, secret=***)"

    __str__ = __repr__


class TokenProvider:
    """The current bearer token for the API, from `{accounts_url}/api/token`."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        accounts_url: str,
        credentials: Credentials,
        *,
        timeout: float = 15.0,
        max_attempts: int = 5,
        backoff_initial: float = 0.5,
        refresh_margin: float = REFRESH_MARGIN,
    ) -> None:
        self._session = session
        self._url = accounts_url.rstrip("/") + "/api/token"
        self._credentials = credentials
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_attempts = max_attempts
        self._backoff = backoff_initial
        self._margin = refresh_margin
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self.fetched = 0  # tokens obtained (tests and the summary count them)
        self.secrets: set[str] = set()  # every token handed out, for redaction

    def __repr__(self) -> str:
        return f"TokenProvider({self._url!r}, {self._credentials!r})"

    async def token(self) -> str:
        if self._token and time.monotonic() < self._expires - self._margin:
            return self._token
        async with self._lock:
            if self._token and time.monotonic() < self._expires - self._margin:
                return self._token
            self._token, lifetime = await self._fetch()
            self._expires = time.monotonic() + lifetime
            self.fetched += 1
            self.secrets.add(self._token)
            return self._token

    def invalidate(self, token: str) -> None:
        """After a 401: the next `token()` fetches a new one (unless already replaced)."""
        if self._token == token:
            self._token = None

    def redact(self, text: str) -> str:
        """`text` with the secret and every token replaced by ***."""
        for secret in (self._credentials._secret, *self.secrets):
            if secret:
                text = text.replace(secret, "***")
        return text

    async def _fetch(self) -> tuple[str, float]:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=wait_exponential(multiplier=self._backoff, max=30) + wait_random(0, self._backoff),
            retry=retry_if_exception_type(_Transient),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._request()
        except _Transient as error:
            raise SpotifyAuthError(
                f"the Spotify accounts service could not give a token ({error})"
            ) from None
        raise AssertionError("unreachable")

    async def _request(self) -> tuple[str, float]:
        try:
            async with self._session.post(
                self._url,
                data={"grant_type": "client_credentials"},
                headers={"Authorization": self._credentials.basic_header()},
                timeout=self._timeout,
            ) as response:
                status = response.status
                body = await response.json(content_type=None) if status < 500 else None
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            log.debug("token request failed: %s", type(error).__name__)
            raise _Transient(type(error).__name__) from None
        if status >= 500 or status == 429:
            raise _Transient(f"HTTP {status}")
        if status != 200 or not isinstance(body, dict):
            code = body.get("error") if isinstance(body, dict) else None
            described = f" ({code})" if isinstance(code, str) else ""
            raise SpotifyAuthError(
                f"Spotify refused the client credentials (HTTP {status}{described}): "
                "check TUNECLUSTER_SPOTIFY_CLIENT_ID and TUNECLUSTER_SPOTIFY_CLIENT_SECRET"
            )
        token, lifetime = body.get("access_token"), body.get("expires_in", 3600)
        if not isinstance(token, str) or not token or not isinstance(lifetime, int | float):
            raise _Transient("malformed token answer")
        return token, float(lifetime)
