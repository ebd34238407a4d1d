"""Generated Million Playlist Dataset slices in the real format, for tests and benchmarks.

The MPD itself may never ship (research-only licence), so tests and benchmarks generate
slices shaped like it: `{"info": ..., "playlists": [...]}` pretty-printed with four
spaces (about 33 MB per 1,000 playlists), playlist lengths around 66 entries, and track
popularity skewed like real playlists: track rank r is drawn with weight (r + 400)^-1.2
over 2.5 M tracks, which over 1,000 slices gives about 2.2 M unique tracks (real MPD:
2.26 M) with the top track in about 40,000 playlists (real: ~46,000). Each track has one
album (about 3.4 tracks per album) and each album one artist (about 2.5 albums per
artist), so the whole run has MPD-like counts of albums (~735 k) and artists (~296 k).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
UNIVERSE = 2_500_000
EXPONENT = 1.2
OFFSET = 400
TRACKS_PER_ALBUM = 2_500_000 / 734_684
ALBUMS_PER_ARTIST = 734_684 / 295_860
_WORD_TEXT = (
    "love night heart fire dance dream blue gold ghost river city summer lights rain "
    "midnight wild young forever home road star sky ocean electric velvet neon shadow "
    "paradise highway thunder silver honey diamond stranger sunset echo crystal the of "
    "my your in on me you we girl boy baby time life world light way back down up out "
    "Beyoncé Señorita 🔥"
)  # about one name in ten has a non-ASCII character, as in the MPD
WORDS = _WORD_TEXT.split()


def spotify_id(kind: str, index: int) -> str:
    """A deterministic 22-character base62 id for the index-th item of a kind."""
    digest = int.from_bytes(hashlib.blake2b(f"{kind}:{index}".encode(), digest_size=17).digest())
    chars = []
    for _ in range(22):
        digest, rest = divmod(digest, 62)
        chars.append(BASE62[rest])
    return "".join(chars)


def _title(seed: int, words: int) -> str:
    return " ".join(WORDS[(seed >> (5 * i)) % len(WORDS)] for i in range(words)).title()


@dataclass
class Universe:
    """The tracks slices draw from, with MPD-like popularity skew."""

    size: int = UNIVERSE
    seed: int = 7

    @cached_property
    def cdf(self) -> np.ndarray:
        weights = (np.arange(1, self.size + 1, dtype=np.float64) + OFFSET) ** -EXPONENT
        cdf = np.cumsum(weights)
        return cdf / cdf[-1]

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.searchsorted(self.cdf, rng.random(n), side="right")

    def entry(self, rank: int, cache: dict[int, dict]) -> dict:
        """The track entry of rank `rank` (the same every time it is drawn)."""
        found = cache.get(rank)
        if found is None:
            album = int(rank / TRACKS_PER_ALBUM)
            artist = int(album / ALBUMS_PER_ARTIST)
            mix = int.from_bytes(hashlib.blake2b(str(rank).encode(), digest_size=8).digest())
            found = {
                "artist_name": _title(artist * 2654435761 % (1 << 40), 2),
                "track_uri": f"spotify:track:{spotify_id('track', rank)}",
                "artist_uri": f"spotify:artist:{spotify_id('artist', artist)}",
                "track_name": _title(mix, 1 + mix % 4),
                "album_uri": f"spotify:album:{spotify_id('album', album)}",
                "duration_ms": 120_000 + mix % 240_000,
                "album_name": _title(album * 40503 % (1 << 40), 1 + album % 3),
            }
            cache[rank] = found
        return found


def slice_document(
    index: int,
    *,
    playlists: int = 1000,
    mean_tracks: float = 66.0,
    universe: Universe | None = None,
) -> dict:
    """The index-th slice (`pid`s index*playlists …) as a Python object."""
    universe = universe or Universe()
    rng = np.random.default_rng([universe.seed, index])
    sigma = 0.8
    # median ~49 like the MPD; 1.06 makes up for the clipping at 250
    lengths = rng.lognormal(np.log(mean_tracks * 1.06) - sigma**2 / 2, sigma, playlists)
    lengths = np.clip(lengths.round(), 5, 250).astype(int)
    ranks = universe.draw(rng, int(lengths.sum()))
    cache: dict[int, dict] = {}
    start = index * playlists
    out = []
    offset = 0
    for i, n in enumerate(lengths):
        picks = ranks[offset : offset + n]
        offset += n
        tracks = [{"pos": pos, **universe.entry(int(r), cache)} for pos, r in enumerate(picks)]
        out.append(
            {
                "name": _title(int(rng.integers(1 << 40)), 1 + i % 3),
                "collaborative": "true" if i % 50 == 0 else "false",
                "pid": start + i,
                "modified_at": 1_500_000_000 + int(rng.integers(10_000_000)),
                "num_tracks": int(n),
                "num_albums": len({t["album_uri"] for t in tracks}),
                "num_followers": 1 + int(rng.integers(3)),
                "tracks": tracks,
                "num_edits": 1 + int(rng.integers(30)),
                "duration_ms": sum(t["duration_ms"] for t in tracks),
                "num_artists": len({t["artist_uri"] for t in tracks}),
                **({"description": "songs for " + _title(i, 2)} if i % 10 == 0 else {}),
            }
        )
    info = {
        "generated_on": "2017-12-03 08:41:42.057563",
        "slice": f"{start}-{start + playlists - 1}",
        "version": "v1",
    }
    return {"info": info, "playlists": out}


def slice_name(index: int, playlists: int = 1000) -> str:
    start = index * playlists
    return f"mpd.slice.{start}-{start + playlists - 1}.json"


def write_slices(
    folder: Path,
    count: int,
    *,
    first: int = 0,
    playlists: int = 1000,
    mean_tracks: float = 66.0,
    universe: Universe | None = None,
) -> list[Path]:
    """Write slices first … first+count-1 into `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    universe = universe or Universe()
    paths = []
    for index in range(first, first + count):
        doc = slice_document(index, playlists=playlists, mean_tracks=mean_tracks, universe=universe)
        path = folder / slice_name(index, playlists)
        path.write_text(json.dumps(doc, indent=4, ensure_ascii=False), encoding="utf-8")
        paths.append(path)
    return paths
