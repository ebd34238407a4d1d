"""Curation: the training set chosen from the catalogue, with the effect of every filter.

The filters are settings (the original project's values are the defaults): releases in
a year range, a popularity floor, complete audio features, durations capped at a
quantile. Every step reports rows in and out, so nothing is dropped silently.

Popularity for the floor: the track's popularity where known, else its album's (the
seed sample stores track popularity in its album column and zeros in the track one;
Spotify's album popularity is the nearest proxy elsewhere), else unknown. Tracks with no
known popularity (the whole Million Playlist Dataset, Spotify development-mode apps) are
kept by default (`curate_keep_unknown_popularity`) and counted in the funnel.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from recommender.features import FeaturePlan, plan_features
from sql.database import Database
from sql.errors import TuneclusterError
from sql.frames import track_frame

POPULARITY_SOURCES = ("track", "album", "unknown")


async def curate_catalogue(db: Database, filters: CurationFilters) -> CurationResult:
    """Load the whole catalogue (`sql.frames.track_frame`) and curate it as training does."""
    async with db.connection() as conn:
        frame = await track_frame(conn)
    return curate_for_training(frame, filters)[0]


def curate_for_training(
    frame: pd.DataFrame, filters: CurationFilters, *, strict: bool = False, **plan_options: Any
) -> tuple[CurationResult, FeaturePlan | None]:
    """Curate with the features training will require: a configured feature that too few
    tracks carry (TidyTuesday and ReccoBeats have no time_signature) is imputed or dropped
    by the feature plan instead of emptying the set. One function for `train`, the
    scheduler's change check, `stats --curation` and `eda`, so all show the same set.
    When no configured feature is usable, `strict` raises the one-line reason; otherwise
    the plan is None and the funnel says why."""
    try:
        plan = plan_features(frame, filters.features, **plan_options)
    except TuneclusterError:
        if strict:
            raise
        return curate(frame, filters), None
    return curate(frame, replace(filters, features=plan.required)), plan


@dataclass(frozen=True)
class CurationFilters:
    """The curation settings as plain values (None switches a filter off)."""

    year_min: int | None = 2010
    year_max: int | None = 2019
    min_popularity: int | None = 30
    keep_unknown_popularity: bool = True
    duration_quantile: float | None = 0.95
    features: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Any) -> CurationFilters:
        """From the settings object (any object with the `curate_*` and `features` fields)."""
        return cls(
            year_min=settings.curate_year_min,
            year_max=settings.curate_year_max,
            min_popularity=settings.curate_min_popularity,
            keep_unknown_popularity=settings.curate_keep_unknown_popularity,
            duration_quantile=settings.curate_duration_quantile,
            features=tuple(settings.features),
        )


@dataclass
class FunnelStep:
    """One filter: rows before and after it, and what it noticed on the way."""

    name: str
    rule: str
    rows_in: int
    rows_out: int
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def dropped(self) -> int:
        return self.rows_in - self.rows_out


@dataclass
class CurationResult:
    frame: pd.DataFrame  # the curated tracks, with a `popularity` column (the one used)
    funnel: list[FunnelStep]
    popularity_sources: dict[str, int]  # rows of the catalogue per popularity source
    fingerprint: str
    filters: CurationFilters

    @property
    def rows_in(self) -> int:
        return self.funnel[0].rows_in if self.funnel else len(self.frame)

    @property
    def rows_out(self) -> int:
        return len(self.frame)

    def emptied_by(self) -> str | None:
        """When curation removed every track: one line naming each filter that removed
        some, with its count and the setting that relaxes it; else None."""
        if self.rows_out or not self.rows_in:
            return None
        parts = [f"{_said(step)} removed {step.dropped:,}" for step in self.funnel if step.dropped]
        return (
            f"curation removed all {self.rows_in:,} tracks: {'; '.join(parts)}"
            f" (relax {', '.join(_SETTINGS[s.name] for s in self.funnel if s.dropped)})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "fingerprint": self.fingerprint,
            "filters": {**asdict(self.filters), "features": list(self.filters.features)},
            "popularity_sources": self.popularity_sources,
            "funnel": [
                {
                    "filter": s.name,
                    "rule": s.rule,
                    "rows_in": s.rows_in,
                    "rows_out": s.rows_out,
                    "dropped": s.dropped,
                    "detail": s.detail,
                }
                for s in self.funnel
            ],
        }


_SETTINGS = {
    "release year": "TUNECLUSTER_CURATE_YEAR_MIN / _MAX, empty for no bound",
    "popularity": "TUNECLUSTER_CURATE_MIN_POPULARITY, empty for no floor",
    "audio features": "TUNECLUSTER_FEATURES, or run `tunecluster enrich`",
    "duration": "TUNECLUSTER_CURATE_DURATION_QUANTILE, empty for no cap",
}


def _said(step: FunnelStep) -> str:
    """'release year 2010–2019 (1,200 without a year)': a funnel step for a reader."""
    text = f"{step.name} {step.rule}"
    unknown = {
        "no_release_year_dropped": "without a release year",
        "no_features_row": "without audio features",
    }
    if step.name == "popularity" and step.detail.get("unknown_popularity_action") == "dropped":
        unknown["unknown_popularity"] = "of unknown popularity"
    notes = [f"{step.detail[k]:,} {said}" for k, said in unknown.items() if step.detail.get(k)]
    return text + (f" ({', '.join(notes)})" if notes else "")


def floor_popularity(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The popularity the floor uses per row, and where it came from (track|album|unknown)."""
    track = frame["track_popularity"]
    album = frame["album_popularity"]
    value = track.where(track.notna(), album)
    source = np.select([track.notna(), album.notna()], ["track", "album"], default="unknown")
    return value, pd.Series(source, index=frame.index)


def curate(frame: pd.DataFrame, filters: CurationFilters) -> CurationResult:
    """Apply the filters in order (year, popularity, features, duration) to `track_frame`."""
    features = list(filters.features)
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise ValueError(f"the track frame lacks feature columns: {', '.join(missing)}")
    popularity, source = floor_popularity(frame)
    current = frame.assign(popularity=popularity, popularity_source=source)
    funnel: list[FunnelStep] = []
    for step in (_by_year, _by_popularity, _by_features, _by_duration):
        current, record = step(current, filters)
        funnel.append(record)
    counts = source.value_counts()
    sources = {name: int(counts.get(name, 0)) for name in POPULARITY_SOURCES}
    return CurationResult(
        frame=current,
        funnel=funnel,
        popularity_sources=sources,
        fingerprint=fingerprint(current, features),
        filters=filters,
    )


def _by_year(frame: pd.DataFrame, f: CurationFilters) -> tuple[pd.DataFrame, FunnelStep]:
    rows_in = len(frame)
    if f.year_min is None and f.year_max is None:
        return frame, FunnelStep("release year", "off", rows_in, rows_in)
    year = frame["release_year"]
    keep = year.notna()
    if f.year_min is not None:
        keep &= year >= f.year_min
    if f.year_max is not None:
        keep &= year <= f.year_max
    low = "…" if f.year_min is None else str(f.year_min)
    high = "…" if f.year_max is None else str(f.year_max)
    detail = {"no_release_year_dropped": int(year.isna().sum())}
    out = frame[keep]
    return out, FunnelStep("release year", f"{low}–{high}", rows_in, len(out), detail)


def _by_popularity(frame: pd.DataFrame, f: CurationFilters) -> tuple[pd.DataFrame, FunnelStep]:
    rows_in = len(frame)
    known = frame["popularity"].notna()
    by_source = frame["popularity_source"].value_counts()
    detail: dict[str, Any] = {
        "from_track_popularity": int(by_source.get("track", 0)),
        "from_album_popularity": int(by_source.get("album", 0)),
        "unknown_popularity": int((~known).sum()),
    }
    if f.min_popularity is None:
        detail["unknown_popularity_action"] = "kept (filter off)"
        return frame, FunnelStep("popularity", "off", rows_in, rows_in, detail)
    keep = known & (frame["popularity"] >= f.min_popularity)
    if f.keep_unknown_popularity:
        keep |= ~known
    detail["unknown_popularity_action"] = "kept" if f.keep_unknown_popularity else "dropped"
    out = frame[keep]
    rule = f"≥ {f.min_popularity} (track, else album popularity)"
    return out, FunnelStep("popularity", rule, rows_in, len(out), detail)


def _by_features(frame: pd.DataFrame, f: CurationFilters) -> tuple[pd.DataFrame, FunnelStep]:
    rows_in = len(frame)
    features = list(f.features)
    if not features:
        return frame, FunnelStep("audio features", "off", rows_in, rows_in)
    values = frame[features]
    missing = values.isna()
    detail: dict[str, Any] = {
        "no_features_row": int((~frame["has_features"]).sum()),
        "missing_per_feature": {c: int(n) for c, n in missing.sum().items() if n},
    }
    with_features = frame["has_features"].to_numpy()
    if with_features.any():  # a feature no row has: the source lacks it, not the tracks
        absent = missing[with_features].all()
        detail["missing_in_every_track"] = [c for c in features if absent[c]]
    out = frame[~missing.any(axis=1)]
    rule = f"all of {len(features)} present"
    return out, FunnelStep("audio features", rule, rows_in, len(out), detail)


def _by_duration(frame: pd.DataFrame, f: CurationFilters) -> tuple[pd.DataFrame, FunnelStep]:
    rows_in = len(frame)
    duration = frame["duration_ms"]
    if f.duration_quantile is None or duration.notna().sum() == 0:
        rule = "off" if f.duration_quantile is None else "no durations known"
        return frame, FunnelStep("duration", rule, rows_in, rows_in)
    cap = float(duration.quantile(f.duration_quantile))
    keep = duration.isna() | (duration <= cap)
    detail = {"cap_ms": cap, "unknown_duration_kept": int(duration.isna().sum())}
    out = frame[keep]
    rule = f"≤ {f.duration_quantile:g} quantile ({cap / 1000:.0f} s)"
    return out, FunnelStep("duration", rule, rows_in, len(out), detail)


def fingerprint(frame: pd.DataFrame, features: list[str] | tuple[str, ...]) -> str:
    """A stable hash of the curated set: sorted track ids and their feature values.

    Values are rounded to 6 decimals so that a float read back from MySQL's single
    precision FLOAT and SQLite's double hash the same once stored; the feature names
    are part of the hash (a different feature list is a different training set).
    """
    digest = hashlib.sha256()
    digest.update(",".join(features).encode())
    if frame.empty:
        return digest.hexdigest()
    ordered = frame.sort_values("track_id", kind="stable")
    digest.update("\n".join(ordered["track_id"].astype(str)).encode())
    if features:
        values = ordered[list(features)].to_numpy(dtype=np.float64)
        values = np.round(values, 6) + 0.0  # + 0.0 turns -0.0 into 0.0
        digest.update(np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()
