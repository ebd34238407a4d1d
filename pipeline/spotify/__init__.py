"""The Spotify Web API's own side: client-credentials tokens, the adaptive client,
shapes → catalogue rows, and the one-line errors the bot shows (see docs/spotify.md).
The plumbing it shares with other services (transport, pace, session, state) is in
`pipeline.webapi`."""

from pipeline.spotify.client import SpotifyClient
from pipeline.spotify.errors import (
    SpotifyAuthError,
    SpotifyCoolingDown,
    SpotifyError,
    SpotifyForbidden,
    SpotifyNotConfigured,
    SpotifyUnavailable,
)

__all__ = [
    "SpotifyAuthError",
    "SpotifyClient",
    "SpotifyCoolingDown",
    "SpotifyError",
    "SpotifyForbidden",
    "SpotifyNotConfigured",
    "SpotifyUnavailable",
]
