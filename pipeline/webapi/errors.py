"""The one-line failures of any web API, by kind. Each service derives its own from
these and from its own base error (`SpotifyError`, `ReccoBeatsError`), so a caller can
catch by service ("anything ReccoBeats") or by kind ("any cool-down"). Members see the
messages as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sql import clock
from sql.errors import TuneclusterError


class WebApiError(TuneclusterError):
    """An outside web API could not answer what was asked."""


class CoolingDown(WebApiError):
    """The service asked us to stop (a long Retry-After or a used-up quota) until `until`."""

    service = "the web API"  # each service's subclass names itself

    def __init__(self, until: datetime, reason: str = "") -> None:
        self.until = until
        shown = clock.to_aware(until).strftime("%Y-%m-%d %H:%M:%S UTC")
        because = f" ({reason})" if reason else ""
        super().__init__(f"{self.service} cooling down until {shown}{because}")


class Forbidden(WebApiError):
    """403: this app may not use the endpoint (permanent for the app)."""

    service = "the web API"

    def __init__(self, endpoint: str, message: str = "") -> None:
        self.endpoint = endpoint
        detail = f": {message}" if message else ""
        super().__init__(f"{self.service} refuses {endpoint} for this app (403{detail})")


class Unavailable(WebApiError):
    """5xx, timeouts or malformed bodies after every allowed attempt."""


class AuthFailed(WebApiError):
    """The service refused the credentials, or its token could not be had."""


class BadRequest(WebApiError):
    """400: the request itself is wrong (for Spotify, usually a malformed id)."""


@dataclass(frozen=True)
class ServiceErrors:
    """The error types one service raises for each kind of failure, so a client only
    ever raises its own service's errors."""

    forbidden: type[Forbidden]
    cooling: type[CoolingDown]
    unavailable: type[WebApiError]
    auth: type[WebApiError]
    bad_request: type[BadRequest]
