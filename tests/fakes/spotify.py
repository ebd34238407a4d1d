"""A loopback Spotify: the accounts service and the Web API in either access tier.

Extended tier: batch endpoints, popularity/followers/label, audio features.
Development tier: batch endpoints and audio features answer 403, those fields are absent.

It enforces a rate (requests per sliding window) the way the real service does (429 with
Retry-After, then a cool-down during which everything gets 429), counts every request per
endpoint, records arrival times (so a test can check no window ever saw more than the
allowed count) and counts requests that arrived during a cool-down. Faults are injected
by request number or by id: 429 with Retry-After (or QUOTA_EXCEEDED), 5xx, timeouts
(a stall longer than the client's timeout), token expiry (401), malformed bodies.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret-DO-NOT-LEAK"
FEATURES = (
    "acousticness", "danceability", "energy", "instrumentalness", "key", "liveness",
    "loudness", "mode", "speechiness", "tempo", "time_signature", "valence",
)  # fmt: skip


def fake_id(*parts: object) -> str:
    """A deterministic 22-character base62 id."""
    digest = int.from_bytes(hashlib.sha256(repr(parts).encode()).digest(), "big")
    out = []
    for _ in range(22):
        digest, rest = divmod(digest, 62)
        out.append(B62[rest])
    return "".join(out)


# --- the data the fake serves --------------------------------------------------------------------


@dataclass
class Universe:
    """Full Spotify objects by id (what an extended-quota app sees)."""

    tracks: dict[str, dict] = field(default_factory=dict)
    artists: dict[str, dict] = field(default_factory=dict)
    albums: dict[str, dict] = field(default_factory=dict)
    features: dict[str, dict] = field(default_factory=dict)
    playlists: dict[str, dict] = field(default_factory=dict)
    unknown_tracks: list[str] = field(default_factory=list)  # in the catalogue, not on Spotify


def make_universe(
    n_tracks: int,
    *,
    n_artists: int | None = None,
    n_albums: int | None = None,
    unknown: int = 0,
    seed: int = 7,
) -> Universe:
    rng = random.Random(seed)
    n_artists = n_artists or max(1, n_tracks // 5)
    n_albums = n_albums or max(1, n_tracks // 8)
    u = Universe()
    for i in range(n_artists):
        aid = fake_id("artist", seed, i)
        u.artists[aid] = {
            "id": aid,
            "name": f"Artist {i}",
            "uri": f"spotify:artist:{aid}",
            "genres": rng.sample(["pop", "rock", "indie pop", "hip hop", "k-pop", "techno"], k=rng.randint(0, 3)),
            "popularity": rng.randint(0, 100),
            "followers": {"href": None, "total": rng.randint(0, 10**7)},
            "images": [{"url": f"https://i.example/{aid}/640", "height": 640, "width": 640},
                       {"url": f"https://i.example/{aid}/64", "height": 64, "width": 64}],
            "type": "artist",
        }  # fmt: skip
    artist_ids = list(u.artists)
    for i in range(n_albums):
        alid = fake_id("album", seed, i)
        year = rng.randint(1990, 2024)
        u.albums[alid] = {
            "id": alid,
            "name": f"Album {i}",
            "album_type": rng.choice(["album", "single", "compilation"]),
            "release_date": f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "release_date_precision": "day",
            "images": [{"url": f"https://i.example/{alid}/640", "height": 640, "width": 640}],
            "artists": [_stub(u.artists[artist_ids[i % n_artists]])],
            "label": f"Label {i % 17}",
            "popularity": rng.randint(0, 100),
            "total_tracks": 0,
            "tracks": {"items": [], "next": None, "total": 0},
            "type": "album",
        }
    album_ids = list(u.albums)
    for i in range(n_tracks):
        tid = fake_id("track", seed, i)
        album = u.albums[album_ids[i % n_albums]]
        credited = [artist_ids[(i * 7) % n_artists]]
        if i % 4 == 0 and n_artists > 1:
            credited.append(artist_ids[(i * 7 + 1) % n_artists])
        track = {
            "id": tid,
            "name": f"Track {i}",
            "uri": f"spotify:track:{tid}",
            "duration_ms": rng.randint(60_000, 400_000),
            "explicit": bool(i % 3 == 0),
            "disc_number": 1,
            "track_number": album["total_tracks"] + 1,
            "popularity": rng.randint(0, 100),
            "external_ids": {"isrc": f"US{i:010d}"},
            "external_urls": {"spotify": f"https://open.spotify.com/track/{tid}"},
            "artists": [_stub(u.artists[a]) for a in credited],
            "type": "track",
        }
        album["total_tracks"] += 1
        album["tracks"]["items"].append(track)
        album["tracks"]["total"] += 1
        u.tracks[tid] = track
        u.features[tid] = {
            "id": tid,
            "acousticness": rng.random(), "danceability": rng.random(), "energy": rng.random(),
            "instrumentalness": rng.random(), "key": rng.randint(-1, 11), "liveness": rng.random(),
            "loudness": -rng.random() * 30, "mode": rng.randint(0, 1), "speechiness": rng.random(),
            "tempo": 60 + rng.random() * 120, "time_signature": rng.choice([3, 4, 5]),
            "valence": rng.random(), "duration_ms": track["duration_ms"], "type": "audio_features",
        }  # fmt: skip
    u.unknown_tracks = [fake_id("unknown", seed, i) for i in range(unknown)]
    return u


def _stub(artist: dict) -> dict:
    return {"id": artist["id"], "name": artist["name"], "uri": artist["uri"], "type": "artist"}


def full_track(u: Universe, tid: str) -> dict:
    track = dict(u.tracks[tid])
    album = next(a for a in u.albums.values() if any(t["id"] == tid for t in a["tracks"]["items"]))
    track["album"] = simplified_album(album)
    return track


def simplified_album(album: dict) -> dict:
    keep = ("id", "name", "album_type", "release_date", "release_date_precision", "images",
            "artists", "total_tracks", "type")  # fmt: skip
    return {k: album[k] for k in keep}


def catalogue_rows(u: Universe) -> dict[str, list[dict]]:
    """What an MPD-like import leaves in the catalogue: ids, names, links, nothing else."""
    album_of = {t["id"]: a["id"] for a in u.albums.values() for t in a["tracks"]["items"]}
    tracks = [
        {"track_id": t["id"], "name": t["name"], "album_id": album_of[t["id"]], "source": "mpd"}
        for t in u.tracks.values()
    ]
    tracks += [
        {"track_id": tid, "name": f"Lost {tid[:4]}", "source": "mpd"} for tid in u.unknown_tracks
    ]
    return {
        "artists": [
            {"artist_id": a["id"], "name": a["name"], "source": "mpd"} for a in u.artists.values()
        ],
        "albums": [
            {"album_id": a["id"], "name": a["name"], "source": "mpd"} for a in u.albums.values()
        ],
        "tracks": tracks,
        "artist_tracks": [
            {"artist_id": t["artists"][0]["id"], "track_id": t["id"], "position": 0}
            for t in u.tracks.values()
        ],
    }


# --- faults ------------------------------------------------------------------------------------


@dataclass
class Faults:
    """What goes wrong, keyed by the number of the API request (1-based, all endpoints).

    `every` maps a fault name to a period: {"503": 97} answers the 97th, 194th… request
    with 503. Names: "429", "quota", "500", "502", "503", "timeout", "malformed",
    "expire" (every token issued so far stops working). `at` maps request numbers to a
    fault for one-off events. `broken_ids` always answer 500 (single) — they end failed.
    """

    every: dict[str, int] = field(default_factory=dict)
    at: dict[int, str] = field(default_factory=dict)
    retry_after: float = 1
    stall: float = 1.0
    broken_ids: set[str] = field(default_factory=set)

    def pick(self, number: int) -> str | None:
        if number in self.at:
            return self.at[number]
        for name, period in self.every.items():
            if period and number % period == 0:
                return name
        return None


# --- the server --------------------------------------------------------------------------------


class RateWatch:
    """Arrival times, a sliding-window limit and the cool-down the server imposes."""

    def __init__(self, rate: float | None, window: float, grace: float, in_flight: int = 0) -> None:
        """`grace` seconds and `in_flight` requests after a 429 are what a client may have
        sent before that 429 reached it; only arrivals beyond both count as violations."""
        self.rate, self.window, self.grace, self.in_flight = rate, window, grace, in_flight
        self._in_cooldown = 0
        self.arrivals: list[float] = []
        self.cooldown_until = 0.0
        self.cooldown_started = 0.0
        self.during_cooldown = 0  # requests sent while a cool-down was known to the client
        self.over_limit = 0  # 429s the client caused by going too fast
        self.injected_429 = 0

    @property
    def allowed(self) -> int | None:
        return None if self.rate is None else max(1, int(self.rate * self.window))

    def arrive(self) -> tuple[float, bool]:
        """Record one arrival; (seconds left in a cool-down, over the limit?)."""
        now = time.monotonic()
        self.arrivals.append(now)
        if now < self.cooldown_until:
            self._in_cooldown += 1
            if now > self.cooldown_started + self.grace and self._in_cooldown > self.in_flight:
                self.during_cooldown += 1
            return self.cooldown_until - now, False
        if self.allowed is not None:
            start = now - self.window
            recent = 0
            for t in reversed(self.arrivals):
                if t <= start:
                    break
                recent += 1
            if recent > self.allowed:
                self.over_limit += 1
                return 0.0, True
        return 0.0, False

    def cool(self, seconds: float) -> None:
        now = time.monotonic()
        if now >= self.cooldown_until:
            self._in_cooldown = 0
        self.cooldown_started = now
        self.cooldown_until = max(self.cooldown_until, now + seconds)

    def max_in_window(self, window: float | None = None) -> int:
        """The most arrivals any window of `window` seconds saw."""
        window = window or self.window
        best, start = 0, 0
        for end, t in enumerate(self.arrivals):
            while t - self.arrivals[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best


class FakeSpotify:
    """`async with FakeSpotify(universe, tier="development") as fake:` → fake.api_url."""

    def __init__(
        self,
        universe: Universe,
        *,
        tier: str = "extended",
        faults: Faults | None = None,
        rate: float | None = None,
        window: float = 1.0,
        grace: float = 0.05,
        in_flight: int = 0,
        token_lifetime: int = 3600,
        latency: float = 0.0,
    ) -> None:
        assert tier in ("extended", "development")
        self.u = universe
        self.tier = tier
        self.faults = faults or Faults()
        self.watch = RateWatch(rate, window, grace, in_flight)
        self.token_lifetime = token_lifetime
        self.latency = latency
        self.counts: Counter = Counter()  # (endpoint, status) → requests
        self.requests = 0
        self.tokens: dict[str, float] = {}  # token → expiry (monotonic)
        self.token_requests = 0
        self.seen_auth: list[str] = []  # Authorization headers received (to check leaks)
        self._album_of = {
            t["id"]: a for a in universe.albums.values() for t in a["tracks"]["items"]
        }
        self._runner: web.AppRunner | None = None
        self.on_request = None  # optional callback(number) for tests that interrupt runs

    # lifecycle

    async def __aenter__(self) -> FakeSpotify:
        app = web.Application()
        app.router.add_post("/api/token", self._token)
        app.router.add_get("/v1/{path:.*}", self._api)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return self.base + "/v1"

    @property
    def accounts_url(self) -> str:
        return self.base

    def endpoint_total(self, prefix: str, status: int | None = 200) -> int:
        return sum(
            n for (name, code), n in self.counts.items()
            if name.startswith(prefix) and (status is None or code == status)
        )  # fmt: skip

    # accounts

    async def _token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        header = request.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        form = await request.post()
        if header != expected or form.get("grant_type") != "client_credentials":
            return _json({"error": "invalid_client", "error_description": "Invalid client"}, 400)
        token = f"tok-{self.token_requests}-{fake_id('token', self.token_requests)}"
        self.tokens[token] = time.monotonic() + self.token_lifetime
        return _json(
            {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime}
        )

    # the API

    async def _api(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        number = self.requests
        if self.on_request:
            self.on_request(number)
        endpoint = self._endpoint(request)
        response = await self._answer(request, number, endpoint)
        fault = self.faults.pick(number)
        label = (
            fault
            if fault in ("malformed", "timeout") and response.status == 200
            else response.status
        )
        self.counts[(endpoint, label)] += 1  # a stalled or broken 200 is not an answer
        return response

    def _endpoint(self, request: web.Request) -> str:
        parts = [p for p in request.match_info["path"].split("/") if p]
        name = parts[0] if parts else ""
        if len(parts) == 1 and name in ("tracks", "artists", "albums", "audio-features"):
            return f"{name} (batch)"
        if len(parts) == 3:
            return f"{name}/{parts[2]}"
        return name

    async def _answer(self, request: web.Request, number: int, endpoint: str) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        self.seen_auth.append(header)
        left, over = self.watch.arrive()
        if left > 0:
            return _json({"error": {"status": 429, "message": "API rate limit exceeded"}}, 429,
                         {"Retry-After": str(max(1, round(left + 0.49)))})  # fmt: skip
        if over:
            self.watch.cool(self.faults.retry_after)
            return _json({"error": {"status": 429, "message": "API rate limit exceeded"}}, 429,
                         {"Retry-After": str(self.faults.retry_after)})  # fmt: skip
        token = header.removeprefix("Bearer ")
        if not header.startswith("Bearer ") or self.tokens.get(token, 0) < time.monotonic():
            return _json({"error": {"status": 401, "message": "The access token expired"}}, 401)
        fault = self.faults.pick(number)
        if fault == "expire":
            self.tokens = dict.fromkeys(self.tokens, 0.0)
            return _json({"error": {"status": 401, "message": "The access token expired"}}, 401)
        if fault in ("429", "quota"):
            self.watch.injected_429 += 1
            self.watch.cool(self.faults.retry_after)
            error: dict[str, Any] = {"status": 429, "message": "Too many requests"}
            if fault == "quota":
                error["reason"] = "QUOTA_EXCEEDED"
            return _json({"error": error}, 429, {"Retry-After": str(self.faults.retry_after)})
        if fault in ("500", "502", "503"):
            return _json(
                {"error": {"status": int(fault), "message": "Service unavailable"}}, int(fault)
            )
        if fault == "timeout":
            await asyncio.sleep(self.faults.stall)
        if self.latency:
            await asyncio.sleep(self.latency)
        status, body = self._route(request, endpoint)
        if fault == "malformed" and status == 200:
            return web.Response(body=orjson.dumps(body)[: max(1, len(orjson.dumps(body)) // 2)],
                                content_type="application/json")  # fmt: skip
        return _json(body, status)

    def _route(self, request: web.Request, endpoint: str) -> tuple[int, Any]:
        parts = [p for p in request.match_info["path"].split("/") if p]
        kind = parts[0] if parts else ""
        dev = self.tier == "development"
        if kind == "audio-features" and dev:
            return 403, {"error": {"status": 403}}
        if endpoint.endswith("(batch)"):
            if dev:
                return 403, {"error": {"status": 403, "message": "Forbidden"}}
            ids = [i for i in request.query.get("ids", "").split(",") if i]
            cap = {"tracks": 50, "artists": 50, "albums": 20, "audio-features": 100}[kind]
            if not ids or len(ids) > cap:
                return 400, {"error": {"status": 400, "message": "Invalid ids"}}
            if any(i in self.faults.broken_ids for i in ids):
                return 500, {"error": {"status": 500, "message": "Server error"}}
            key = kind.replace("-", "_")
            return 200, {key: [self._object(kind, i) for i in ids]}
        if kind == "search":
            limit = int(request.query.get("limit", "20"))
            if dev and limit > 10:
                return 400, {"error": {"status": 400, "message": "Invalid limit"}}
            q = request.query.get("q", "").lower()
            hits = [
                self._object("tracks", t)
                for t, obj in self.u.tracks.items()
                if q in obj["name"].lower()
            ]
            return 200, {"tracks": {"items": hits[:limit], "next": None, "total": len(hits)}}
        if kind == "playlists" and len(parts) == 2:
            playlist = self.u.playlists.get(parts[1])
            if playlist is None:
                return 404, {"error": {"status": 404, "message": "Resource not found"}}
            if dev and not playlist.get("owned"):
                return 403, {"error": {"status": 403, "message": "Forbidden"}}
            items = [{"track": self._object("tracks", t)} for t in playlist["tracks"]]
            return 200, {"name": playlist["name"], "tracks": {"items": items, "next": None}}
        if kind == "albums" and len(parts) == 3 and parts[2] == "tracks":
            album = self.u.albums.get(parts[1])
            if album is None:
                return 404, {"error": {"status": 404, "message": "Resource not found"}}
            offset, limit = (
                int(request.query.get("offset", "0")),
                int(request.query.get("limit", "20")),
            )
            items = album["tracks"]["items"][offset : offset + limit]
            more = offset + limit < len(album["tracks"]["items"])
            return 200, {
                "items": [self._strip("tracks", t) for t in items],
                "next": "more" if more else None,
            }
        if len(parts) == 2 and kind in ("tracks", "artists", "albums", "audio-features"):
            one = parts[1]
            if len(one) != 22 or not one.isalnum():
                return 400, {"error": {"status": 400, "message": "invalid id"}}
            if one in self.faults.broken_ids:
                return 500, {"error": {"status": 500, "message": "Server error"}}
            obj = self._object(kind, one)
            if obj is None:
                return 404, {"error": {"status": 404, "message": "Resource not found"}}
            return 200, obj
        return 404, {"error": {"status": 404, "message": "Service not found"}}

    def _object(self, kind: str, one: str) -> dict | None:
        if kind == "tracks":
            if one not in self.u.tracks:
                return None
            track = dict(self.u.tracks[one])
            track["album"] = simplified_album(self._album_of[one])
            return self._strip(kind, track)
        if kind == "artists":
            return self._strip(kind, self.u.artists.get(one))
        if kind == "albums":
            album = self.u.albums.get(one)
            if album is None:
                return None
            album = dict(album)
            items = album["tracks"]["items"]
            album["tracks"] = {
                "items": [self._strip("tracks", t) for t in items[:50]],
                "next": "more" if len(items) > 50 else None,
                "total": len(items),
            }
            return self._strip(kind, album)
        if kind == "audio-features":
            return self.u.features.get(one)
        return None

    def _strip(self, kind: str, obj: dict | None) -> dict | None:
        """What a development-mode app gets: no popularity, followers, label."""
        if obj is None or self.tier == "extended":
            return obj
        removed = {"tracks": ("popularity", "available_markets", "linked_from"),
                   "artists": ("popularity", "followers"),
                   "albums": ("popularity", "label", "available_markets")}.get(kind, ())  # fmt: skip
        return {k: v for k, v in obj.items() if k not in removed}


def _json(body: Any, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
    )
