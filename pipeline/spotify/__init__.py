"""The Spotify Web API side: tokens, the shared pace and cool-down, the adaptive client,
shapes → catalogue rows, and the one-line errors the bot shows (see docs/spotify.md)."""

from pipeline.spotify.client import SpotifyClient
from pipeline.spotify.errors import (
    SpotifyAuthError,
    SpotifyCoolingDown,
    SpotifyError,
    SpotifyForbidden,
    SpotifyNotConfigured,
    SpotifyUnavailable,
)
from pipeline.spotify.state import DatabaseState, MemoryState

__all__ = [
    "DatabaseState",
    "MemoryState",
    "SpotifyAuthError",
    "SpotifyClient",
    "SpotifyCoolingDown",
    "SpotifyError",
    "SpotifyForbidden",
    "SpotifyNotConfigured",
    "SpotifyUnavailable",
]
