"""Where each trained track sits: per bucket and cluster, the tracks by position.

Built once per version from the training assignments and kept in the bundle, so a
strategy turns positions (from the cells) and association partners (track rows) into
track ids and bucket memberships without a database read. Rows are the trained tracks
sorted by id, the same rows as `recommender.association.Association`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TOP_PLAYED = 64  # most-played tracks kept per cluster (the hybrid's fill)


@dataclass
class Layout:
    ids: np.ndarray  # row → track id (fixed-width ASCII bytes, sorted)
    by_position: dict[str, list[np.ndarray]]  # bucket → cluster → int32 rows by position
    cluster_of: dict[str, np.ndarray]  # bucket → int16 per row (-1: not in the bucket)
    top_played: dict[str, list[np.ndarray]]  # bucket → cluster → positions, most played first

    def track_id(self, row: int) -> str:
        return self.ids[row].decode("ascii")

    def track_ids(self, rows: np.ndarray) -> list[str]:
        return [t.decode("ascii") for t in self.ids[rows]]


def build(
    ids: np.ndarray,
    assignments: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]],
    plays: np.ndarray | None,
) -> Layout:
    """`assignments`: (bucket, rows, cluster, position) per bucket, as training wrote them."""
    by_position: dict[str, list[np.ndarray]] = {}
    cluster_of: dict[str, np.ndarray] = {}
    top_played: dict[str, list[np.ndarray]] = {}
    for bucket, rows, cluster, position in assignments:
        of = np.full(len(ids), -1, dtype=np.int16)
        of[rows] = cluster
        cluster_of[bucket] = of
        k = int(cluster.max()) + 1 if len(cluster) else 0
        by_position[bucket], top_played[bucket] = [], []
        for number in range(k):
            inside = cluster == number
            members = np.empty(int(inside.sum()), dtype=np.int32)
            members[position[inside]] = rows[inside]
            by_position[bucket].append(members)
            top_played[bucket].append(_most_played(members, plays))
    return Layout(ids, by_position, cluster_of, top_played)


def _most_played(members: np.ndarray, plays: np.ndarray | None) -> np.ndarray:
    """Positions of a cluster's most played tracks (`members`: rows by position)."""
    if plays is None or not len(members):
        return np.zeros(0, dtype=np.int32)
    counts = plays[members]
    order = np.lexsort((members, -counts))[:TOP_PLAYED]
    return order[counts[order] > 0].astype(np.int32)
