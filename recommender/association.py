"""Which tracks people play together: an association model learned from playlists.

Every playlist the catalogue holds (MPD slices, TidyTuesday, any later source) is a
session; two tracks are associated when sessions hold both. The model keeps, for every
recommendable track, its `neighbours` best partners with a score and the number of
sessions they share, and every track's play count (how many sessions hold it: the
popularity a 2026 app can still know, since Spotify no longer gives small apps theirs).

Scores (`method`; docs/recommender.md §6 has the comparison that chose the default):

- `counts`: sessions shared, ties broken by the partner's play count;
- `cosine`: shared / sqrt(plays(a) · plays(b)), which favours rarer partners;
- `pmi`: log(shared · sessions / (plays(a) · plays(b))) over pairs shared at least twice
  where any are, which favours them still more.

The co-occurrence matrix is never held whole: X (sessions × tracks) is multiplied by
blocks of tracks (Xᵀ[block] · X) sized so a block's products stay bounded, and each
row keeps only its best partners. At Million Playlist Dataset scale (66 M entries) that
is the whole cost of the phase (benchmarks/train.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

METHODS = ("counts", "cosine", "pmi")
NEIGHBOURS = 32
BLOCK_PRODUCTS = 30_000_000  # co-occurrence products computed per block (memory bound)
FIELD = (1 << 21) - 1  # shared sessions and plays in a sort key (capped: ties only)
THRESHOLDS = (2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128, 256, 512, 1024, 4096)


@dataclass(frozen=True)
class AssociationConfig:
    neighbours: int = NEIGHBOURS
    method: str = "counts"
    min_shared: int = 1  # pairs sharing fewer sessions are not partners

    def to_dict(self) -> dict[str, Any]:
        return {"neighbours": self.neighbours, "method": self.method, "min_shared": self.min_shared}


@dataclass
class Association:
    """Each recommendable track's best partners (CSR rows over `ids`) and play counts."""

    ids: np.ndarray  # sorted track ids (fixed-width bytes), row = index
    indptr: np.ndarray  # (tracks + 1,) int64
    partners: np.ndarray  # int32 row indices, best first within a row
    scores: np.ndarray  # float32
    shared: np.ndarray  # int32 sessions shared with the row's track
    plays: np.ndarray  # (tracks,) int32 sessions holding the track
    config: AssociationConfig = field(default_factory=AssociationConfig)
    report: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def row(self, track_id: str) -> int | None:
        """The track's index, or None when it is not recommendable."""
        key = track_id.encode("ascii", "replace")
        if len(key) > self.ids.itemsize:
            return None
        i = int(np.searchsorted(self.ids, key))
        return i if i < len(self.ids) and self.ids[i] == key else None

    def rows(self, track_ids: Any) -> np.ndarray:
        """Indices of many ids (-1 where unknown)."""
        return _rows_of(self.ids, np.asarray(track_ids, dtype=object))

    def track_id(self, row: int) -> str:
        return self.ids[row].decode("ascii")

    def neighbours(self, row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Partner rows, scores and shared-session counts of a track, best first."""
        a, b = self.indptr[row], self.indptr[row + 1]
        return self.partners[a:b], self.scores[a:b], self.shared[a:b]

    def has_history(self, track_id: str) -> bool:
        row = self.row(track_id)
        return row is not None and bool(self.indptr[row + 1] > self.indptr[row])


def session_codes(entries: pd.DataFrame, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(session, track row) codes of the entries whose track is in `ids` (sorted bytes).

    `entries` has `playlist_id` and `track_id` columns: strings, or categoricals (a
    generated corpus of 66 M entries keeps them as codes)."""
    tracks = entries["track_id"]
    if isinstance(tracks.dtype, pd.CategoricalDtype):
        lookup = _rows_of(ids, tracks.cat.categories.to_numpy())
        codes = tracks.cat.codes.to_numpy()
        track_rows = np.where(codes >= 0, lookup[np.maximum(codes, 0)], -1)
    else:
        track_rows = _rows_of(ids, tracks.to_numpy())
    sessions = entries["playlist_id"]
    if isinstance(sessions.dtype, pd.CategoricalDtype):
        session_rows = sessions.cat.codes.to_numpy().astype(np.int64)
    elif np.issubdtype(sessions.dtype, np.integer):
        session_rows = sessions.to_numpy().astype(np.int64)
    else:
        session_rows = pd.factorize(sessions, sort=False)[0].astype(np.int64)
    keep = (track_rows >= 0) & (session_rows >= 0)
    return session_rows[keep], track_rows[keep]


def _rows_of(ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Row of each id in `ids` (sorted bytes), -1 where absent."""
    if not len(ids) or not len(values):
        return np.full(len(values), -1, dtype=np.int64)
    encoded = [str(v).encode("ascii", "replace") for v in values]
    keys = np.asarray(encoded, dtype=ids.dtype)
    fits = np.fromiter((len(e) <= ids.itemsize for e in encoded), bool, len(encoded))
    found = np.minimum(np.searchsorted(ids, keys), len(ids) - 1)
    return np.where((ids[found] == keys) & fits, found, -1).astype(np.int64)


def as_ids(track_ids: Any) -> np.ndarray:
    """Sorted, unique fixed-width byte ids (what `Association.ids` holds)."""
    values = [str(t).encode("ascii", "replace") for t in track_ids]
    width = max((len(v) for v in values), default=1)
    return np.unique(np.asarray(values, dtype=f"S{width}"))


def fit_association(
    entries: pd.DataFrame, universe: Any, config: AssociationConfig = AssociationConfig()
) -> Association:
    """Learn the partners of every track of `universe` from playlist entries."""
    if config.method not in METHODS:
        raise ValueError(f"unknown association method {config.method!r} (one of {METHODS})")
    clock = time.perf_counter()
    ids = as_ids(universe)
    session_rows, track_rows = session_codes(entries, ids)
    model = fit_codes(session_rows, track_rows, ids, config)
    model.report["seconds"] = round(time.perf_counter() - clock, 3)
    return model


def fit_codes(
    session_rows: np.ndarray, track_rows: np.ndarray, ids: np.ndarray, config: AssociationConfig
) -> Association:
    """The fit on integer codes (one per entry): sessions × tracks, then blocks of rows."""
    n_tracks = len(ids)
    x, plays = _incidence(session_rows, track_rows, n_tracks)
    xt = x.T.tocsr()
    lengths = np.diff(x.indptr).astype(np.int64)
    work = xt @ lengths  # products each track's row costs
    indptr = np.zeros(n_tracks + 1, dtype=np.int64)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for start, stop in _blocks(work, BLOCK_PRODUCTS):
        counts = (xt[start:stop] @ x).tocsr()
        block = _best(counts, start, plays, x.shape[0], config)
        parts.append(block[1:])
        indptr[start + 1 : stop + 1] = block[0]
    offsets = np.cumsum(indptr)
    partners = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int32)
    scores = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.float32)
    shared = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, np.int32)
    report = {
        "sessions": int(x.shape[0]),
        "entries": int(x.nnz),
        "tracks": n_tracks,
        "tracks_with_partners": int((np.diff(offsets) > 0).sum()),
        "pairs_kept": len(partners),
        "products": int(work.sum()),
        **config.to_dict(),
    }
    return Association(ids, offsets, partners, scores, shared, plays, config, report)


def _incidence(
    session_rows: np.ndarray, track_rows: np.ndarray, n_tracks: int
) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Binary sessions × tracks (a track twice in a playlist counts once) and each
    track's plays; sessions with fewer than two recommendable tracks count as plays but
    teach no pair, so the matrix drops them."""
    n_sessions = int(session_rows.max()) + 1 if len(session_rows) else 0
    x = sparse.csr_matrix(
        (np.ones(len(track_rows), dtype=np.float32), (session_rows, track_rows)),
        shape=(n_sessions, n_tracks),
    )
    x.sum_duplicates()
    x.data[:] = 1.0
    plays = np.asarray(x.sum(axis=0)).ravel().astype(np.int32)
    keep = np.flatnonzero(np.diff(x.indptr) >= 2)
    return x[keep], plays


def _blocks(work: np.ndarray, budget: int) -> list[tuple[int, int]]:
    """Consecutive row ranges whose products stay within `budget` (one row may exceed it)."""
    blocks, start, total = [], 0, 0
    for i, cost in enumerate(work.tolist()):
        if total and total + cost > budget:
            blocks.append((start, i))
            start, total = i, 0
        total += cost
    if start < len(work):
        blocks.append((start, len(work)))
    return blocks


def _best(
    counts: sparse.csr_matrix,
    first_row: int,
    plays: np.ndarray,
    sessions: int,
    config: AssociationConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per row of a co-occurrence block: the best partners (not itself), ranked by score,
    then the partner's plays, then its index."""
    n_rows = counts.shape[0]
    row_of = np.repeat(np.arange(n_rows, dtype=np.int32), np.diff(counts.indptr))
    cols, shared = counts.indices, counts.data.astype(np.int32)
    keep = (cols != row_of + first_row) & (shared >= config.min_shared)
    if config.method == "counts":  # most pairs share one session: drop them where they lose
        keep &= shared >= _floors(row_of, shared, keep, n_rows, config.neighbours)[row_of]
    row_of, cols, shared = row_of[keep], cols[keep], shared[keep]
    if config.method == "counts":
        # One integer key (row, then fewer-shared-last, then fewer-played-last), the column
        # breaking ties: two keys where a lexsort of four took most of the phase.
        key = (
            (row_of.astype(np.uint64) << np.uint64(42))
            | ((FIELD - np.minimum(shared, FIELD)).astype(np.uint64) << np.uint64(21))
            | (FIELD - np.minimum(plays[cols], FIELD)).astype(np.uint64)
        )
        order = np.lexsort((cols, key))
        score = shared.astype(np.float64)
    else:
        score = _score(config.method, shared, plays[row_of + first_row], plays[cols], sessions)
        order = np.lexsort((cols, -score, row_of))
    row_of, cols, shared, score = row_of[order], cols[order], shared[order], score[order]
    starts = np.searchsorted(row_of, np.arange(n_rows))
    rank = np.arange(len(row_of)) - starts[row_of]
    top = rank < config.neighbours
    sizes = np.bincount(row_of[top], minlength=n_rows).astype(np.int64)
    return (
        sizes,
        cols[top].astype(np.int32),
        score[top].astype(np.float32),
        shared[top].astype(np.int32),
    )


def _floors(
    row_of: np.ndarray, shared: np.ndarray, keep: np.ndarray, n_rows: int, wanted: int
) -> np.ndarray:
    """Per row, the largest threshold t such that `wanted` partners share ≥ t sessions:
    its best partners all do, so pairs sharing fewer never make the cut."""
    floor = np.ones(n_rows, dtype=np.int32)
    at = np.flatnonzero(keep)
    for t in THRESHOLDS:
        at = at[shared[at] >= t]
        enough = np.bincount(row_of[at], minlength=n_rows) >= wanted
        if not enough.any():
            break
        floor[enough] = t
    return floor


def _score(
    method: str, shared: np.ndarray, plays_a: np.ndarray, plays_b: np.ndarray, sessions: int
) -> np.ndarray:
    shared_f = shared.astype(np.float64)
    if method == "counts":
        return shared_f
    if method == "cosine":
        return shared_f / np.sqrt(plays_a.astype(np.float64) * plays_b)
    pmi = np.log(shared_f * sessions / (plays_a.astype(np.float64) * plays_b))
    return np.where(shared >= 2, pmi + 100.0, pmi)  # pairs seen twice first


class SessionCoder:
    """Turns playlist entries, streamed in partitions ordered by playlist, into integer
    (session, track row) codes without holding their strings: at MPD scale the strings
    alone would take several GB."""

    def __init__(self, ids: np.ndarray) -> None:
        self.ids = ids
        self._sessions: list[np.ndarray] = []
        self._tracks: list[np.ndarray] = []
        self._next = 0
        self._last: object = None

    def add(self, playlist_ids: np.ndarray, track_ids: np.ndarray) -> None:
        if not len(playlist_ids):
            return
        codes, uniques = pd.factorize(playlist_ids, sort=False)
        offset = self._next
        if uniques[0] == self._last:  # the previous partition's last playlist goes on
            offset -= 1
        rows = _rows_of(self.ids, track_ids)
        keep = rows >= 0
        self._sessions.append((codes[keep] + offset).astype(np.int64))
        self._tracks.append(rows[keep])
        self._next = offset + len(uniques)
        self._last = uniques[-1]

    def codes(self) -> tuple[np.ndarray, np.ndarray]:
        if not self._sessions:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(self._sessions), np.concatenate(self._tracks)
