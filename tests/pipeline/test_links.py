"""Link parsing on a table of real-world strings, hostile ones included (no I/O)."""

from __future__ import annotations

import pytest

from pipeline.links import (
    FreeText,
    LinkError,
    MalformedLink,
    NotSpotifyLink,
    ShortLink,
    SpotifyRef,
    UnsupportedLink,
    is_spotify_id,
    parse,
)

T = "0VjIjW4GlUZAMYd2vXMi3b"  # Blinding Lights
A = "4aawyAB9vmqN3uQ7FjRGTy"
R = "1Xyo4u8uXC1ZmMpatF05PJ"
P = "37i9dQZF1DXcBWIGoYBM5M"

REFS = [
    (f"https://open.spotify.com/track/{T}", "track", T),
    (f"https://open.spotify.com/track/{T}?si=1a2b3c4d5e6f7a8b", "track", T),
    (f"https://open.spotify.com/track/{T}?si=abc&context=spotify%3Aplaylist%3A{P}", "track", T),
    (f"http://open.spotify.com/track/{T}", "track", T),
    (f"https://open.spotify.com/track/{T}/", "track", T),
    (f"https://open.spotify.com/track/{T}#fragment", "track", T),
    (f"https://OPEN.SPOTIFY.COM/track/{T}", "track", T),
    (f"https://open.spotify.com./track/{T}", "track", T),
    (f"https://open.spotify.com:443/track/{T}", "track", T),
    (f"https://open.spotify.com/intl-de/track/{T}", "track", T),
    (f"https://open.spotify.com/intl-pt-BR/track/{T}?si=x", "track", T),
    (f"https://open.spotify.com/intl-ja/album/{A}", "album", A),
    (f"https://open.spotify.com/embed/track/{T}", "track", T),
    (f"https://open.spotify.com/embed/track/{T}?utm_source=generator&theme=0", "track", T),
    (f"https://open.spotify.com/intl-fr/embed/playlist/{P}", "playlist", P),
    (f"https://play.spotify.com/track/{T}", "track", T),
    (f"open.spotify.com/track/{T}", "track", T),
    (f"open.spotify.com/album/{A}?si=zz", "album", A),
    (f"https://open.spotify.com/album/{A}", "album", A),
    (f"https://open.spotify.com/artist/{R}", "artist", R),
    (f"https://open.spotify.com/artist/{R}?si=q", "artist", R),
    (f"https://open.spotify.com/playlist/{P}", "playlist", P),
    (f"https://open.spotify.com/playlist/{P}?si=abc&pi=u-xyz", "playlist", P),
    (f"https://open.spotify.com/user/spotify/playlist/{P}", "playlist", P),
    (f"spotify:track:{T}", "track", T),
    (f"SPOTIFY:TRACK:{T}", "track", T),
    (f"spotify:album:{A}", "album", A),
    (f"spotify:artist:{R}", "artist", R),
    (f"spotify:playlist:{P}", "playlist", P),
    (f"spotify:user:spotify:playlist:{P}", "playlist", P),
    (f"spotify:user:some.user-name_1:playlist:{P}", "playlist", P),
    (f"  https://open.spotify.com/track/{T}  ", "track", T),
    (f"<https://open.spotify.com/track/{T}>", "track", T),  # Discord's no-embed form
    (f"\u200bhttps://open.spotify.com/track/{T}\ufeff", "track", T),  # zero-width junk
    (f"https://open.spotify.com/track/{T}\n", "track", T),
    (f"listen to this: https://open.spotify.com/track/{T} !!", "track", T),
    (f"listen <https://open.spotify.com/track/{T}>!", "track", T),
    (f"this one (https://open.spotify.com/track/{T}).", "track", T),
    (f"check spotify:track:{T}.", "track", T),
    (
        f"two links https://open.spotify.com/track/{T} https://open.spotify.com/album/{A}",
        "track",
        T,
    ),
]


@pytest.mark.parametrize(("text", "kind", "spotify_id"), REFS)
def test_references(text: str, kind: str, spotify_id: str) -> None:
    parsed = parse(text)
    assert isinstance(parsed, SpotifyRef)
    assert (parsed.kind, parsed.id, parsed.bare) == (kind, spotify_id, False)


@pytest.mark.parametrize("text", [T, f"  {T} ", "6rqhFgbbKwnb9MLmUQDhG6", "ABCDEFGHIJKLmnopqrstuv"])
def test_bare_ids_are_tracks(text: str) -> None:
    parsed = parse(text)
    assert parsed == SpotifyRef("track", text.strip(), bare=True)
    assert parsed.uri == f"spotify:track:{text.strip()}"


SHORT = [
    ("https://spotify.link/AbCdEf123", "https://spotify.link/AbCdEf123", "spotify.link"),
    ("spotify.link/AbCdEf123", "https://spotify.link/AbCdEf123", "spotify.link"),
    ("http://spotify.app.link/xyz?_p=abc", "https://spotify.app.link/xyz", "spotify.app.link"),
    ("https://open.spotify.com/s/Zx9", "https://open.spotify.com/s/Zx9", "open.spotify.com"),
    ("hey https://spotify.link/q1w2e3 cool", "https://spotify.link/q1w2e3", "spotify.link"),
]


@pytest.mark.parametrize(("text", "url", "host"), SHORT)
def test_short_links(text: str, url: str, host: str) -> None:
    assert parse(text) == ShortLink(url=url, host=host)


QUERIES = [
    ("Blinding Lights", "Blinding Lights"),
    ("  the   weeknd  ", "the weeknd"),
    ("Re:Stacks", "Re:Stacks"),  # a Bon Iver song, not a URL scheme
    ("will.i.am", "will.i.am"),
    ("AC/DC", "AC/DC"),
    ("Beyoncé", "Beyoncé"),
    ("방탄소년단", "방탄소년단"),
    ("作은 것들을 위한 시 💜", "作은 것들을 위한 시 💜"),
    ("Don't Stop the Party", "Don't Stop the Party"),
    ("abcdefghijklmnopqrstuv", "abcdefghijklmnopqrstuv"),  # 22 lower-case letters: a word
    ("spotify", "spotify"),
    ("track 0VjIjW4GlUZAMYd2vXMi3b please", "track 0VjIjW4GlUZAMYd2vXMi3b please"),
    ("a\x00b\x07c", "a b c"),  # control characters become spaces
    ("'; DROP TABLE track; --", "'; DROP TABLE track; --"),
    ("%", "%"),
    ("_", "_"),
    ("12:30", "12:30"),
]


@pytest.mark.parametrize(("text", "query"), QUERIES)
def test_free_text(text: str, query: str) -> None:
    assert parse(text) == FreeText(query)


ERRORS = [
    # other hosts and look-alikes
    (f"https://open.spotify.com.evil.example/track/{T}", NotSpotifyLink, "evil.example"),
    (f"https://evil.example/open.spotify.com/track/{T}", NotSpotifyLink, "host"),
    (f"https://open-spotify.com/track/{T}", NotSpotifyLink, "host"),
    (f"https://spotify.com.evil.example/track/{T}", NotSpotifyLink, "host"),
    (f"https://xn--spotfy-4ua.com/track/{T}", NotSpotifyLink, "host"),
    (f"https://open.spotify.com@evil.example/track/{T}", NotSpotifyLink, "user name"),
    (f"https://user:pass@open.spotify.com/track/{T}", NotSpotifyLink, "user name"),
    (f"https://open.spotify.com:8443/track/{T}", NotSpotifyLink, "port"),
    (f"https://spotify.link.evil.example/{T}", NotSpotifyLink, "host"),
    (f"https://www.youtube.com/watch?v={T}", NotSpotifyLink, "youtube"),
    (f"https://music.apple.com/album/{A}", NotSpotifyLink, "host"),
    (f"evil.example/track/{T}", NotSpotifyLink, "evil.example"),
    ("http://127.0.0.1/track/x", NotSpotifyLink, "host"),
    ("http://[::1]/x", NotSpotifyLink, "host"),
    ("https:///track/x", NotSpotifyLink, "missing"),
    # other schemes
    ("javascript:alert(document.cookie)", NotSpotifyLink, "javascript"),
    ("JavaScript:alert(1)", NotSpotifyLink, "javascript"),
    ("data:text/html;base64,PHNjcmlwdD4=", NotSpotifyLink, "data"),
    ("file:///etc/passwd", NotSpotifyLink, "file"),
    ("ftp://open.spotify.com/track/x", NotSpotifyLink, "ftp"),
    ("vbscript:msgbox", NotSpotifyLink, "vbscript"),
    # unsupported Spotify things
    (f"https://open.spotify.com/episode/{T}", UnsupportedLink, "episode"),
    (f"https://open.spotify.com/show/{T}", UnsupportedLink, "podcast"),
    (f"spotify:episode:{T}", UnsupportedLink, "episode"),
    (f"spotify:show:{T}", UnsupportedLink, "podcast"),
    ("https://open.spotify.com/user/spotify", UnsupportedLink, "user"),
    ("spotify:user:someone", UnsupportedLink, "user"),
    ("spotify:local:Artist:Album:Title:180", UnsupportedLink, "local"),
    (f"https://open.spotify.com/audiobook/{T}", UnsupportedLink, "audiobook"),
    (f"https://open.spotify.com/concert/{T}", UnsupportedLink, "concert"),
    (f"https://open.spotify.com/genre/{T}", UnsupportedLink, "genre"),
    # malformed Spotify shapes
    ("https://open.spotify.com/track/short", MalformedLink, "22"),
    (f"https://open.spotify.com/track/{T}X", MalformedLink, "22"),
    (f"https://open.spotify.com/track/{T[:-1]}!", MalformedLink, "22"),
    ("https://open.spotify.com/track/", MalformedLink, "without its id"),
    ("https://open.spotify.com/", MalformedLink, "names nothing"),
    ("https://open.spotify.com/intl-de/", MalformedLink, "names nothing"),
    ("https://spotify.link/", MalformedLink, "code"),
    (f"spotify:track:{T}:extra", MalformedLink, "URI"),
    ("spotify:track:", MalformedLink, "22"),
    ("spotify:", MalformedLink, "URI"),
    ("spotify:track:../../etc/passwd", MalformedLink, "22"),
    ("http://[::1", MalformedLink, "valid address"),
    # sizes and emptiness
    ("x" * 5000, LinkError, "too long"),
    ("https://open.spotify.com/track/" + "A" * 4000, LinkError, "too long"),
    ("word " * 100, LinkError, "too long"),
    ("", LinkError, "nothing to look up"),
    ("   \n\t ", LinkError, "nothing to look up"),
    ("\u200b\u200b", LinkError, "nothing to look up"),
]


@pytest.mark.parametrize(("text", "error", "fragment"), ERRORS)
def test_refused_with_one_line(text: str, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error) as caught:
        parse(text)
    message = str(caught.value)
    assert fragment.lower() in message.lower()
    assert "\n" not in message and len(message) < 200


def test_errors_never_echo_control_characters() -> None:
    with pytest.raises(LinkError) as caught:
        parse("https://open.spotify.com/track/ab\x1b[31mcd")
    assert "\x1b" not in str(caught.value)


def test_non_text_is_refused() -> None:
    with pytest.raises(LinkError):
        parse(None)  # type: ignore[arg-type]


def test_is_spotify_id() -> None:
    assert is_spotify_id(T)
    assert not is_spotify_id(T + "x")
    assert not is_spotify_id("0VjIjW4GlUZAMYd2vXMi3-")
