"""Versioned model bundles on disk: `models/<version>/` with `bundle.joblib`,
`association.joblib` and `meta.json`.

`bundle.joblib` holds what serving needs of the clusters (taxonomy, feature plan, every
bucket's pipeline and cells, the layout of tracks by position); `association.joblib`
the playlist-learned association (uncompressed, so serving maps its arrays from the
page cache instead of copying them into every process); `meta.json` is the same model described for people and tools
(version, data fingerprint, features, per-bucket k, sizes, scores, timings). A bundle
is written to a temporary folder and renamed into place, so a crash never leaves a
half-written version that looks complete.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import joblib

from recommender.association import Association
from recommender.features import FeaturePlan
from recommender.layout import Layout
from recommender.taxonomy import Taxonomy
from recommender.training import BucketModel
from sql import clock
from sql.errors import TuneclusterError

BUNDLE_FILE = "bundle.joblib"
ASSOCIATION_FILE = "association.joblib"
META_FILE = "meta.json"
FORMAT = 2  # 2: layout and association (format 1 bundles serve without them)


class BundleError(TuneclusterError):
    """A bundle that is missing or unreadable."""


@dataclass
class Bundle:
    version: str
    taxonomy: Taxonomy
    plan: FeaturePlan
    models: dict[str, BucketModel]
    meta: dict[str, Any] = field(default_factory=dict)
    layout: Layout | None = None  # None in format 1 bundles
    association: Association | None = None  # None without playlists (or format 1)


def new_version(fingerprint: str, now: datetime | None = None) -> str:
    """Sortable and unique enough: UTC time to the millisecond + the data fingerprint."""
    now = now or clock.aware_now()
    return f"{now:%Y%m%d-%H%M%S}{now.microsecond // 1000:03d}-{fingerprint[:8]}"


def bundle_dir(models_dir: Path, version: str) -> Path:
    return Path(models_dir) / version


def save(bundle: Bundle, models_dir: Path) -> Path:
    """Write the bundle atomically; returns its folder."""
    final = bundle_dir(models_dir, bundle.version)
    staging = final.with_name(f".{bundle.version}.partial")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    joblib.dump(replace(bundle, association=None), staging / BUNDLE_FILE, compress=3)
    if bundle.association is not None:
        joblib.dump(bundle.association, staging / ASSOCIATION_FILE)
    meta = {"format": FORMAT, **bundle.meta, "version": bundle.version}
    (staging / META_FILE).write_text(json.dumps(meta, indent=2, default=_json_default) + "\n")
    if final.exists():
        shutil.rmtree(final)
    staging.rename(final)
    return final


def write_meta(models_dir: Path, version: str, meta: dict[str, Any]) -> None:
    """Rewrite a bundle's meta.json (final timings are known only after the writes)."""
    path = bundle_dir(models_dir, version) / META_FILE
    content = {"format": FORMAT, **meta, "version": version}
    path.write_text(json.dumps(content, indent=2, default=_json_default) + "\n")


def load(models_dir: Path, version: str) -> Bundle:
    path = bundle_dir(models_dir, version) / BUNDLE_FILE
    if not path.exists():
        raise BundleError(f"model bundle {version} is missing from {Path(models_dir).resolve()}")
    try:
        bundle = joblib.load(path)
    except Exception as error:  # a truncated or foreign file: one line, not a trace
        raise BundleError(f"model bundle {version} cannot be read: {error}") from None
    if not isinstance(bundle, Bundle):
        raise BundleError(f"{path} is not a tunecluster bundle")
    association = path.with_name(ASSOCIATION_FILE)
    if association.exists():
        try:
            bundle.association = joblib.load(association, mmap_mode="r")
        except Exception as error:
            raise BundleError(f"model bundle {version} cannot be read: {error}") from None
    return bundle


def read_meta(models_dir: Path, version: str) -> dict[str, Any] | None:
    path = bundle_dir(models_dir, version) / META_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def on_disk(models_dir: Path) -> list[str]:
    """Complete bundle versions present on disk, oldest first."""
    root = Path(models_dir)
    if not root.is_dir():
        return []
    return sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / BUNDLE_FILE).exists()
    )


def remove_path(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def remove(models_dir: Path, version: str) -> None:
    shutil.rmtree(bundle_dir(models_dir, version), ignore_errors=True)
    shutil.rmtree(Path(models_dir) / f".{version}.partial", ignore_errors=True)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
