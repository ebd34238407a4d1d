"""Tracks near the input in sound, widening: its cluster's nearest cells first, then
further cells, then the bucket's other clusters by the distance of their centres.

Cells (see `recommender.cells`) give position ranges whose tracks' vectors the bundle
holds, so ranking needs no database read; each step returns the next positions with
their distances in the bucket's nearest space (sound + weighted context).
"""

from __future__ import annotations

import numpy as np

from recommender.picking import Candidate, Picker, Placed, Placement
from sql import picks as pick_reads


class SoundCursor:
    """The next-nearest positions of one bucket for a placed track, step after step."""

    def __init__(self, placed: Placed, place: Placement) -> None:
        self.place = place
        self.model = placed.bundle.models[place.bucket]
        self.point = placed.near[place.bucket]
        gaps = ((self.model.centers - placed.scaled[place.bucket][0]) ** 2).sum(axis=1)
        others = [int(c) for c in np.argsort(gaps, kind="stable") if int(c) != place.cluster]
        self.clusters = [place.cluster, *others]
        self.taken: dict[int, set[int]] = {}
        self.current = 0

    def take(self, cluster: int, position: int) -> float:
        """Mark a position as proposed (by another route); its distance to the input."""
        self.taken.setdefault(cluster, set()).add(position)
        vector = self.model.cells[cluster].vectors[position]
        return float(np.sqrt(((vector - self.point) ** 2).sum()))

    @property
    def exhausted(self) -> bool:
        return self.current >= len(self.clusters)

    def next(self, wanted: int) -> list[tuple[Placement, int, float]]:
        """Up to `wanted` new (placement, position, distance), nearest first, moving on
        to the next cluster when one has given all its tracks."""
        out: list[tuple[Placement, int, float]] = []
        while len(out) < wanted and not self.exhausted:
            number = self.clusters[self.current]
            cells = self.model.cells[number]
            size = int(self.model.sizes[number])
            taken = self.taken.setdefault(number, set())
            positions, gaps = cells.ranked(self.point, min(size, len(taken) + wanted - len(out)))
            place = Placement(self.place.bucket, number, size)
            for position, gap in zip(positions.tolist(), gaps.tolist(), strict=True):
                if position not in taken and len(out) < wanted:
                    taken.add(position)
                    out.append((place, position, gap))
            if len(taken) >= size:
                self.current += 1
        return out


async def sound_candidates(
    picker: Picker, found: list[tuple[Placement, int, float]], *, ranked: bool = False
) -> tuple[list[Candidate], dict]:
    """Read the tracks at (placement, position, distance) steps: nearest first, or in
    the given order when `ranked`."""
    requests: dict[tuple[str, int], list[int]] = {}
    gap_at: dict[tuple[str, int, int], tuple[Placement, float]] = {}
    rank: dict[tuple[str, int, int], int] = {}
    for i, (place, position, gap) in enumerate(found):
        key = (place.bucket, place.cluster, position)
        requests.setdefault(key[:2], []).append(position)
        gap_at[key] = (place, gap)
        rank.setdefault(key, i)
    keys = list(requests)
    rows, known = await pick_reads.at_positions_with_details(
        picker.conn, picker.version, [(b, c, requests[(b, c)]) for b, c in keys]
    )
    best: dict[str, tuple[float, Candidate]] = {}
    for (bucket, cluster), hits in zip(keys, rows, strict=True):
        for position, track_id in hits:
            key = (bucket, cluster, position)
            place, gap = gap_at[key]
            order = float(rank[key]) if ranked else gap
            if track_id not in best or order < best[track_id][0]:
                best[track_id] = (order, Candidate(track_id, place, gap=gap))
    ordered = sorted(best.values(), key=lambda item: (item[0], item[1].track_id))
    return [candidate for _, candidate in ordered], known
