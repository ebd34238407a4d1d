"""Which bundle a process serves, and fetching a new one without a gap.

The active version is read from the database on every request; its bundle is loaded
once. When the local cache lacks it and a model store is configured, one background
task fetches it (every file checked), loads it off the event loop and swaps it in;
until then the bundle already loaded keeps serving. A process with nothing loaded
waits for the fetch. A failed fetch is retried at most every `RETRY_SECONDS`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from recommender import bundle as bundles
from recommender.bundle import Bundle
from recommender.store import ModelStore

log = logging.getLogger(__name__)

RETRY_SECONDS = 30.0


class BundleLoader:
    def __init__(self, models_dir: Path, store: ModelStore | None = None) -> None:
        self.models_dir = Path(models_dir)
        self.store = store
        self.current: Bundle | None = None
        self._fetching: dict[str, asyncio.Task[Bundle]] = {}
        self._failed: dict[str, tuple[float, BaseException]] = {}

    async def get(self, version: str) -> Bundle:
        """The bundle of `version`, or the previous one while `version` is fetched."""
        if self.current is not None and self.current.version == version:
            return self.current
        local = bundles.bundle_dir(self.models_dir, version) / bundles.BUNDLE_FILE
        if self.store is None or local.exists():
            return self._install(bundles.load(self.models_dir, version))
        failed = self._failed.get(version)
        if failed is not None and time.monotonic() - failed[0] < RETRY_SECONDS:
            if self.current is not None:
                return self.current
            raise failed[1]
        task = self._fetching.get(version) or self._start(version)
        if self.current is not None and not task.done():
            return self.current  # the previous version serves until the new one is in
        return await asyncio.shield(task)

    def local(self, version: str) -> Bundle:
        """`version` from the local cache (a one-line BundleError when absent)."""
        if self.current is not None and self.current.version == version:
            return self.current
        return self._install(bundles.load(self.models_dir, version))

    def _install(self, bundle: Bundle) -> Bundle:
        self.current = bundle  # one version serves at a time
        return bundle

    async def _trim(self, serving: str) -> None:
        """Drop cached versions the store no longer holds (pruned by another host)."""
        assert self.store is not None
        try:
            kept = await self.store.versions()
        except Exception as error:  # the cache is only trimmed another time
            log.info("could not list the model store: %s", error)
            return
        for version in bundles.on_disk(self.models_dir):
            if version != serving and version not in kept:
                await asyncio.to_thread(bundles.remove, self.models_dir, version)

    def _start(self, version: str) -> asyncio.Task[Bundle]:
        task = asyncio.create_task(self._fetch(version), name=f"fetch bundle {version}")
        task.add_done_callback(_retrieve)
        self._fetching[version] = task
        return task

    async def _fetch(self, version: str) -> Bundle:
        assert self.store is not None
        try:
            clock = time.perf_counter()
            await self.store.fetch(version, self.models_dir)
            bundle = await asyncio.to_thread(bundles.load, self.models_dir, version)
            log.info(
                "model %s fetched from the %s store and loaded in %.1f s",
                version,
                self.store.kind,
                time.perf_counter() - clock,
            )
            self._failed.pop(version, None)
            self._install(bundle)
            await self._trim(version)
            return bundle
        except Exception as error:
            self._failed[version] = (time.monotonic(), error)
            log.warning("could not fetch model %s: %s", version, error)
            raise
        finally:
            self._fetching.pop(version, None)


def _retrieve(task: asyncio.Task) -> None:
    """A fetch nobody awaited (a previous version served meanwhile) failed: logged."""
    if not task.cancelled():
        task.exception()
