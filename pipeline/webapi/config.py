"""How one web API is reached and paced: the one configuration shape every client takes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ApiConfig:
    """Where the API is and how hard it may be asked. Each client module holds its
    service's defaults (`dataclasses.replace` them); `bot/clients.py` builds every
    client's from the settings the same way."""

    base_url: str
    requests_per_second: float
    concurrency: int  # requests in flight at most
    timeout: float = 15.0  # seconds per request
    max_attempts: int = 5  # per request, for 5xx, timeouts and malformed bodies
    backoff_initial: float = 0.5  # seconds; doubles per attempt, with jitter
    cooldown_cap_seconds: float = 300.0  # a longer Retry-After stops the run (persisted)
