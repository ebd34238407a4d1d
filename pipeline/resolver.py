"""User text → catalogue tracks: the catalogue first, Spotify only on a miss.

`resolve` says what was asked (track, album, artist, playlist or a search) and which
catalogue track ids it came to; `resolve_track` is the one-track convenience the
`recommend` / `genres` commands and the bot call. Whatever Spotify returns on a miss
is stored (see `pipeline.lookup`), so the next ask is served locally.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urljoin, urlsplit

import aiohttp

from pipeline import links, search
from pipeline.links import FreeText, LinkError, ShortLink, SpotifyRef
from pipeline.spotify.errors import SpotifyNotConfigured
from sql import catalogue, enrichment_state, references
from sql.database import Database
from sql.errors import TuneclusterError

if TYPE_CHECKING:
    from pipeline.reccobeats import ReccoBeatsClient
    from pipeline.spotify.client import SpotifyClient

Asked = Literal["track", "album", "artist", "playlist", "query"]
DEFAULT_LIMIT = 25


class ResolveError(TuneclusterError):
    """The input named nothing tunecluster can use; the message says why."""


class TrackNotFound(ResolveError):
    """No such track in the catalogue (nor on Spotify, when it was asked)."""


class NotATrack(ResolveError):
    """A track was needed but the link names an album, artist or playlist."""


class ShortLinkError(ResolveError):
    """A short link that could not be followed to a Spotify address."""


@dataclass
class Resolution:
    """What the text asked for and the catalogue tracks it came to (best first)."""

    kind: Asked
    text: str
    spotify_id: str | None = None
    track_ids: list[str] = field(default_factory=list)
    name: str | None = None
    genres: list[str] = field(default_factory=list)  # the artist's, for artist links
    source: Literal["catalogue", "spotify"] = "catalogue"
    note: str | None = None  # why track_ids is short or empty, for people

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "text": self.text,
            "spotify_id": self.spotify_id,
            "track_ids": list(self.track_ids),
            "name": self.name,
            "genres": list(self.genres),
            "source": self.source,
            "note": self.note,
        }


@dataclass(frozen=True)
class ShortLinks:
    """How short links are followed. `base_urls` maps a short-link host to where it is
    fetched from (tests point it at a loopback server); no other host is ever fetched."""

    base_urls: Mapping[str, str] = field(default_factory=dict)
    max_hops: int = 4
    timeout: float = 5.0
    max_body: int = 65536


async def resolve(
    db: Database,
    text: str,
    *,
    spotify: SpotifyClient | None = None,
    reccobeats: ReccoBeatsClient | None = None,
    limit: int = DEFAULT_LIMIT,
    short_links: ShortLinks | None = None,
) -> Resolution:
    """Resolve user text; raises a one-line TuneclusterError subclass when it cannot."""
    parsed = links.parse(text)
    if isinstance(parsed, ShortLink):
        parsed = await follow_short_link(parsed, short_links or ShortLinks())
    if isinstance(parsed, FreeText):
        return await _search(db, parsed.text, spotify, limit)
    return await _by_ref(db, parsed, spotify, reccobeats, limit)


async def resolve_track(
    db: Database,
    text: str,
    *,
    spotify: SpotifyClient | None = None,
    reccobeats: ReccoBeatsClient | None = None,
    short_links: ShortLinks | None = None,
) -> str:
    """One catalogue track id for `text` (a track link, URI, id or search text)."""
    found = await resolve(
        db, text, spotify=spotify, reccobeats=reccobeats, limit=1, short_links=short_links
    )
    if found.kind in ("album", "artist", "playlist"):
        raise NotATrack(f"that is {_article(found.kind)} link, not a track: give a track link")
    if not found.track_ids:
        raise TrackNotFound(found.note or f"no track found for {links._quote(text)}")
    return found.track_ids[0]


# --- by kind ----------------------------------------------------------------------------------


async def _by_ref(
    db: Database,
    ref: SpotifyRef,
    spotify: SpotifyClient | None,
    reccobeats: ReccoBeatsClient | None,
    limit: int,
) -> Resolution:
    resolvers = {
        "track": _track,
        "album": _album,
        "artist": _artist,
        "playlist": _playlist,
    }
    return await resolvers[ref.kind](db, ref, spotify, reccobeats, limit)


async def _track(db, ref: SpotifyRef, spotify, reccobeats, limit) -> Resolution:
    async with db.connection() as conn:
        row = await catalogue.get_track(conn, ref.id)
    if row is not None:
        return Resolution("track", ref.uri, ref.id, [ref.id], name=row["name"])
    looked = await _from_spotify(
        db, ref, spotify, "is not in the catalogue", TrackNotFound, reccobeats=reccobeats
    )
    return Resolution("track", ref.uri, ref.id, [ref.id], name=looked.name, source="spotify")


async def _album(db, ref: SpotifyRef, spotify, reccobeats, limit) -> Resolution:
    async with db.connection() as conn:
        name = await references.album_name(conn, ref.id)
        ids = await references.album_track_ids(conn, ref.id)
    if ids:
        return Resolution("album", ref.uri, ref.id, ids[:limit], name=name)
    looked = await _from_spotify(db, ref, spotify, "has no tracks in the catalogue")
    return Resolution(
        "album", ref.uri, ref.id, looked.track_ids[:limit], name=looked.name, source="spotify"
    )


async def _artist(db, ref: SpotifyRef, spotify, reccobeats, limit) -> Resolution:
    async with db.connection() as conn:
        name = await references.artist_name(conn, ref.id)
        ids = await references.artist_track_ids(conn, ref.id, limit)
        genres = (await catalogue.artist_genres(conn, [ref.id])).get(ref.id, [])
        settled = await enrichment_state.outcomes(conn, "artist", "details", [ref.id])
    if name is not None and not genres and spotify is not None and ref.id not in settled:
        from pipeline.lookup import lookup_artist  # known by name only: ask for its genres

        looked = await lookup_artist(db, ref.id, spotify=spotify)
        genres = looked.genres if looked else genres
    if name is not None:
        note = None if ids else f"the catalogue has no tracks by {name}"
        return Resolution("artist", ref.uri, ref.id, ids, name=name, genres=genres, note=note)
    looked = await _from_spotify(db, ref, spotify, "is not in the catalogue")
    return Resolution(
        "artist",
        ref.uri,
        ref.id,
        [],
        name=looked.name,
        genres=looked.genres,
        source="spotify",
        note=f"the catalogue has no tracks by {looked.name} yet",
    )


async def _playlist(db, ref: SpotifyRef, spotify, reccobeats, limit) -> Resolution:
    async with db.connection() as conn:
        name = await references.playlist_name(conn, ref.id)
        ids = await catalogue.playlist_tracks(conn, ref.id)
    if ids:
        return Resolution("playlist", ref.uri, ref.id, list(dict.fromkeys(ids))[:limit], name=name)
    looked = await _from_spotify(db, ref, spotify, "is not in the catalogue", limit=limit)
    return Resolution(
        "playlist",
        ref.uri,
        ref.id,
        looked.track_ids[:limit],
        name=looked.name,
        source="spotify",
        note=None if looked.track_ids else "Spotify lists no tracks for that playlist",
    )


async def _from_spotify(
    db: Database,
    ref: SpotifyRef,
    spotify: SpotifyClient | None,
    not_here: str,
    missing: type[ResolveError] = ResolveError,
    **options: Any,
) -> Any:
    """What Spotify has on `ref` (`pipeline.lookup`'s lookup of its kind, with `options`),
    for what the catalogue lacks: SpotifyNotConfigured ("<kind> <id> `not_here`") without
    a client, `missing` when Spotify has no such thing."""
    if spotify is None:
        raise SpotifyNotConfigured(f"{ref.kind} {ref.id} {not_here}")
    from pipeline import lookup  # only when the catalogue lacks what was asked

    lookups = {
        "track": lookup.lookup_track,
        "album": lookup.lookup_album,
        "artist": lookup.lookup_artist,
        "playlist": lookup.lookup_playlist,
    }
    looked = await lookups[ref.kind](db, ref.id, spotify=spotify, **options)
    if looked is None:
        raise missing(f"Spotify has no {ref.kind} {ref.id}")
    return looked


async def _search(db: Database, text: str, spotify, limit: int) -> Resolution:
    rows = await search.find(db, text, limit=limit)  # prefix seek, then words and typos
    if rows:
        return Resolution("query", text, track_ids=[r["track_id"] for r in rows])
    if spotify is None:
        return Resolution(
            "query", text, note=f"no track in the catalogue matches {links._quote(text)}"
        )
    from pipeline.lookup import search_spotify

    ids = await search_spotify(db, text, spotify=spotify, limit=limit)
    note = (
        None
        if ids
        else f"neither the catalogue nor Spotify has a track matching {links._quote(text)}"
    )
    return Resolution("query", text, track_ids=ids, source="spotify", note=note)


# --- short links ------------------------------------------------------------------------------

_EMBEDDED = re.compile(
    r"https://open\.spotify\.com/(?:intl-[A-Za-z_-]+/)?(?:track|album|artist|playlist)/[0-9A-Za-z]{22}"
)


async def follow_short_link(link: ShortLink, config: ShortLinks) -> SpotifyRef:
    """Follow a short link through at most `max_hops` redirects to a Spotify reference.

    Only short-link hosts are ever fetched; a redirect anywhere else is read (if it is
    open.spotify.com) or refused. Some short links answer 200 with a page that redirects
    by script: the first Spotify address in its head is taken.
    """
    timeout = aiohttp.ClientTimeout(total=config.timeout)
    url = link.url
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for _ in range(config.max_hops):
                target = _fetchable(url, config)
                async with session.get(target, allow_redirects=False) as response:
                    if response.status in (301, 302, 303, 307, 308):
                        location = response.headers.get("Location", "")
                        if not location:
                            raise ShortLinkError("the short link redirected nowhere")
                        url = urljoin(url, location)
                        if _is_short(url):
                            continue
                        return _as_ref(url)
                    if response.status == 200:
                        body = await response.content.read(config.max_body)
                        found = _EMBEDDED.search(body.decode("utf-8", "replace"))
                        if found:
                            return _as_ref(found.group(0))
                        raise ShortLinkError("the short link's page names no Spotify track")
                    if response.status == 404:
                        raise ShortLinkError("that short link does not exist (404)")
                    raise ShortLinkError(f"the short link answered {response.status}")
    except TimeoutError:
        raise ShortLinkError(f"the short link did not answer within {config.timeout:g} s") from None
    except aiohttp.ClientError as error:
        raise ShortLinkError(
            f"the short link could not be followed ({type(error).__name__})"
        ) from None
    raise ShortLinkError(f"the short link redirected more than {config.max_hops} times")


def _is_short(url: str) -> bool:
    split = urlsplit(url)
    host = (split.hostname or "").lower()
    return host in links.SHORT_HOSTS or (host in links.WEB_HOSTS and split.path.startswith("/s/"))


def _fetchable(url: str, config: ShortLinks) -> str:
    split = urlsplit(url)
    host = (split.hostname or "").lower()
    if not _is_short(url) or split.scheme not in ("http", "https"):
        raise ShortLinkError("the short link led outside Spotify")
    base = config.base_urls.get(host)
    rest = split.path + (f"?{split.query}" if split.query else "")
    return base.rstrip("/") + rest if base else f"https://{host}{rest}"


def _as_ref(url: str) -> SpotifyRef:
    try:
        parsed = links.parse_link(url)
    except links.NotSpotifyLink:
        raise ShortLinkError("the short link led outside Spotify") from None
    except links.UnsupportedLink:
        raise
    except LinkError as error:
        raise ShortLinkError(f"the short link led to a bad address ({error})") from None
    if not isinstance(parsed, SpotifyRef):
        raise ShortLinkError("the short link led to another short link too many times")
    return parsed


def _article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
