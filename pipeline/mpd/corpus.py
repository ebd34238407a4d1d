"""A generated playlist corpus with latent structure, up to Million Playlist Dataset scale.

`synthetic.py` draws each entry independently from a popularity-skewed universe: right
for parsing and loading benchmarks, but there is nothing a recommender could learn. Here
playlists behave like real ones:

- a few hundred latent **styles**, each in one or two of the taxonomy's genre buckets,
  its artists tagged with real Spotify genre strings the rules file into those buckets
  (`corpus_genres.py`);
- **artists** belong to one style (a few with many tracks, most with a few), tracks sit
  on albums of ~3 tracks, with a release year around the style's era;
- **audio features** around the style's centre, the style around its bucket's, so the
  styles of one bucket overlap in sound and clusters are imperfect;
- **popularity** keeps synthetic.py's rank weight (rank + 400)^-1.2: the global rank of a
  track leans towards mainstream styles and popular artists, and every draw below keeps
  each track's overall chance at weight / total, so the top track sits in ~40,000 of
  1,000,000 playlists and 2.5 M tracks give ~2.2 M playlisted ones, as in the MPD;
- a **playlist** picks a main style (by the style's total weight) and often a second one
  (mostly of the same bucket); its entries are style picks (by weight inside the style),
  another track of an artist already in the playlist (about 1.7 tracks per artist, as in
  the MPD), or a globally popular track; lengths are lognormal around 66 (5–250).

No popularity values are produced: a 2026 development-mode app gets none. Everything is
numpy and deterministic by seed; playlists come in blocks of 1,000 with their own
random stream, so any range of playlists is the same however it is generated.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from pipeline.mpd import corpus_genres as G
from pipeline.mpd.synthetic import EXPONENT, OFFSET
from recommender.demo_catalogue import SYLLABLES as DEMO_SYLLABLES
from sql.errors import TuneclusterError
from sql.schema import CONTINUOUS_FEATURES, FEATURE_COLUMNS

BLOCK = 1000  # playlists per random stream
BASE62 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8)
UNIT = tuple(f for f in CONTINUOUS_FEATURES if f not in ("loudness", "tempo"))  # in [0, 1]
LENGTH_SIGMA = 0.8
LENGTH_FILL = 1.05  # makes up for the clipping at 250 (as in synthetic.py)
REDRAWS = 6  # a track drawn twice into a playlist is drawn again, this many times at most
SOURCE = "corpus-generated"
WORDS = [
    "love",
    "night",
    "heart",
    "fire",
    "dance",
    "dream",
    "blue",
    "gold",
    "ghost",
    "river",
    "city",
    "summer",
    "lights",
    "rain",
    "midnight",
    "wild",
    "young",
    "forever",
    "home",
    "road",
    "star",
    "sky",
    "ocean",
    "electric",
    "velvet",
    "neon",
    "shadow",
    "paradise",
    "highway",
    "thunder",
    "silver",
    "honey",
    "diamond",
    "stranger",
    "sunset",
    "echo",
    "crystal",
    "Beyoncé",
    "Señorita",
    "corazón",
    "été",
    "🔥",
]
SYLLABLES = DEMO_SYLLABLES[:21]  # the demo catalogue's first: the names are pinned by seed


class CorpusError(TuneclusterError):
    """A corpus that cannot be generated with the parameters given."""


@dataclass(frozen=True)
class CorpusConfig:
    """Size and shape of a corpus; the defaults are the Million Playlist Dataset's."""

    tracks: int = 2_500_000  # the universe; ~88 % of it ends up in 1 M playlists
    playlists: int = 1_000_000
    styles: int | None = None  # default: 300, or one per 500 tracks in smaller universes
    seed: int = 11
    mean_length: float = 66.0
    dual_share: float = 0.2  # styles in two buckets
    second_style: float = 0.45  # playlists that also draw from a second style
    same_bucket: float = 0.7  # ... of the main style's bucket
    global_share: float = 0.15  # mean share of a playlist's globally popular picks
    artist_repeat: float = 0.3  # share of picks that take another track of an artist in it
    tracks_per_artist: float = 7.6
    album_length: float = 4.5  # mean run of an artist's tracks per album: ~3.1 per album

    @property
    def style_count(self) -> int:
        if self.styles is not None:
            return self.styles
        return max(len(G.BUCKETS), min(300, self.tracks // 500))

    def check(self) -> None:
        """Refuse parameters that cannot make a corpus, with the parameter named."""
        if self.tracks < 100:
            raise CorpusError(f"tracks must be at least 100 (got {self.tracks})")
        if self.playlists < 1:
            raise CorpusError(f"playlists must be at least 1 (got {self.playlists})")
        if not len(G.BUCKETS) <= self.style_count <= self.tracks // 5:
            raise CorpusError(
                f"styles must be between {len(G.BUCKETS)} (one per bucket) and tracks / 5 "
                f"({self.tracks // 5}); got {self.style_count}"
            )
        if not 5 <= self.mean_length <= 200:
            raise CorpusError(f"mean_length must be between 5 and 200 (got {self.mean_length})")
        for name in ("dual_share", "second_style", "same_bucket", "global_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise CorpusError(f"{name} must be between 0 and 1")
        if not 0 <= self.artist_repeat < 1:
            raise CorpusError("artist_repeat must be at least 0 and below 1")
        if self.tracks_per_artist < 1 or self.album_length < 1:
            raise CorpusError("tracks_per_artist and album_length must be at least 1")


@dataclass
class Block:
    """Playlists first … first + len(lengths) - 1: entries in playlist order."""

    first: int
    lengths: np.ndarray  # int32, entries per playlist (after repeats are dropped)
    tracks: np.ndarray  # int32 track index per entry
    styles: np.ndarray  # int32 (n, 2): main and second style (-1: none)


class Corpus:
    """The latent structure (styles, artists, albums, tracks, popularity) and the playlists
    drawn from it. Tracks are numbered 0 … tracks-1, grouped by style then artist."""

    def __init__(self, config: CorpusConfig | None = None) -> None:
        self.config = config = config or CorpusConfig()
        config.check()
        rng = np.random.default_rng([config.seed, 0])
        self._styles(rng)
        self._artists_and_albums(rng)
        self._popularity(rng)

    # --- structure ---------------------------------------------------------------------------

    def _styles(self, rng: np.random.Generator) -> None:
        c = self.config
        count = c.style_count
        buckets = np.array(G.BUCKETS)
        share = np.array([G.STYLE_SHARE[b] for b in G.BUCKETS])
        primary = np.concatenate(
            [np.arange(len(buckets)), rng.choice(len(buckets), count - len(buckets), p=share)]
        )
        self.style_buckets: list[tuple[str, ...]] = []
        self.style_genres: list[tuple[str, ...]] = []
        for s, b in enumerate(primary):
            bucket = str(buckets[b])
            pairs = [p for p in G.DUAL if bucket in p]
            if s >= len(buckets) and pairs and rng.random() < c.dual_share:
                pair = pairs[int(rng.integers(len(pairs)))]
                other = pair[1] if pair[0] == bucket else pair[0]
                joint = str(rng.choice(G.DUAL[pair]))
                genres = (
                    joint,
                    str(rng.choice(G.SINGLE[bucket])),
                    str(rng.choice(G.SINGLE[other])),
                )
                self.style_buckets.append((bucket, other))
            else:
                pool = G.SINGLE[bucket]
                picked = rng.choice(len(pool), size=min(3, len(pool)), replace=False)
                genres = tuple(pool[i] for i in picked)
                self.style_buckets.append((bucket,))
            self.style_genres.append(genres)
        self.style_primary = primary.astype(np.int16)
        # sizes: lognormal, at least 5 tracks each
        weights = rng.lognormal(0.0, 0.9, count)
        extra = rng.multinomial(c.tracks - 5 * count, weights / weights.sum())
        self.style_size = (extra + 5).astype(np.int64)
        self.style_start = np.concatenate([[0], np.cumsum(self.style_size)[:-1]])
        self.track_style = np.repeat(np.arange(count, dtype=np.int32), self.style_size)
        self.style_year = np.clip(2017 - rng.exponential(9.0, count), 1955, 2017).round()
        self.style_major = rng.uniform(0.45, 0.8, count)
        self.style_mainstream = rng.normal(0.0, 0.7, count)

    def _artists_and_albums(self, rng: np.random.Generator) -> None:
        c = self.config
        per_style = np.maximum(1, np.round(self.style_size / c.tracks_per_artist)).astype(np.int64)
        offset = np.concatenate([[0], np.cumsum(per_style)[:-1]])
        # a few artists with many tracks, most with a few
        local = np.floor(per_style[self.track_style] * rng.random(c.tracks) ** 1.8)
        raw = np.sort(offset[self.track_style] + local.astype(np.int64))  # stays style-ordered
        _, artist = np.unique(raw, return_inverse=True)
        self.track_artist = artist.astype(np.int32)
        artists = int(artist.max()) + 1
        self.artist_start = np.searchsorted(self.track_artist, np.arange(artists))
        self.artist_end = np.append(self.artist_start[1:], c.tracks)
        self.artist_style = self.track_style[self.artist_start]
        # albums: consecutive runs of an artist's tracks, 1 + Poisson tracks long (an artist's
        # last album is cut short, so albums hold ~3.1 tracks on average, as in the MPD)
        album_length = 1 + rng.poisson(c.album_length - 1, artists)
        position = np.arange(c.tracks) - self.artist_start[self.track_artist]
        run = position // album_length[self.track_artist]
        new_album = np.ones(c.tracks, dtype=bool)
        new_album[1:] = (self.track_artist[1:] != self.track_artist[:-1]) | (run[1:] != run[:-1])
        self.track_album = (np.cumsum(new_album) - 1).astype(np.int32)
        self.album_artist = self.track_artist[new_album]
        artist_year = self.style_year[self.artist_style] + rng.normal(0, 4, artists)
        year = artist_year[self.album_artist] + rng.normal(0, 3, len(self.album_artist))
        self.album_year = np.clip(year.round(), 1950, 2017).astype(np.int16)

    def _popularity(self, rng: np.random.Generator) -> None:
        c = self.config
        appeal = (
            self.style_mainstream[self.track_style]
            + rng.normal(0.0, 0.9, len(self.artist_start))[self.track_artist]
            + rng.normal(0.0, 1.0, c.tracks)
        )
        order = np.argsort(-appeal, kind="stable")
        self.rank = np.empty(c.tracks, dtype=np.int32)
        self.rank[order] = np.arange(c.tracks, dtype=np.int32)
        weight = (self.rank.astype(np.float64) + 1 + OFFSET) ** -EXPONENT
        self._cum = np.concatenate([[0.0], np.cumsum(weight)])
        self.total = float(self._cum[-1])
        style_end = self.style_start + self.style_size
        self.style_weight = self._cum[style_end] - self._cum[self.style_start]
        self._style_cdf = np.cumsum(self.style_weight) / self.total
        # the styles grouped by primary bucket, for a second style of the same bucket
        self._by_bucket = np.argsort(self.style_primary, kind="stable")
        grouped = np.concatenate([[0.0], np.cumsum(self.style_weight[self._by_bucket])])
        first = np.searchsorted(self.style_primary[self._by_bucket], np.arange(len(G.BUCKETS)))
        last = np.append(first[1:], len(self._by_bucket))
        self._bucket_lo, self._bucket_hi, self._grouped = grouped[first], grouped[last], grouped

    # --- playlists ---------------------------------------------------------------------------

    @property
    def blocks(self) -> int:
        return -(-self.config.playlists // BLOCK)

    def _pick(self, start: np.ndarray, end: np.ndarray, u: np.ndarray) -> np.ndarray:
        """A track in [start, end) drawn by weight: u places a point in [cum[start], cum[end])."""
        lo, hi = self._cum[start], self._cum[end]
        found = _search(self._cum, lo + u * (hi - lo)) - 1
        return np.clip(found, start, end - 1)

    def block(self, index: int) -> Block:
        """The index-th block of playlists (the same whatever else is generated)."""
        c = self.config
        if not 0 <= index < self.blocks:
            raise CorpusError(f"block {index} is outside 0 … {self.blocks - 1}")
        rng = np.random.default_rng([c.seed, 1, index])
        first = index * BLOCK
        n = min(BLOCK, c.playlists - first)
        mu = np.log(c.mean_length * LENGTH_FILL) - LENGTH_SIGMA**2 / 2
        lengths = np.clip(rng.lognormal(mu, LENGTH_SIGMA, n).round(), 5, 250).astype(np.int64)
        main = np.searchsorted(self._style_cdf, rng.random(n) * self._style_cdf[-1], side="right")
        main = np.minimum(main, len(self.style_size) - 1)
        second = self._second_styles(rng, main)
        share = rng.beta(1.5, 1.5 * (1 - c.global_share) / max(c.global_share, 1e-9), n)
        pid = np.repeat(np.arange(n), lengths)
        tracks, start, end = self._draw_entries(rng, pid, lengths, main, second, share)
        keep = self._redraw_repeats(rng, pid, main, tracks, start, end)
        return Block(
            first=first,
            lengths=np.bincount(pid[keep], minlength=n).astype(np.int32),
            tracks=tracks[keep].astype(np.int32),
            styles=np.stack([main, second], axis=1).astype(np.int32),
        )

    def _draw_entries(
        self,
        rng: np.random.Generator,
        pid: np.ndarray,
        lengths: np.ndarray,
        main: np.ndarray,
        second: np.ndarray,
        share: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each entry's track (playlist `pid`) and the range [start, end) it came from:
        a style pick, a globally popular track, or another track of an artist already in
        the playlist (see the module's docstring)."""
        c = self.config
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        pos = np.arange(len(pid)) - starts[pid]
        u = rng.random(len(pid))
        is_global = (u < share[pid] * (1 - c.artist_repeat)) & (pos > 0)
        is_repeat = ~is_global & (u > 1 - c.artist_repeat) & (pos > 0)
        is_style = ~is_global & ~is_repeat
        # each entry's range of tracks: its style's, every track, or an artist's
        start = np.zeros(len(pid), dtype=np.int64)
        end = np.full(len(pid), len(self.rank), dtype=np.int64)
        use_second = (second[pid] >= 0) & (rng.random(len(pid)) < 0.35)  # a third of it
        style = np.where(use_second, second[pid], main[pid])[is_style]
        start[is_style] = self.style_start[style]
        end[is_style] = self.style_start[style] + self.style_size[style]
        tracks = np.zeros(len(pid), dtype=np.int64)
        ready = ~is_repeat
        tracks[ready] = self._pick(start[ready], end[ready], rng.random(int(ready.sum())))
        self._repeat_artists(rng, pid, len(lengths), is_style, is_repeat, tracks, start, end)
        tracks[is_repeat] = self._pick(
            start[is_repeat], end[is_repeat], rng.random(int(is_repeat.sum()))
        )
        return tracks, start, end

    def _redraw_repeats(
        self,
        rng: np.random.Generator,
        pid: np.ndarray,
        main: np.ndarray,
        tracks: np.ndarray,
        start: np.ndarray,
        end: np.ndarray,
    ) -> np.ndarray:
        """A track already in the playlist is drawn again (in place): from the same range,
        then (an artist with too few tracks, a style too small) the main style's, then any
        track. Returns the mask of the entries kept."""
        keep = self._first_occurrences(pid, tracks)
        for attempt in range(REDRAWS):
            again = np.flatnonzero(~keep)
            if not len(again):
                break
            if attempt == REDRAWS // 3:
                style = main[pid[again]]
                start[again] = self.style_start[style]
                end[again] = self.style_start[style] + self.style_size[style]
            elif attempt == 2 * REDRAWS // 3:
                start[again], end[again] = 0, len(self.rank)
            tracks[again] = self._pick(start[again], end[again], rng.random(len(again)))
            keep = self._first_occurrences(pid, tracks)
        return keep

    def _second_styles(self, rng: np.random.Generator, main: np.ndarray) -> np.ndarray:
        c = self.config
        n = len(main)
        bucket = self.style_primary[main]
        lo, hi = self._bucket_lo[bucket], self._bucket_hi[bucket]
        at = np.searchsorted(self._grouped, lo + rng.random(n) * (hi - lo), side="right") - 1
        near = self._by_bucket[np.clip(at, 0, len(self._by_bucket) - 1)]
        far = np.searchsorted(self._style_cdf, rng.random(n) * self._style_cdf[-1], side="right")
        far = np.minimum(far, len(self.style_size) - 1)
        second = np.where(rng.random(n) < c.same_bucket, near, far)
        return np.where((rng.random(n) < c.second_style) & (second != main), second, -1)

    def _repeat_artists(self, rng, pid, n, is_style, is_repeat, tracks, start, end) -> None:
        """Set the range of each repeat entry: the tracks of the artist of one of the
        playlist's style picks (whose track is drawn already)."""
        slots = np.flatnonzero(is_style)  # every playlist has one: position 0
        count = np.bincount(pid[slots], minlength=n)
        offset = np.concatenate([[0], np.cumsum(count)[:-1]])
        r = np.flatnonzero(is_repeat)
        source = slots[offset[pid[r]] + (rng.random(len(r)) * count[pid[r]]).astype(np.int64)]
        artist = self.track_artist[tracks[source]]
        start[r], end[r] = self.artist_start[artist], self.artist_end[artist]

    def _first_occurrences(self, pid: np.ndarray, tracks: np.ndarray) -> np.ndarray:
        """A mask keeping each track's first entry in each playlist."""
        key = pid.astype(np.int64) * len(self.rank) + tracks
        order = np.argsort(key, kind="stable")
        repeat = key[order][1:] == key[order][:-1]
        keep = np.ones(len(key), dtype=bool)
        keep[order[1:][repeat]] = False
        return keep

    def iter_blocks(self, start: int = 0, stop: int | None = None) -> Iterator[Block]:
        for index in range(start, self.blocks if stop is None else min(stop, self.blocks)):
            yield self.block(index)

    def entries(self) -> tuple[np.ndarray, np.ndarray]:
        """Every entry as (playlist number, track index), both int32, in playlist order."""
        pids, tracks = [], []
        for b in self.iter_blocks():
            pids.append(
                np.repeat(np.arange(b.first, b.first + len(b.lengths), dtype=np.int32), b.lengths)
            )
            tracks.append(b.tracks)
        return np.concatenate(pids), np.concatenate(tracks)

    def entries_frame(self, *, categorical: bool = True) -> tuple[pd.DataFrame, np.ndarray]:
        """`entries` as the association phase takes them, with the sorted array of every
        track id (the universe): a frame of `playlist_id` and `track_id`. Categorical by
        default (codes over one string per playlist and per track: 66 M entries take
        ~0.5 GB); `categorical=False` gives object columns of shared str objects (~1 GB
        of pointers at that size, as a database read with interned ids would)."""
        pid, track = self.entries()
        ids = self.track_ids()
        playlists = playlist_ids(np.arange(self.config.playlists))
        if categorical:
            columns = {
                "playlist_id": pd.Categorical.from_codes(pid, categories=pd.Index(playlists)),
                "track_id": pd.Categorical.from_codes(track, categories=pd.Index(ids)),
            }
        else:
            columns = {"playlist_id": playlists[pid], "track_id": ids[track]}
        return pd.DataFrame(columns, copy=False), np.sort(ids)

    # --- catalogue values ----------------------------------------------------------------------

    @property
    def artists(self) -> int:
        return len(self.artist_start)

    @property
    def albums(self) -> int:
        return len(self.album_artist)

    def track_ids(self) -> np.ndarray:
        return spotify_ids("t", np.arange(self.config.tracks))

    def artist_ids(self) -> np.ndarray:
        return spotify_ids("a", np.arange(self.artists))

    def album_ids(self) -> np.ndarray:
        return spotify_ids("b", np.arange(self.albums))

    def track_buckets(self) -> list[tuple[str, ...]]:
        """The buckets each style was made for, per track (the generator's ground truth)."""
        return [self.style_buckets[s] for s in self.track_style.tolist()]

    def artist_genres(self) -> list[tuple[str, ...]]:
        """Each artist's genres: one to three of its style's; in a two-bucket style the
        joint genre ("pop rap") always, so every artist files into both buckets."""
        rng = np.random.default_rng([self.config.seed, 2])
        out = []
        counts = rng.integers(1, 4, self.artists)
        for a, s in enumerate(self.artist_style.tolist()):
            pool = self.style_genres[s]
            if len(self.style_buckets[s]) == 2:
                extra = rng.choice(pool[1:], size=min(int(counts[a]) - 1, 2), replace=False)
                out.append((pool[0], *map(str, extra)))
            else:
                size = min(int(counts[a]), len(pool))
                out.append(tuple(map(str, rng.choice(pool, size=size, replace=False))))
        return out

    @cached_property
    def features(self) -> pd.DataFrame:
        """Audio features per track (FEATURE_COLUMNS), in track order."""
        rng = np.random.default_rng([self.config.seed, 3])
        centre = np.array([_latent(G.SOUND[G.BUCKETS[b]]) for b in self.style_primary])
        for s, buckets in enumerate(self.style_buckets):
            if len(buckets) == 2:
                centre[s] = 0.6 * centre[s] + 0.4 * _latent(G.SOUND[buckets[1]])
        centre += rng.normal(size=centre.shape) * np.array(G.STYLE_SPREAD)
        spread = np.array(G.TRACK_SPREAD)
        artist = centre[self.artist_style] + rng.normal(size=(self.artists, 9)) * spread * 0.5
        latent = (
            artist[self.track_artist] + rng.normal(size=(self.config.tracks, 9)) * spread * 0.85
        )
        values = _observed(latent)
        n = self.config.tracks
        frame = pd.DataFrame(values, columns=list(G.CONTINUOUS))
        frame["key"] = rng.choice(12, n, p=_KEY_SHARE).astype(np.int16)
        frame["mode"] = (rng.random(n) < self.style_major[self.track_style]).astype(np.int16)
        signature = rng.choice([4, 3, 5, 1], n, p=[0.9, 0.07, 0.02, 0.01])
        frame["time_signature"] = signature.astype(np.int16)
        return frame[list(FEATURE_COLUMNS)]

    def durations(self) -> np.ndarray:
        rng = np.random.default_rng([self.config.seed, 4])
        seconds = rng.lognormal(np.log(215), 0.25, self.config.tracks)
        return (np.clip(seconds, 30, 900) * 1000).astype(np.int64)

    def track_names(self) -> list[str]:
        return _titles(np.random.default_rng([self.config.seed, 5]), self.config.tracks, 4)

    def album_names(self) -> list[str]:
        return _titles(np.random.default_rng([self.config.seed, 6]), self.albums, 3)

    def artist_names(self) -> list[str]:
        rng = np.random.default_rng([self.config.seed, 7])
        parts = rng.integers(0, len(SYLLABLES), (self.artists, 4))
        words = np.array(SYLLABLES)
        first = np.char.add(words[parts[:, 0]], words[parts[:, 1]])
        last = np.char.add(words[parts[:, 2]], words[parts[:, 3]])
        return [f"{a.capitalize()} {b.capitalize()}" for a, b in zip(first, last, strict=True)]

    def playlist_name(self, style: int) -> str:
        """What people call such a playlist: mostly its style's first genre."""
        return self.style_genres[style][0].title()


# --- helpers ------------------------------------------------------------------------------------

# how often each key occurs in real catalogues (C, C#, D, … B)
_KEY_SHARE = np.array([12.8, 10.4, 9.6, 3.0, 7.5, 8.4, 7.1, 11.4, 6.6, 8.5, 6.6, 8.1])
_KEY_SHARE = _KEY_SHARE / _KEY_SHARE.sum()
_UNIT_AT = np.array([f in UNIT for f in G.CONTINUOUS])


def _search(cum: np.ndarray, points: np.ndarray) -> np.ndarray:
    """searchsorted (right) of many random points: sorted first, which is 4x faster on a
    table of millions (each search starts where the previous one ended)."""
    order = np.argsort(points)
    found = np.empty(len(points), dtype=np.int64)
    found[order] = np.searchsorted(cum, points[order], side="right")
    return found


def _latent(values: tuple[float, ...]) -> np.ndarray:
    """Feature values to the space noise is added in: logits for the [0, 1] features."""
    out = np.array(values, dtype=np.float64)
    p = np.clip(out[_UNIT_AT], 1e-4, 1 - 1e-4)
    out[_UNIT_AT] = np.log(p / (1 - p))
    return out


def _observed(latent: np.ndarray) -> np.ndarray:
    out = latent.copy()
    out[:, _UNIT_AT] = 1 / (1 + np.exp(-latent[:, _UNIT_AT]))
    loud = G.CONTINUOUS.index("loudness")
    tempo = G.CONTINUOUS.index("tempo")
    out[:, loud] = np.clip(out[:, loud], -45.0, 0.5)
    out[:, tempo] = np.clip(out[:, tempo], 50.0, 220.0)
    return out.round(4)


def _titles(rng: np.random.Generator, n: int, most: int) -> list[str]:
    words = np.array(WORDS, dtype=object)
    picks = words[rng.integers(0, len(words), (n, most))]
    size = rng.integers(1, most + 1, n)
    return [" ".join(row[:k]).title() for row, k in zip(picks.tolist(), size.tolist(), strict=True)]


_MIX = {"t": 0x9E3779B97F4A7C15, "a": 0xC2B2AE3D27D4EB4F, "b": 0x165667B19E3779F9}


def spotify_ids(kind: str, index: np.ndarray) -> np.ndarray:
    """22-character base62 ids (object array of str), distinct per kind: the index times
    an odd constant modulo 2^64 is a bijection, written as 11 base-62 digits, then 11
    more of a second mix so the ids look random."""
    mult = np.uint64(_MIX[kind])
    x = np.asarray(index, dtype=np.uint64) * mult + (mult ^ np.uint64(0x632BE59BD9B4E019))
    y = (x ^ (x >> np.uint64(29))) * np.uint64(0xBF58476D1CE4E5B9)
    digits = np.empty((len(x), 22), dtype=np.uint8)
    for part, value in ((0, x), (11, y)):
        value = value.copy()
        for i in range(11):
            digits[:, part + i] = BASE62[(value % np.uint64(62)).astype(np.int64)]
            value //= np.uint64(62)
    return digits.view("S22").ravel().astype(str).astype(object)


def playlist_ids(index: np.ndarray) -> np.ndarray:
    """`gen:` and the playlist number zero-padded to 7 digits (keys sort in number order,
    so loading appends to playlist_track's key, as MPD keys do)."""
    return np.char.add("gen:", np.char.zfill(np.asarray(index).astype(str), 7)).astype(object)
