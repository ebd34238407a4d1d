"""What every web-API client shares, whatever the service: one configuration shape
(`ApiConfig`), the pace and cool-down (`limits`), one JSON GET done right (`transport`),
the client base with its lifecycle and `stats()` (`session`), where capabilities and a
persisted stop are kept (`state`), and the failures by kind (`errors`). A service's own
package or module (`pipeline/spotify/`, `pipeline/reccobeats.py`) adds its errors, its
token if any, its shapes and its client; see docs/spotify.md."""

from pipeline.webapi.config import ApiConfig
from pipeline.webapi.errors import (
    AuthFailed,
    BadRequest,
    CoolingDown,
    Forbidden,
    ServiceErrors,
    Unavailable,
    WebApiError,
)
from pipeline.webapi.session import SessionClient
from pipeline.webapi.state import DatabaseState, MemoryState, ServiceState
from pipeline.webapi.stats import ClientStats

__all__ = [
    "ApiConfig",
    "AuthFailed",
    "BadRequest",
    "ClientStats",
    "CoolingDown",
    "DatabaseState",
    "Forbidden",
    "MemoryState",
    "ServiceErrors",
    "ServiceState",
    "SessionClient",
    "Unavailable",
    "WebApiError",
]
