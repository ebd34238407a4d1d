"""A loopback ReccoBeats: `GET /v1/audio-features?ids=` answering `{"content": [...]}`
with its own ids, the Spotify id only inside `href`, unknown ids omitted, at most 40
ids per request, no time_signature. Same rate watch and faults as the Spotify fake."""

from __future__ import annotations

import asyncio
from collections import Counter

import orjson
from aiohttp import web

from tests.fakes.spotify import Faults, RateWatch, Universe, _json, fake_id

CAP = 40


class FakeReccoBeats:
    def __init__(
        self,
        universe: Universe,
        *,
        known: set[str] | None = None,
        faults: Faults | None = None,
        rate: float | None = None,
        window: float = 1.0,
        grace: float = 0.05,
        in_flight: int = 0,
    ) -> None:
        self.u = universe
        self.known = set(universe.features) if known is None else known
        self.faults = faults or Faults()
        self.watch = RateWatch(rate, window, grace, in_flight)
        self.counts: Counter = Counter()
        self.requests = 0
        self.ids_asked: Counter = Counter()
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> FakeReccoBeats:
        app = web.Application()
        app.router.add_get("/v1/audio-features", self._features)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/v1"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _features(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        response = await self._answer(request, self.requests)
        fault = self.faults.pick(self.requests)
        label = (
            fault
            if fault in ("malformed", "timeout") and response.status == 200
            else response.status
        )
        self.counts[label] += 1
        return response

    async def _answer(self, request: web.Request, number: int) -> web.StreamResponse:
        left, over = self.watch.arrive()
        if left > 0 or over:
            if over:
                self.watch.cool(self.faults.retry_after)
            return _json({"error": "Too many requests"}, 429,
                         {"Retry-After": str(max(1, round(left + 0.49)) if left else self.faults.retry_after)})  # fmt: skip
        fault = self.faults.pick(number)
        if fault == "429":
            self.watch.injected_429 += 1
            self.watch.cool(self.faults.retry_after)
            return _json(
                {"error": "Too many requests"}, 429, {"Retry-After": str(self.faults.retry_after)}
            )
        if fault in ("500", "502", "503"):
            return web.Response(status=int(fault), text="<html>bad gateway</html>")
        if fault == "timeout":
            await asyncio.sleep(self.faults.stall)
        ids = [i for i in request.query.get("ids", "").split(",") if i]
        if not ids or len(ids) > CAP:
            return _json({"error": f"ids must hold 1 to {CAP} ids"}, 400)
        self.ids_asked.update(ids)
        content = []
        for tid in ids:
            features = self.u.features.get(tid)
            if tid in self.known and features:
                entry = {
                    k: v
                    for k, v in features.items()
                    if k not in ("id", "type", "time_signature", "duration_ms")
                }
                entry["id"] = _uuid(tid)
                entry["href"] = f"https://open.spotify.com/track/{tid}"
                content.append(entry)
        body = {"content": content}
        if fault == "malformed":
            raw = orjson.dumps(body)
            return web.Response(body=raw[: len(raw) // 2], content_type="application/json")
        return _json(body)


def _uuid(tid: str) -> str:
    h = fake_id("recco", tid).lower()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[:12]}"
