"""Small cells of nearby tracks inside a cluster, laid out as contiguous positions.

A cluster's tracks are split by recursive median cuts (along the widest dimension of
the "nearest" space, like a k-d tree) into cells of at most `leaf_size` tracks. The
cells are laid out one after another in tree order (neighbouring cells sit next to each
other) and the tracks inside a cell in a seeded random order. That order is the
`position` stored in `track_cluster`, so:

- a uniformly random position is a uniformly random track of the cluster
  (`cluster-random`), and
- a cell is a contiguous position range: the bundle keeps every cell's centroid, start
  and size and every track's vector by position, so `cluster-nearest` ranks the tracks
  of the nearest cells in memory and reads only the chosen positions (primary-key
  lookups whose cost does not depend on the catalogue).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEAF_SIZE = 24


@dataclass(frozen=True)
class Cells:
    """One cluster's cells (centroid in the nearest space, first position, size) and every
    track's nearest-space vector in position order, so serving ranks candidates without
    reading their features from the database."""

    centroids: np.ndarray  # (cells, dims) float32
    starts: np.ndarray  # (cells,) int64
    sizes: np.ndarray  # (cells,) int64
    vectors: np.ndarray  # (tracks, dims) float32, row = position

    def __len__(self) -> int:
        return len(self.sizes)

    def ranked(self, point: np.ndarray, wanted: int) -> tuple[np.ndarray, np.ndarray]:
        """Positions of the nearest cells' tracks (≥ `wanted` of them) sorted by their
        distance to `point`, and those distances."""
        ranges = self.nearest(point, wanted)
        positions = (
            np.concatenate([np.arange(a, b) for a, b in ranges]) if ranges else np.zeros(0, int)
        )
        gaps = np.sqrt(((self.vectors[positions] - point.astype(np.float32)) ** 2).sum(axis=1))
        order = np.argsort(gaps, kind="stable")
        return positions[order], gaps[order]

    def nearest(self, point: np.ndarray, wanted: int) -> list[tuple[int, int]]:
        """Position ranges [start, end) of the nearest cells holding ≥ `wanted` tracks."""
        gaps = ((self.centroids - point.astype(np.float32)) ** 2).sum(axis=1)
        ranges: list[tuple[int, int]] = []
        total = 0
        for cell in np.argsort(gaps, kind="stable"):
            start = int(self.starts[cell])
            ranges.append((start, start + int(self.sizes[cell])))
            total += int(self.sizes[cell])
            if total >= wanted:
                break
        return merge_ranges(ranges)


def merge_ranges(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, with touching ranges joined (fewer seeks)."""
    merged: list[list[int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def partition(
    points: np.ndarray, rng: np.random.Generator, leaf_size: int = LEAF_SIZE
) -> tuple[np.ndarray, Cells]:
    """The position order of `points` (a permutation of their indices) and their cells."""
    n = len(points)
    if n == 0:
        empty = np.zeros((0, points.shape[1]), dtype=np.float32)
        nothing = np.zeros(0, np.int64)
        return nothing, Cells(empty, nothing, nothing, empty)
    leaves: list[np.ndarray] = []
    stack = [np.arange(n)]
    while stack:
        members = stack.pop()
        if len(members) <= leaf_size:
            leaves.append(members)
            continue
        block = points[members]
        axis = int(np.argmax(block.max(axis=0) - block.min(axis=0)))
        half = len(members) // 2
        split = np.argpartition(block[:, axis], half)
        # Right half pushed first so the left half is laid out first (tree order).
        stack.append(members[split[half:]])
        stack.append(members[split[:half]])
    order = np.concatenate([rng.permutation(leaf) for leaf in leaves])
    sizes = np.array([len(leaf) for leaf in leaves], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    centroids = np.stack([points[leaf].mean(axis=0) for leaf in leaves]).astype(np.float32)
    return order, Cells(centroids, starts, sizes, points[order].astype(np.float32))
