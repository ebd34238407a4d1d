"""The resolver: catalogue first, short links over a loopback server, one-line refusals."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from pipeline.links import NotSpotifyLink, UnsupportedLink
from pipeline.resolver import (
    NotATrack,
    ShortLinkError,
    ShortLinks,
    TrackNotFound,
    resolve,
    resolve_track,
)
from pipeline.spotify.errors import SpotifyNotConfigured
from sql import catalogue
from sql.database import Database

T1, T2, T3 = "0VjIjW4GlUZAMYd2vXMi3b", "2bJvI42r8EF3wxjOuDav4r", "6rqhFgbbKwnb9MLmUQDhG6"
AL = "4aawyAB9vmqN3uQ7FjRGTy"
AR = "1Xyo4u8uXC1ZmMpatF05PJ"
PL = "37i9dQZF1DXcBWIGoYBM5M"
MISSING = "7ouMYWpwJ422jRcDASZB7P"


async def load(db: Database) -> None:
    async with db.transaction() as conn:
        await catalogue.upsert_artists(
            conn, [{"artist_id": AR, "name": "The Weeknd", "source": "t"}]
        )
        await catalogue.upsert_albums(
            conn, [{"album_id": AL, "name": "After Hours", "source": "t"}]
        )
        await catalogue.upsert_tracks(
            conn,
            [
                {
                    "track_id": T1,
                    "name": "Blinding Lights",
                    "album_id": AL,
                    "track_number": 2,
                    "popularity": 90,
                    "source": "t",
                },
                {
                    "track_id": T2,
                    "name": "In Your Eyes",
                    "album_id": AL,
                    "track_number": 1,
                    "popularity": 70,
                    "source": "t",
                },
                {"track_id": T3, "name": "Heartless", "source": "t"},
            ],
        )
        await catalogue.link_artist_tracks(
            conn, [{"artist_id": AR, "track_id": t, "position": 0} for t in (T1, T2, T3)]
        )
        await catalogue.upsert_artist_genres(
            conn, [{"artist_id": AR, "genre": g, "source": "spotify"} for g in ("pop", "r&b")]
        )
        await catalogue.upsert_playlists(conn, [{"playlist_id": PL, "name": "Hits", "source": "t"}])
        await catalogue.upsert_playlist_tracks(
            conn,
            [{"playlist_id": PL, "position": i, "track_id": t} for i, t in enumerate((T3, T1, T3))],
        )


async def test_every_kind_from_the_catalogue(db: Database) -> None:
    await load(db)
    found = await resolve(db, f"https://open.spotify.com/intl-de/track/{T1}?si=x")
    assert (found.kind, found.track_ids, found.name) == ("track", [T1], "Blinding Lights")
    found = await resolve(db, f"spotify:album:{AL}")
    assert (found.kind, found.track_ids, found.name) == ("album", [T2, T1], "After Hours")
    found = await resolve(db, f"https://open.spotify.com/artist/{AR}")
    assert found.kind == "artist" and found.track_ids == [T1, T2, T3]
    assert found.genres == ["pop", "r&b"] and found.name == "The Weeknd"
    found = await resolve(db, f"https://open.spotify.com/playlist/{PL}")
    assert (found.kind, found.track_ids, found.name) == ("playlist", [T3, T1], "Hits")
    found = await resolve(db, "blinding")
    assert (found.kind, found.track_ids) == ("query", [T1])
    found = await resolve(db, "the weeknd", limit=2)
    assert found.track_ids == [T1, T2]
    assert found.source == "catalogue" and found.as_dict()["track_ids"] == [T1, T2]


async def test_resolve_track(db: Database) -> None:
    await load(db)
    assert await resolve_track(db, T1) == T1
    assert await resolve_track(db, "in your eyes") == T2
    with pytest.raises(NotATrack, match="an album link"):
        await resolve_track(db, f"spotify:album:{AL}")
    with pytest.raises(TrackNotFound, match="no track in the catalogue matches"):
        await resolve_track(db, "nothing like this")
    with pytest.raises(SpotifyNotConfigured, match="catalogue-only mode"):
        await resolve_track(db, f"spotify:track:{MISSING}")
    with pytest.raises(NotSpotifyLink):
        await resolve_track(db, f"https://open.spotify.com.evil.example/track/{T1}")
    with pytest.raises(UnsupportedLink):
        await resolve_track(db, f"https://open.spotify.com/episode/{T1}")


async def test_misses_without_credentials_say_catalogue_only(db: Database) -> None:
    for link in (
        f"spotify:album:{MISSING}",
        f"spotify:artist:{MISSING}",
        f"spotify:playlist:{MISSING}",
    ):
        with pytest.raises(
            SpotifyNotConfigured, match="no Spotify credentials: catalogue-only mode"
        ):
            await resolve(db, link)


# --- short links over a loopback server ----------------------------------------------------------


@pytest.fixture
async def short_server():
    hits: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        code = request.match_info["code"]
        routes = {
            "direct": f"https://open.spotify.com/track/{T1}?si=abc",
            "hop": "https://spotify.app.link/direct",
            "relative": "/direct",
            "evil": f"https://evil.example/track/{T1}",
            "episode": f"https://open.spotify.com/episode/{T1}",
            "loop": "https://spotify.link/loop",
        }
        if code in routes:
            raise web.HTTPFound(routes[code])
        if code == "page":
            body = f'<html><head><meta property="og:url" content="https://open.spotify.com/track/{T2}"></head></html>'
            return web.Response(text=body, content_type="text/html")
        if code == "blank":
            return web.Response(text="<html>nothing</html>", content_type="text/html")
        if code == "slow":
            await asyncio.sleep(1.5)
        return web.Response(status=404)

    app = web.Application()
    app.router.add_get("/{code}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    config = ShortLinks(
        base_urls={"spotify.link": base, "spotify.app.link": base}, max_hops=3, timeout=0.5
    )
    try:
        yield config, hits
    finally:
        await runner.cleanup()


async def test_short_links_are_followed(db: Database, short_server) -> None:
    config, hits = short_server
    await load(db)
    assert await resolve_track(db, "https://spotify.link/direct", short_links=config) == T1
    assert await resolve_track(db, "spotify.link/hop", short_links=config) == T1
    assert await resolve_track(db, "https://spotify.link/relative", short_links=config) == T1
    assert await resolve_track(db, "https://spotify.app.link/page", short_links=config) == T2
    assert hits[:3] == ["/direct", "/hop", "/direct"]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("evil", "outside Spotify"),
        ("episode", "episodes are not supported"),
        ("loop", "more than 3 times"),
        ("blank", "names no Spotify track"),
        ("gone", "does not exist"),
        ("slow", "did not answer within 0.5 s"),
    ],
)
async def test_short_link_failures(db: Database, short_server, code: str, message: str) -> None:
    config, hits = short_server
    expected = UnsupportedLink if code == "episode" else ShortLinkError
    with pytest.raises(expected, match=message):
        await resolve(db, f"https://spotify.link/{code}", short_links=config)
    assert all(not h.startswith("/evil/") for h in hits)
