"""What a running tunecluster counts, in Prometheus's terms (the official client).

Event counts (interactions, picks, job runs) are incremented where they happen; the
state of the long-lived resources (the outside clients' counters and cool-downs, the
model, the gateway, the database) is read at scrape time by `StateCollector`, so
nothing is counted twice and nothing polls. One registry per process: the bot serves it
over HTTP (`bot.monitoring`), the command line never does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:  # the clients load with the bot, not with the metrics
    from pipeline.webapi import SessionClient

log = logging.getLogger("tunecluster.metrics")

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)  # resident memory, CPU, open files: the leak watch
PlatformCollector(registry=REGISTRY)

# Discord acknowledges within 3 s or drops the interaction: buckets around that line.
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0)

INTERACTIONS = Counter(
    "tunecluster_interactions",
    "Slash commands handled, by command and outcome (ok, refused, unavailable, error).",
    ["command", "outcome"],
    registry=REGISTRY,
)
INTERACTION_SECONDS = Histogram(
    "tunecluster_interaction_seconds",
    "From receiving a slash command to its answer being sent, by command and outcome.",
    ["command", "outcome"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
PICKS = Counter(
    "tunecluster_picks",
    "Tracks recommended, by strategy.",
    ["strategy"],
    registry=REGISTRY,
)
ANSWERS = Counter(
    "tunecluster_recommendations",
    "Recommendation answers, by strategy and whether they held picks (ok) or none (empty).",
    ["strategy", "outcome"],
    registry=REGISTRY,
)
JOB_RUNS = Counter(
    "tunecluster_job_runs",
    "Background job runs finished in this process, by job and outcome.",
    ["job", "outcome"],
    registry=REGISTRY,
)


def interaction_done(command: str, outcome: str, seconds: float) -> None:
    INTERACTIONS.labels(command, outcome).inc()
    INTERACTION_SECONDS.labels(command, outcome).observe(seconds)


def recommended(strategy: str, picks: int) -> None:
    PICKS.labels(strategy).inc(picks)
    ANSWERS.labels(strategy, "ok" if picks else "empty").inc()


def job_finished(job: str, outcome: str) -> None:
    JOB_RUNS.labels(job, outcome).inc()


@dataclass
class Health:
    """The last probe of what `/healthz` reports; refreshed before each scrape."""

    gateway: bool = False
    shards: dict[int, bool] = field(default_factory=dict)
    database: bool = False
    database_error: str | None = None
    active_version: str | None = None
    loaded_version: str | None = None
    model_finished_at: float | None = None  # Unix time the active model was trained
    checked_at: float = 0.0

    @property
    def model_loaded(self) -> bool:
        return self.active_version is not None and self.loaded_version == self.active_version

    @property
    def healthy(self) -> bool:
        return self.gateway and self.database and self.model_loaded

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.healthy,
            "gateway": {"connected": self.gateway, "shards": self.shards},
            "database": {"reachable": self.database, "error": self.database_error},
            "model": {
                "active": self.active_version,
                "loaded": self.loaded_version,
                "ready": self.model_loaded,
            },
        }


class StateCollector(Collector):
    """Reads the process's resources at scrape time: outside clients, model, health."""

    def __init__(
        self,
        health: Callable[[], Health],
        clients: Callable[[], Mapping[str, SessionClient | None]],
    ) -> None:
        self.health = health
        self.clients = clients

    def collect(self) -> Iterator[Metric]:
        for part in (
            lambda: _client_metrics(self.clients()),
            lambda: _health_metrics(self.health()),
        ):
            try:
                found = list(part())
            except Exception:  # a scrape shows what it can; the bug goes to the log
                log.exception("could not collect some metrics")
                continue
            yield from found


def _client_metrics(clients: Mapping[str, SessionClient | None]) -> Iterator[Metric]:
    requests = CounterMetricFamily(
        "tunecluster_outside_requests",
        "Requests sent to Spotify and ReccoBeats, by service and endpoint.",
        labels=["service", "endpoint"],
    )
    throttled = CounterMetricFamily(
        "tunecluster_outside_throttled",
        "429 answers (the service asked for a pause).",
        labels=["service"],
    )
    retried = CounterMetricFamily(
        "tunecluster_outside_retries",
        "Requests retried after a transient error.",
        labels=["service"],
    )
    waited = CounterMetricFamily(
        "tunecluster_outside_wait_seconds",
        "Seconds requests waited on the pace limit or a cool-down (summed over requests).",
        labels=["service"],
    )
    paused = CounterMetricFamily(
        "tunecluster_outside_cooldown_seconds",
        "Wall-clock seconds of cool-down imposed by the service.",
        labels=["service"],
    )
    stopped = GaugeMetricFamily(
        "tunecluster_outside_stopped",
        "1 while the service has stopped this process (quota or long Retry-After).",
        labels=["service"],
    )
    for service, client in clients.items():
        if client is None:
            continue
        stats = client.stats()
        for endpoint, count in stats["requests_per_endpoint"].items():
            requests.add_metric([service, endpoint], count)
        throttled.add_metric([service], stats["throttled"])
        retried.add_metric([service], stats["retried"])
        waited.add_metric([service], stats["waited_seconds"])
        paused.add_metric([service], stats["paused_seconds"])
        stopped.add_metric([service], 0.0 if stats["stopped_until"] is None else 1.0)
    yield from (requests, throttled, retried, waited, paused, stopped)


def _health_metrics(health: Health) -> Iterator[Metric]:
    up = GaugeMetricFamily(
        "tunecluster_up",
        "1 when the part is healthy: gateway, database, model (as /healthz).",
        labels=["part"],
    )
    up.add_metric(["gateway"], float(health.gateway))
    up.add_metric(["database"], float(health.database))
    up.add_metric(["model"], float(health.model_loaded))
    yield up
    shards = GaugeMetricFamily(
        "tunecluster_shard_connected",
        "1 per shard of this process that is connected.",
        labels=["shard"],
    )
    for shard, connected in sorted(health.shards.items()):
        shards.add_metric([str(shard)], float(connected))
    yield shards
    info = GaugeMetricFamily(
        "tunecluster_model_info", "The active model version (1) and whether it is loaded.",
        labels=["version", "loaded"],
    )  # fmt: skip
    if health.active_version is not None:
        info.add_metric([health.active_version, str(health.model_loaded).lower()], 1.0)
    yield info
    age = GaugeMetricFamily(
        "tunecluster_model_age_seconds", "Seconds since the active model finished training."
    )
    if health.model_finished_at is not None:
        age.add_metric([], max(0.0, time.time() - health.model_finished_at))
    yield age
