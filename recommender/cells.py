"""Small cells of nearby tracks inside a cluster, laid out as contiguous positions.

A cluster's tracks are split by recursive median cuts (along the widest dimension of
the "nearest" space, like a k-d tree) into cells of at most `leaf_size` tracks. The
cells are laid out one after another in tree order (neighbouring cells sit next to each
other) and the tracks inside a cell in a seeded random order. That order is the
`position` stored in `track_cluster`, so:

- a uniformly random position is a uniformly random track of the cluster
  (`cluster-random`), and
- a cell is a contiguous position range, so "the tracks near this one" is an index
  range seek whose cost depends on the cell size, not on the catalogue
  (`cluster-nearest`: the bundle keeps every cell's centroid, start and size).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEAF_SIZE = 24


@dataclass(frozen=True)
class Cells:
    """One cluster's cells: centroid (in the nearest space), first position and size."""

    centroids: np.ndarray  # (cells, dims) float32
    starts: np.ndarray  # (cells,) int64
    sizes: np.ndarray  # (cells,) int64

    def __len__(self) -> int:
        return len(self.sizes)

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
        return np.zeros(0, dtype=np.int64), Cells(
            empty, np.zeros(0, np.int64), np.zeros(0, np.int64)
        )
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
    return order, Cells(centroids, starts, sizes)
