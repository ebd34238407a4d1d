"""Choosing k per bucket: a scan scored three ways, decided by the elbow.

On audio features the clusters are not well separated, and the textbook criteria say
so: the silhouette stays around 0.1–0.2 and, like Calinski–Harabasz, mostly favours the
smallest k (2), which would leave each cluster with half a genre — useless for picking
similar tracks. The criterion is therefore the elbow of the inertia curve (the k
farthest below the chord from the first to the last scanned k, "kneedle"), where adding
clusters stops paying off; silhouette (on a sample), Calinski–Harabasz and
Davies–Bouldin are recorded for every scanned k so the choice can be checked. When the
curve has no elbow (it is nearly straight), the best silhouette decides.

The scan runs on a seeded sample of the bucket (scores are stable from a few thousand
rows; silhouette is O(n²)), the final model is then fitted on every row with the chosen
k. k is bounded by the bucket's size: at least MIN_MEAN_CLUSTER tracks per cluster on
average.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

MIN_MEAN_CLUSTER = 30
SCAN_SAMPLE = 10_000
SILHOUETTE_SAMPLE = 2_000
MIN_KNEE = 0.05


@dataclass(frozen=True)
class KScore:
    k: int
    inertia: float
    silhouette: float | None
    calinski_harabasz: float | None
    davies_bouldin: float | None
    seconds: float

    def to_dict(self) -> dict:
        return {
            key: (round(v, 4) if isinstance(v, float) else v) for key, v in asdict(self).items()
        }


@dataclass(frozen=True)
class KChoice:
    k: int
    criterion: str  # "elbow", "silhouette", "bounded" (too few tracks for a scan)
    scores: tuple[KScore, ...]

    def to_dict(self) -> dict:
        return {
            "k": self.k,
            "criterion": self.criterion,
            "scan": [s.to_dict() for s in self.scores],
        }


def upper_bound(n: int, k_max: int) -> int:
    """The largest k a bucket of n tracks may have."""
    return max(1, min(k_max, n // MIN_MEAN_CLUSTER))


def candidates(n: int, k_min: int, k_max: int) -> list[int]:
    """The ks scanned: every k up to 6, every second up to 12, then every fourth."""
    high = upper_bound(n, k_max)
    if high < k_min:
        return [high]
    ks = [k for k in range(k_min, high + 1) if k <= 6 or (k <= 12 and k % 2 == 0) or k % 4 == 0]
    if ks[-1] != high:
        ks.append(high)
    return ks


def scan(x: np.ndarray, ks: list[int], seed: int) -> list[KScore]:
    """Fit K-Means for every k on (a sample of) x and score each fit."""
    from sklearn.cluster import KMeans  # imported on use: the command line starts fast
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

    rng = np.random.default_rng(seed)
    sample = (
        x if len(x) <= SCAN_SAMPLE else x[np.sort(rng.choice(len(x), SCAN_SAMPLE, replace=False))]
    )
    scores = []
    for k in ks:
        started = time.perf_counter()
        model = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(sample)
        labels = model.labels_
        separated = 1 < len(np.unique(labels)) < len(sample)
        silhouette = calinski = davies = None
        if separated:
            silhouette = float(
                silhouette_score(
                    sample,
                    labels,
                    sample_size=min(SILHOUETTE_SAMPLE, len(sample)),
                    random_state=seed,
                )
            )
            calinski = float(calinski_harabasz_score(sample, labels))
            davies = float(davies_bouldin_score(sample, labels))
        scores.append(
            KScore(
                k,
                float(model.inertia_),
                silhouette,
                calinski,
                davies,
                time.perf_counter() - started,
            )
        )
    return scores


def elbow(scores: list[KScore]) -> int | None:
    """The k farthest below the chord of the normalised inertia curve; None if flat."""
    if len(scores) < 3:
        return None
    ks = np.array([s.k for s in scores], dtype=float)
    inertia = np.array([s.inertia for s in scores], dtype=float)
    span_k = ks[-1] - ks[0]
    span_i = inertia.max() - inertia.min()
    if span_k <= 0 or span_i <= 0:
        return None
    x = (ks - ks[0]) / span_k
    y = (inertia - inertia.min()) / span_i
    gap = (1.0 - x) - y
    best = int(np.argmax(gap))
    return int(ks[best]) if gap[best] >= MIN_KNEE else None


def choose(x: np.ndarray, k_min: int, k_max: int, seed: int) -> KChoice:
    """Scan and decide k for one bucket's scaled features."""
    ks = candidates(len(x), k_min, k_max)
    if len(ks) == 1:
        return KChoice(ks[0], "bounded", ())
    scores = scan(x, ks, seed)
    knee = elbow(scores)
    if knee is not None:
        return KChoice(knee, "elbow", tuple(scores))
    scored = [s for s in scores if s.silhouette is not None]
    if not scored:
        return KChoice(ks[0], "bounded", tuple(scores))
    best = max(scored, key=lambda s: (s.silhouette, -s.k))
    return KChoice(best.k, "silhouette", tuple(scores))
