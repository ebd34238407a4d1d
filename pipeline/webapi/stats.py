"""What a client's requests cost: counted by the transport, read through `stats()`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import NotRequired, TypedDict


class ClientStats(TypedDict):
    """A client's `stats()`: the enrichment summary, `tunecluster enrich` and the bot's
    `/metrics` all read these."""

    requests: int
    requests_per_endpoint: dict[str, int]
    throttled: int  # 429s met
    retried: int  # attempts repeated after a transient failure
    waited_seconds: float  # on the pace or a cool-down, summed over concurrent requests
    paused_seconds: float  # wall-clock cool-downs the service imposed
    stopped_until: datetime | None  # a running stop (quota, long Retry-After), aware UTC
    tokens: NotRequired[int]  # bearer tokens obtained (services with a token only)


@dataclass
class RequestCounts:
    """The transport's running counts."""

    requests: Counter[str] = field(default_factory=Counter)  # per endpoint
    throttled: int = 0
    retried: int = 0

    def snapshot(
        self, *, waited: float, paused: float, stopped_until: datetime | None
    ) -> ClientStats:
        return {
            "requests": sum(self.requests.values()),
            "requests_per_endpoint": dict(sorted(self.requests.items())),
            "throttled": self.throttled,
            "retried": self.retried,
            "waited_seconds": round(waited, 3),
            "paused_seconds": round(paused, 3),
            "stopped_until": stopped_until,
        }
