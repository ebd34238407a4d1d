"""Finding tracks by what people type: words anywhere in the title or an artist's name,
in any order, surviving a typo ("teen spirit", "smels like teen", "nirvna").

The catalogue's prefix index (`catalogue.search`) only finds names that *start* with the
text. This index holds every word of every track's title and artists (the casefolded,
accent-free `name_norm` forms) as postings lists; a query word matches a vocabulary word
exactly, as a prefix (the word being typed), or within one or two edits (rapidfuzz's
Levenshtein over the vocabulary, which is far smaller than the catalogue). Tracks that
match every word rank first, then by how well and by popularity. The same index serves
both engines: it is built from two streamed reads and lives in the process.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import re
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from sql import catalogue
from sql.database import Database
from sql.normalize import norm_name

log = logging.getLogger("tunecluster.search")

WORD = re.compile(r"\w+")
EXACT, PREFIX, TYPO = 3.0, 2.0, 1.0
MAX_PREFIX_WORDS = 400  # vocabulary words a short prefix may expand to
MAX_TYPO_WORDS = 12
RECHECK_SECONDS = 60.0  # how often a cached index checks whether the catalogue changed
# Largest catalogue whose index a command line run builds before answering (~3 s).
INLINE_BUILD_MAX = 200_000


def words(text: str) -> list[str]:
    return WORD.findall(norm_name(text))


def typo_budget(word: str) -> int:
    """Edits a word may be off by: none below 4 letters, one up to 7, two beyond."""
    return 0 if len(word) < 4 else 1 if len(word) <= 7 else 2


@dataclass
class SearchIndex:
    track_ids: np.ndarray  # (N,) bytes
    popularity: np.ndarray  # (N,) int16, -1 unknown
    vocab: list[str]  # sorted
    offsets: np.ndarray  # (V + 1,) int64 into postings
    postings: np.ndarray  # track positions, grouped by word
    size: int  # tracks in the catalogue when built (a change means rebuild)
    by_length: dict[int, tuple[list[str], list[int]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Vocabulary words by length: a typo within k edits only changes the length by
        at most k, so a typo search compares against a few lengths (3× faster)."""
        if not self.by_length:
            for k, word in enumerate(self.vocab):
                words, positions = self.by_length.setdefault(len(word), ([], []))
                words.append(word)
                positions.append(k)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, int | None]], extra: dict[str, list[str]]):
        """Rows of (track_id, title name_norm, popularity); `extra`: artist names per track."""
        ids: list[str] = []
        popularity: list[int] = []
        pairs: dict[str, list[int]] = {}
        for i, (track_id, name, pop) in enumerate(rows):
            ids.append(track_id)
            popularity.append(-1 if pop is None else int(pop))
            text = name + " " + " ".join(extra.get(track_id, ()))
            for word in set(WORD.findall(text)):
                pairs.setdefault(word, []).append(i)
        vocab = sorted(pairs)
        lengths = np.fromiter((len(pairs[w]) for w in vocab), dtype=np.int64, count=len(vocab))
        offsets = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        postings = np.empty(int(offsets[-1]), dtype=np.int32)
        for k, word in enumerate(vocab):
            postings[offsets[k] : offsets[k + 1]] = pairs[word]
        return cls(
            track_ids=np.array(ids, dtype="S"),
            popularity=np.array(popularity, dtype=np.int16),
            vocab=vocab,
            offsets=offsets,
            postings=postings,
            size=len(ids),
        )

    def _docs(self, k: int) -> np.ndarray:
        return self.postings[self.offsets[k] : self.offsets[k + 1]]

    def _matches(self, word: str) -> list[tuple[int, float]]:
        """(vocabulary position, weight) for the exact word, its completions and typos."""
        found: dict[int, float] = {}
        start = bisect.bisect_left(self.vocab, word)
        end = bisect.bisect_left(self.vocab, word + "\U0010ffff", lo=start)
        for k in range(start, min(end, start + MAX_PREFIX_WORDS)):
            found[k] = EXACT if self.vocab[k] == word else PREFIX
        budget = typo_budget(word)
        if budget and not (start < end and self.vocab[start] == word):
            near: list[tuple[int, int]] = []
            for length in range(len(word) - budget, len(word) + budget + 1):
                words, positions = self.by_length.get(length, ((), ()))
                hits = process.extract(
                    word,
                    words,
                    scorer=Levenshtein.distance,
                    score_cutoff=budget,
                    limit=MAX_TYPO_WORDS,
                )
                near += [(distance, positions[i]) for _, distance, i in hits]
            for _, k in sorted(near)[:MAX_TYPO_WORDS]:
                found.setdefault(k, TYPO)
        return list(found.items())

    def search(self, text: str, limit: int = 25) -> list[str]:
        """Track ids for `text`, best first."""
        query = list(dict.fromkeys(words(text)))
        if not query or limit <= 0 or self.size == 0:
            return []
        score = np.zeros(self.size, dtype=np.float32)
        matched = np.zeros(self.size, dtype=np.int8)
        for word in query:
            best = np.zeros(self.size, dtype=np.float32)
            for k, weight in self._matches(word):
                docs = self._docs(k)  # distinct positions: a plain maximum is enough
                best[docs] = np.maximum(best[docs], weight)
            score += best
            matched += best > 0
        # Every word must match (exactly, as a prefix or within its typo budget): a track
        # that matches "track" alone is not what "track 57" asks for.
        candidates = np.flatnonzero(matched == len(query))
        if not len(candidates):
            return []
        order = np.lexsort((-self.popularity[candidates], -score[candidates]))
        chosen = candidates[order[:limit]]
        return [tid.decode() for tid in self.track_ids[chosen]]


async def build(db: Database) -> SearchIndex:
    """Read titles, artists and popularity (streamed) and build the index off the loop."""
    clock = time.perf_counter()
    async with db.connection() as conn:
        rows = await catalogue.search_titles(conn)
        artists = await catalogue.search_artist_names(conn)
    index = await asyncio.to_thread(SearchIndex.from_rows, rows, artists)
    log.info(
        "search index: %d tracks, %d words in %.1f s",
        index.size,
        len(index.vocab),
        time.perf_counter() - clock,
    )
    return index


class SearchCache:
    """One index per process, rebuilt when the catalogue's track count changes (checked
    at most every RECHECK_SECONDS); concurrent callers share one build."""

    def __init__(self) -> None:
        self.index: SearchIndex | None = None
        self._checked = 0.0
        self._building: asyncio.Task[SearchIndex] | None = None
        self._warm: asyncio.Future[None] | None = None

    @property
    def ready(self) -> bool:
        return self.index is not None

    async def get(self, db: Database) -> SearchIndex:
        if self.index is not None and time.monotonic() - self._checked < RECHECK_SECONDS:
            return self.index
        async with db.connection() as conn:
            size = (await catalogue.counts(conn, ["track"]))["track"]
        self._checked = time.monotonic()
        if self.index is not None and self.index.size == size:
            return self.index
        if self._building is None or self._building.done():
            self._building = asyncio.ensure_future(build(db))
        try:
            self.index = await asyncio.shield(self._building)
        finally:
            if self._building.done():
                self._building = None
        return self.index

    def warm(self, db: Database) -> None:
        """Start building in the background (bot start); errors are logged, not raised."""
        if self._warm is not None and not self._warm.done():
            return

        async def run() -> None:
            try:
                await self.get(db)
            except Exception as error:
                log.warning("search index not built: %s", error)

        self._warm = asyncio.ensure_future(run())


# One cache per open database, shared by every caller in this process (the bot's
# autocomplete and name lookups, a command line run).
_CACHES: weakref.WeakKeyDictionary[Database, SearchCache] = weakref.WeakKeyDictionary()


def cache_for(db: Database) -> SearchCache:
    cache = _CACHES.get(db)
    if cache is None:
        cache = _CACHES[db] = SearchCache()
    return cache


async def find(db: Database, text: str, limit: int = 25) -> list[dict]:
    """Tracks for `text`, best first, described with artists, album and year: the word
    index's ranking (all words, then how well, then popularity); the catalogue's prefix
    seek when the index finds nothing (a name that is all punctuation, say).

    A process without a built index (a command line run) builds one on the spot only
    for a catalogue of at most INLINE_BUILD_MAX tracks; a larger one answers from the
    prefix seek when that finds anything, and builds the index only for what it misses
    (the bot builds its index at start, in the background)."""
    cache = cache_for(db)
    if not cache.ready:
        async with db.connection() as conn:
            large = (await catalogue.counts(conn, ["track"]))["track"] > INLINE_BUILD_MAX
            rows = await catalogue.search(conn, text, limit=limit) if large else []
        if rows:
            return rows
    index = await cache.get(db)
    ids = index.search(text, limit=limit)
    async with db.connection() as conn:
        if not ids:
            return await catalogue.search(conn, text, limit=limit)
        described = {r["track_id"]: r for r in await catalogue.describe_tracks(conn, ids)}
    return [described[tid] for tid in ids if tid in described]
