"""The hybrid's fill, learned: how far playlist plays should pull its sound neighbours.

For a track without playlist history the hybrid ranks its cluster's tracks by distance
less `weight · log2(1 + plays)`. The right weight depends on the catalogue: where a few
tracks fill most playlists (the Million Playlist Dataset) the most played neighbours are
what a listener's playlist holds; where plays are flat (TidyTuesday's 471 playlists) they
are noise and pure sound wins. So training measures it: a validation share of the
training playlists is set aside, plays are counted on the rest, and for seeds from the
validation playlists the fill's top picks under each candidate weight are scored against
the rest of their playlist. The smallest weight within one standard error of the best
is kept in the bundle; `TUNECLUSTER_HYBRID_PLAYS_WEIGHT` overrides it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recommender.training import Assignment, BucketModel

WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
VALIDATION_SHARE = 0.1
MAX_SEEDS = 400
NEAREST = 100  # the serving fill's pool: nearest tracks (plus the most played)
TOP_PLAYED = 64
K = 10


def learn_plays_weight(
    session_rows: np.ndarray,
    track_rows: np.ndarray,
    n_tracks: int,
    models: dict[str, BucketModel],
    assignments: list[Assignment],
    seed: int,
) -> dict[str, Any]:
    """The weight whose fill best predicts held-out playlists, and the scores behind it."""
    rng = np.random.default_rng(seed)
    sessions = np.unique(session_rows)
    if len(sessions) < 10:
        return {"weight": 0.0, "reason": "too few playlists to learn from", "scores": {}}
    held = rng.choice(sessions, size=max(1, int(len(sessions) * VALIDATION_SHARE)), replace=False)
    in_held = np.isin(session_rows, held)
    pairs = np.unique(np.stack([session_rows[~in_held], track_rows[~in_held]]), axis=1)
    plays = np.bincount(pairs[1], minlength=n_tracks).astype(np.float64)
    pull = np.log2(1 + plays)
    where = _where(assignments, n_tracks)
    seeds = _validation_seeds(session_rows[in_held], track_rows[in_held], where, rng)
    if not seeds:
        return {"weight": 0.0, "reason": "no validation seed is in a trained bucket", "scores": {}}
    scores = np.zeros((len(seeds), len(WEIGHTS)))
    for s, (track, truth) in enumerate(seeds):
        bucket_index, cluster, position = where[track]
        bucket = assignments[bucket_index].bucket
        cells = models[bucket].cells[cluster]
        rows = _rows_by_position(assignments[bucket_index], cluster)
        gaps = np.sqrt(((cells.vectors - cells.vectors[position]) ** 2).sum(axis=1))
        gaps[position] = np.inf  # never the seed itself
        pool = np.union1d(
            np.argsort(gaps, kind="stable")[:NEAREST],
            np.argsort(-plays[rows], kind="stable")[:TOP_PLAYED],
        )
        pool = pool[np.isfinite(gaps[pool])]
        hit = np.isin(rows[pool], truth)
        for i, weight in enumerate(WEIGHTS):
            score = gaps[pool] - weight * pull[rows[pool]]
            top = np.argsort(score, kind="stable")[:K]
            scores[s, i] = hit[top].sum() / K
    precision = scores.mean(axis=0)
    # The smallest weight within one standard error of the best: a pull on plays must earn
    # its place beyond the noise of a small validation set.
    top = int(precision.argmax())
    error = scores[:, top].std() / np.sqrt(len(seeds))
    best = int(np.flatnonzero(precision >= precision[top] - error)[0])
    return {
        "weight": WEIGHTS[best],
        "validation_playlists": len(held),
        "validation_seeds": len(seeds),
        "scores": {str(w): round(float(p), 4) for w, p in zip(WEIGHTS, precision, strict=True)},
    }


def _where(assignments: list[Assignment], n_tracks: int) -> _Where:
    """Track row → (assignment index, cluster, position), the first bucket holding it."""
    index = np.full(n_tracks, -1, dtype=np.int64)
    cluster = np.zeros(n_tracks, dtype=np.int64)
    position = np.zeros(n_tracks, dtype=np.int64)
    for i in reversed(range(len(assignments))):  # the first bucket wins
        a = assignments[i]
        index[a.rows], cluster[a.rows], position[a.rows] = i, a.cluster, a.position
    return _Where(index, cluster, position)


class _Where:
    """`row in where` and `where[row]` over three arrays (no dict of millions of rows)."""

    def __init__(self, index: np.ndarray, cluster: np.ndarray, position: np.ndarray) -> None:
        self.index, self.cluster, self.position = index, cluster, position

    def __contains__(self, row: int) -> bool:
        return self.index[row] >= 0

    def __getitem__(self, row: int) -> tuple[int, int, int]:
        return int(self.index[row]), int(self.cluster[row]), int(self.position[row])


def _rows_by_position(assignment: Assignment, cluster: int) -> np.ndarray:
    inside = assignment.cluster == cluster
    rows = np.empty(int(inside.sum()), dtype=np.int64)
    rows[assignment.position[inside]] = assignment.rows[inside]
    return rows


def _validation_seeds(
    sessions: np.ndarray, tracks: np.ndarray, where: _Where, rng: np.random.Generator
) -> list[tuple[int, np.ndarray]]:
    """(seed track, the other tracks of its playlist) from the validation playlists."""
    order = np.argsort(sessions, kind="stable")
    sessions, tracks = sessions[order], tracks[order]
    bounds = np.flatnonzero(np.diff(sessions)) + 1
    seeds = []
    for members in np.split(tracks, bounds):
        members = np.unique(members)
        placed = [t for t in members.tolist() if t in where]
        if len(members) < 2 or not placed:
            continue
        track = placed[int(rng.integers(len(placed)))]
        seeds.append((track, members[members != track]))
    if len(seeds) > MAX_SEEDS:
        keep = rng.choice(len(seeds), size=MAX_SEEDS, replace=False)
        seeds = [seeds[i] for i in sorted(keep.tolist())]
    return seeds
