"""`/healthz` and `/metrics` over HTTP on `TUNECLUSTER_METRICS_PORT`, inside the bot.

Runs on the bot's own event loop (aiohttp, which discord.py already brings), so it
reports what that loop sees: a loop that stalls stops answering, which is what a
liveness probe is for. The health probe (gateway, database, model) is shared by
concurrent requests and kept for `PROBE_TTL` seconds, so a busy scraper costs one
small query per second at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from typing import TYPE_CHECKING, Any

import discord
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.metrics import REGISTRY, Health, StateCollector
from bot.services.jobs import one_line
from sql import clock, model_versions

if TYPE_CHECKING:
    from bot.app import TuneclusterBot

log = logging.getLogger("tunecluster.monitoring")

PROBE_TIMEOUT = 3.0  # seconds the database gets to answer the health query
PROBE_TTL = 1.0


def shard_states(bot: discord.Client) -> dict[int, bool]:
    """Each shard this process should run, and whether its gateway socket is open."""
    if isinstance(bot, discord.AutoShardedClient):
        wanted = bot.shard_ids or range(bot.shard_count or 0)
        shards = bot.shards
        return {sid: sid in shards and not shards[sid].is_closed() for sid in wanted}
    ws = bot.ws if not bot.is_closed() else None
    return {bot.shard_id or 0: bool(ws is not None and ws.open)}


class Monitor:
    """The HTTP endpoints of one bot; `start` in setup_hook, `stop` at close."""

    def __init__(self, bot: TuneclusterBot, host: str, port: int) -> None:
        self.bot = bot
        self.host = host
        self.port = port
        self.health = Health()
        self._runner: web.AppRunner | None = None
        self._probing: asyncio.Task | None = None
        self._loading: asyncio.Task | None = None
        self._collector = StateCollector(lambda: self.health, self._clients)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        if sockets:
            self.port = sockets[0].getsockname()[1]  # port 0: the one the system chose
        REGISTRY.register(self._collector)
        log.info("health and metrics on http://%s:%d/healthz and /metrics", self.host, self.port)

    async def stop(self) -> None:
        with contextlib.suppress(KeyError):
            REGISTRY.unregister(self._collector)
        for task in (self._probing, self._loading):
            if task is not None and not task.done():
                task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- the endpoints ------------------------------------------------------------------------

    async def _healthz(self, _request: web.Request) -> web.Response:
        health = await self.probe()
        return web.json_response(health.as_dict(), status=200 if health.healthy else 503)

    async def _metrics(self, _request: web.Request) -> web.Response:
        await self.probe()
        return web.Response(
            body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    # --- the probe ----------------------------------------------------------------------------

    async def probe(self) -> Health:
        """A fresh view (at most PROBE_TTL old); concurrent callers share one probe."""
        if time.monotonic() - self.health.checked_at < PROBE_TTL:
            return self.health
        if self._probing is None or self._probing.done():
            self._probing = asyncio.create_task(self._probe())
        return await asyncio.shield(self._probing)

    async def _probe(self) -> Health:
        shards = shard_states(self.bot)
        health = Health(
            gateway=bool(shards) and all(shards.values()) and self.bot.is_ready(),
            shards=shards,
        )
        app = self.bot.app
        if app is not None:
            try:
                async with asyncio.timeout(PROBE_TIMEOUT), app.db.connection() as conn:
                    health.active_version = await model_versions.active_version(conn)
                    row = (
                        await model_versions.get_model_version(conn, health.active_version)
                        if health.active_version
                        else None
                    )
                health.database = True
                finished = (row or {}).get("finished_at") or (row or {}).get("created_at")
                if finished is not None:
                    health.model_finished_at = _unix(finished)
            except TimeoutError:
                health.database_error = f"no answer within {PROBE_TIMEOUT:g} s"
            except Exception as error:
                health.database_error = one_line(error)
            health.loaded_version = app.recommender.loaded_version
            self._warm(health)
        health.checked_at = time.monotonic()
        self.health = health
        return health

    def _warm(self, health: Health) -> None:
        """Load the active model in a thread when it is not in memory yet (at start, after
        a retrain elsewhere), so the first answer does not pay for it."""
        app = self.bot.app
        if app is None or health.active_version is None or health.model_loaded:
            return
        if self._loading is not None and not self._loading.done():
            return
        version = health.active_version

        async def load() -> None:
            bundle = app.recommender.bundle
            try:
                if inspect.iscoroutinefunction(bundle):  # a store fetch: async already
                    await bundle(version)
                else:
                    await asyncio.to_thread(bundle, version)
            except Exception as error:
                log.warning("could not load model %s: %s", version, one_line(error))

        self._loading = asyncio.create_task(load())

    def _clients(self) -> dict[str, Any]:
        app = self.bot.app
        if app is None:
            return {}
        return {"spotify": app.spotify, "reccobeats": app.reccobeats}


def _unix(value: Any) -> float:
    """A naive UTC timestamp from the database as Unix time."""
    return clock.to_aware(value).timestamp()
