"""Which audio features a model uses, and what happens when a source lacks some.

Sources differ: ReccoBeats and TidyTuesday carry no `time_signature`, the Million
Playlist Dataset carries no features at all. The rule, the same at training and at
serving (the plan is stored in the bundle):

- A configured feature that fewer than half of the featured tracks carry is dropped from
  the model (imputing most of a column would turn it into a constant that distorts the
  scaling); the bundle records it under `features_dropped` with its coverage.
- The categorical features some sources lack (`time_signature`, `mode`, `key`) are
  optional: a missing value is filled with the bucket's training median.
- Every other used feature is required: a track lacking one has no usable features and
  gets a clear reason instead of a recommendation.

Context features (release year, popularity) do not shape the clusters; they only join
the "nearest" distance inside a cluster (era and reach matter to listeners). Missing
context values are filled with the bucket's training median, so they never exclude a
track.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sql.errors import TuneclusterError
from sql.schema import INTEGER_FEATURES

# The categorical features (the whole-number ones): optional, see above.
OPTIONAL_FEATURES = frozenset(INTEGER_FEATURES)
CONTEXT_FEATURES = ("release_year", "popularity")
CONTEXT_WEIGHT = 2.0  # chosen by the offline evaluation (docs/recommender.md)
MIN_COVERAGE = 0.5


class NoFeatures(TuneclusterError):
    """The track has no (or incomplete) audio features, so it cannot be placed."""


@dataclass(frozen=True)
class FeaturePlan:
    """The features one model uses, decided once at training and kept in the bundle."""

    sound: tuple[str, ...]
    required: tuple[str, ...]
    context: tuple[str, ...] = CONTEXT_FEATURES
    context_weight: float = CONTEXT_WEIGHT
    dropped: Mapping[str, float] = field(default_factory=dict)  # feature → coverage
    coverage: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sound": list(self.sound),
            "required": list(self.required),
            "imputed_when_missing": [f for f in self.sound if f not in self.required],
            "context": list(self.context),
            "context_weight": self.context_weight,
            "dropped": {k: round(v, 4) for k, v in self.dropped.items()},
            "coverage": {k: round(v, 4) for k, v in self.coverage.items()},
        }

    def missing_required(self, values: Mapping[str, Any]) -> list[str]:
        """The required features `values` lacks (None or NaN)."""
        return [f for f in self.required if _missing(values.get(f))]


def plan_features(
    frame: pd.DataFrame,
    configured: Sequence[str],
    *,
    context: Sequence[str] = CONTEXT_FEATURES,
    context_weight: float = CONTEXT_WEIGHT,
) -> FeaturePlan:
    """Decide the used, required and dropped features from the catalogue's coverage.

    `frame` is the track frame (`sql.frames.track_frame`); coverage is measured over the
    tracks that have an audio-features row at all.
    """
    featured = frame[frame["has_features"]] if "has_features" in frame else frame
    total = len(featured)
    coverage = {f: (float(featured[f].notna().sum()) / total if total else 0.0) for f in configured}
    used = tuple(f for f in configured if coverage[f] >= MIN_COVERAGE)
    dropped = {f: c for f, c in coverage.items() if c < MIN_COVERAGE}
    if not used:
        raise TuneclusterError(
            "no configured audio feature is present on at least half of the featured tracks"
            f" ({total} featured tracks): import or enrich audio features first"
        )
    required = tuple(f for f in used if f not in OPTIONAL_FEATURES)
    return FeaturePlan(
        sound=used,
        required=required or used[:1],
        context=tuple(context),
        context_weight=float(context_weight),
        dropped=dropped,
        coverage=coverage,
    )


def usable(frame: pd.DataFrame, plan: FeaturePlan) -> pd.Series:
    """Rows that carry every required feature."""
    if not plan.required:
        return pd.Series(True, index=frame.index)
    return frame[list(plan.required)].notna().all(axis=1)


def matrix(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """The columns as a float64 matrix, NaN where unknown (absent columns are all NaN)."""
    out = np.full((len(frame), len(columns)), np.nan, dtype=np.float64)
    for i, name in enumerate(columns):
        if name in frame:
            out[:, i] = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)
    return out


def row_vector(values: Mapping[str, Any], columns: Sequence[str]) -> np.ndarray:
    """One track's values as a 1×n float64 row (NaN where unknown)."""
    row = [np.nan if _missing(values.get(c)) else float(values[c]) for c in columns]
    return np.asarray([row], dtype=np.float64)


def matrix_of(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> np.ndarray:
    """Many tracks' values (mappings) as a float64 matrix, NaN where unknown."""
    values = [[row.get(c) for c in columns] for row in rows]
    return np.array(values, dtype=np.float64).reshape(len(rows), len(columns))


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)
