"""The one-line failures the Spotify side raises; the bot shows them to members as-is.

Messages never hold a secret: no client secret, access token or Authorization header
(see `pipeline.spotify.auth.redact`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sql.errors import TuneclusterError


class SpotifyError(TuneclusterError):
    """Spotify could not answer what was asked."""


class SpotifyNotConfigured(SpotifyError):
    """No client id/secret: tunecluster works from the catalogue alone."""

    def __init__(self, what: str = "") -> None:
        prefix = f"{what}: " if what else ""
        super().__init__(f"{prefix}no Spotify credentials: catalogue-only mode")


class SpotifyCoolingDown(SpotifyError):
    """Spotify asked us to stop (a long Retry-After or a used-up quota) until `until`."""

    service = "Spotify"

    def __init__(self, until: datetime, reason: str = "") -> None:
        self.until = until
        shown = until.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        because = f" ({reason})" if reason else ""
        super().__init__(f"{self.service} cooling down until {shown}{because}")


class SpotifyAuthError(SpotifyError):
    """The accounts service refused the credentials or could not be reached."""


class SpotifyForbidden(SpotifyError):
    """403: this app may not use the endpoint (permanent for the app)."""

    service = "Spotify"

    def __init__(self, endpoint: str, message: str = "") -> None:
        self.endpoint = endpoint
        detail = f": {message}" if message else ""
        super().__init__(f"{self.service} refuses {endpoint} for this app (403{detail})")


class SpotifyUnavailable(SpotifyError):
    """5xx, timeouts or malformed bodies after every allowed attempt."""
