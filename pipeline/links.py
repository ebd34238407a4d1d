"""What a user typed, read without any I/O: a Spotify reference, a short link to follow,
or free text to search for.

Everything a member may paste is hostile until proven otherwise: only the exact hosts
below count as Spotify (`open.spotify.com.evil.example` and `user@host` tricks do not),
only http(s) and `spotify:` schemes are read, an id is exactly 22 base62 characters,
and over-long input is refused before any parsing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from sql.errors import TuneclusterError

Kind = Literal["track", "album", "artist", "playlist"]
KINDS: tuple[str, ...] = ("track", "album", "artist", "playlist")
UNSUPPORTED_KINDS = ("episode", "show", "audiobook", "chapter", "user", "local", "concert")

WEB_HOSTS = frozenset({"open.spotify.com", "play.spotify.com"})
SHORT_HOSTS = frozenset({"spotify.link", "spotify.app.link"})
MAX_INPUT = 2048  # a real link is < 200 characters; a query has no use for more
MAX_QUERY = 200

_ID = re.compile(r"[0-9A-Za-z]{22}")
_LOCALE = re.compile(r"intl-[a-z]{2}(?:[-_][a-z0-9]{2,4})?", re.IGNORECASE)
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):", re.IGNORECASE)
_HOSTLIKE = re.compile(r"^(?:[\w-]+\.)+[a-z]{2,}(?::\d+)?/", re.IGNORECASE)
_REFUSED_SCHEMES = frozenset(
    {"javascript", "vbscript", "data", "file", "ftp", "mailto", "about", "blob", "intent", "tel"}
)
_URL_TOKEN = re.compile(r"(?:https?://|spotify:)[^\s<>\"'()\[\]{}]+", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")


class LinkError(TuneclusterError):
    """The input cannot be turned into something to resolve; the message says why."""


class NotSpotifyLink(LinkError):
    """A link, but not to Spotify (another host, another scheme)."""


class UnsupportedLink(LinkError):
    """A Spotify link to something tunecluster does not recommend from (episode, show…)."""


class MalformedLink(LinkError):
    """A Spotify link whose shape or id is wrong."""


@dataclass(frozen=True)
class SpotifyRef:
    """A Spotify entity named by kind and id. `bare` when only the id was given."""

    kind: Kind
    id: str
    bare: bool = False

    @property
    def uri(self) -> str:
        return f"spotify:{self.kind}:{self.id}"


@dataclass(frozen=True)
class ShortLink:
    """A spotify.link-style address: only following its redirects tells what it names."""

    url: str
    host: str


@dataclass(frozen=True)
class FreeText:
    """Anything that is not a link: a catalogue (and Spotify) search."""

    text: str


Parsed = SpotifyRef | ShortLink | FreeText


def parse(text: str) -> Parsed:
    """Read user input; raises a LinkError subclass with a one-line reason."""
    if not isinstance(text, str):
        raise LinkError("expected text")
    if len(text) > MAX_INPUT:
        raise LinkError(f"input too long ({len(text)} characters, at most {MAX_INPUT})")
    cleaned = _clean(text)
    if not cleaned:
        raise LinkError("nothing to look up: give a Spotify link, URI, id or a search text")
    link = _link_token(cleaned)
    if link is not None:
        return parse_link(link)
    if _ID.fullmatch(cleaned) and _looks_like_id(cleaned):
        return SpotifyRef("track", cleaned, bare=True)
    if len(cleaned) > MAX_QUERY:
        raise LinkError(f"search text too long ({len(cleaned)} characters, at most {MAX_QUERY})")
    return FreeText(cleaned)


def parse_link(link: str) -> SpotifyRef | ShortLink:
    """Read one link or URI (no surrounding text)."""
    link = link.strip().strip("<>").strip()
    scheme = _SCHEME.match(link)
    if scheme and scheme.group(1).lower() == "spotify":
        return _parse_uri(link)
    if scheme and scheme.group(1).lower() not in ("http", "https"):
        raise NotSpotifyLink(
            f"not a Spotify link ({_quote(scheme.group(1))}: addresses are not read)"
        )
    if not scheme:
        link = "https://" + link
    return _parse_url(link)


def is_spotify_id(value: str) -> bool:
    return bool(_ID.fullmatch(value))


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub(" ", text)
    return " ".join(text.split())


def _link_token(text: str) -> str | None:
    """The link in `text`: the whole text when it is one, else the first URL-ish word
    (members paste 'listen to this: https://open.spotify.com/…')."""
    candidate = text.strip("<>")
    if " " not in candidate and _is_link(candidate):
        return candidate
    found = _URL_TOKEN.search(text)
    return found.group(0).rstrip(".,!?;:") if found else None


def _is_link(word: str) -> bool:
    """True for words meant as addresses; 'Re:Stacks' and 'will.i.am' stay searches."""
    scheme = _SCHEME.match(word)
    if scheme:
        name = scheme.group(1).lower()
        return name in ("http", "https", "spotify") or name in _REFUSED_SCHEMES or "://" in word
    host = word.split("/", 1)[0].lower()
    return host in WEB_HOSTS or host in SHORT_HOSTS or bool(_HOSTLIKE.match(word))


def _looks_like_id(value: str) -> bool:
    """A 22-letter word could be a search; real ids mix digits or cases."""
    return any(c.isdigit() for c in value) or (value != value.lower() and value != value.upper())


def _parse_uri(uri: str) -> SpotifyRef:
    parts = uri.split(":")
    if len(parts) == 5 and parts[1].lower() == "user" and parts[3].lower() == "playlist":
        return _ref("playlist", parts[4], uri)  # spotify:user:{user}:playlist:{id}
    if len(parts) >= 3 and parts[1].lower() in UNSUPPORTED_KINDS:
        raise UnsupportedLink(_unsupported(parts[1].lower()))
    if len(parts) != 3:
        raise MalformedLink(f"not a Spotify URI: {_quote(uri)}")
    return _ref(parts[1].lower(), parts[2], uri)


def _parse_url(url: str) -> SpotifyRef | ShortLink:
    try:
        split = urlsplit(url)
        host = (split.hostname or "").rstrip(".").lower()
        port = split.port
    except ValueError:
        raise MalformedLink(f"not a valid address: {_quote(url)}") from None
    if split.username is not None or split.password is not None:
        raise NotSpotifyLink("not a Spotify link (addresses with a user name are not read)")
    if port not in (None, 80, 443):
        raise NotSpotifyLink(f"not a Spotify link (host {_quote(host)} on port {port})")
    if host in SHORT_HOSTS:
        if not split.path.strip("/"):
            raise MalformedLink("a Spotify short link without its code")
        return ShortLink(url=f"https://{host}{split.path}", host=host)
    if host not in WEB_HOSTS:
        raise NotSpotifyLink(f"not a Spotify link (host {_quote(host) if host else 'missing'})")
    segments = [s for s in split.path.split("/") if s]
    if segments and _LOCALE.fullmatch(segments[0]):
        segments = segments[1:]
    if segments and segments[0].lower() in ("embed", "embed-podcast"):
        segments = segments[1:]
    if len(segments) >= 2 and segments[0] == "s":
        return ShortLink(url=f"https://{host}/s/{segments[1]}", host=host)
    if len(segments) >= 4 and segments[0] == "user" and segments[2] == "playlist":
        return _ref("playlist", segments[3], url)
    if not segments:
        raise MalformedLink("a Spotify address that names nothing (expected /track/<id> …)")
    kind = segments[0].lower()
    if kind in UNSUPPORTED_KINDS:
        raise UnsupportedLink(_unsupported(kind))
    if len(segments) < 2:
        raise MalformedLink(f"a Spotify {_quote(kind)} address without its id")
    return _ref(kind, segments[1], url)


def _ref(kind: str, raw_id: str, original: str) -> SpotifyRef:
    if kind in UNSUPPORTED_KINDS:
        raise UnsupportedLink(_unsupported(kind))
    if kind not in KINDS:
        raise UnsupportedLink(f"Spotify {_quote(kind)} links are not supported")
    if not _ID.fullmatch(raw_id):
        raise MalformedLink(
            f"malformed Spotify {kind} id {_quote(raw_id)} (expected 22 letters and digits)"
        )
    return SpotifyRef(kind, raw_id)  # type: ignore[arg-type]


def _unsupported(kind: str) -> str:
    what = {"episode": "podcast episodes", "show": "podcasts", "user": "user profiles"}
    return (
        f"{what.get(kind, kind + 's')} are not supported: give a track, album, artist or playlist"
    )


def _quote(value: str, limit: int = 40) -> str:
    """User text as safe to echo: short, one line, printable."""
    value = _CONTROL.sub("", value)
    return repr(value if len(value) <= limit else value[:limit] + "…")
