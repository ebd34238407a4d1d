"""The one-line failures the Spotify side raises; the bot shows them to members as-is.

Each is a `SpotifyError` and, where it has one, of its neutral kind in
`pipeline.webapi.errors` (`SpotifyCoolingDown` is a `CoolingDown`...). Messages never hold
a secret: no client secret, access token or Authorization header (see
`pipeline.spotify.auth.redact`).
"""

from __future__ import annotations

from pipeline.webapi import errors as web


class SpotifyError(web.WebApiError):
    """Spotify could not answer what was asked."""


class SpotifyNotConfigured(SpotifyError):
    """No client id/secret: tunecluster works from the catalogue alone."""

    def __init__(self, what: str = "") -> None:
        prefix = f"{what}: " if what else ""
        super().__init__(f"{prefix}no Spotify credentials: catalogue-only mode")


class SpotifyCoolingDown(web.CoolingDown, SpotifyError):
    """Spotify asked us to stop (a long Retry-After or a used-up quota) until `until`."""

    service = "Spotify"


class SpotifyAuthError(web.AuthFailed, SpotifyError):
    """The accounts service refused the credentials or could not be reached."""


class SpotifyForbidden(web.Forbidden, SpotifyError):
    """403: this app may not use the endpoint (permanent for the app)."""

    service = "Spotify"


class SpotifyUnavailable(web.Unavailable, SpotifyError):
    """5xx, timeouts or malformed bodies after every allowed attempt."""


class SpotifyBadRequest(web.BadRequest, SpotifyError):
    """400: the request itself is wrong, usually a malformed id."""


ERRORS = web.ServiceErrors(
    forbidden=SpotifyForbidden,
    cooling=SpotifyCoolingDown,
    unavailable=SpotifyUnavailable,
    auth=SpotifyAuthError,
    bad_request=SpotifyBadRequest,
)
