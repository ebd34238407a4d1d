"""The public datasets `tunecluster setup` can fetch: where each lives, its pinned checksum
and where that checksum comes from. pooch downloads, verifies and caches.

A dataset is offered only where its publisher states a checksum we can pin (a Git LFS
pointer's sha256, a release's checksum file, or the upstream file byte for byte); the
others are named with where to get them and the `tunecluster import` line to use.
A mirror (`TUNECLUSTER_DATASETS_MIRROR=URL`) serves every file as `URL/<dataset>/<file>`;
the checksums still apply, so a mirror can speed things up but cannot change the data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sql.errors import TuneclusterError

log = logging.getLogger("tunecluster.datasets")

APP_NAME = "tunecluster"


@dataclass(frozen=True)
class Dataset:
    name: str  # the `--datasets` name
    file_name: str
    import_format: str  # what `tunecluster import` calls it
    url: str | None  # the canonical public address; None: not downloadable by us
    sha256: str | None
    checksum_source: str  # where the pinned checksum comes from (or why there is none)
    homepage: str

    @property
    def offered(self) -> bool:
        return self.url is not None and self.sha256 is not None


TIDYTUESDAY = Dataset(
    name="tidytuesday",
    file_name="spotify_songs.csv",
    import_format="tidytuesday",
    url=(
        "https://raw.githubusercontent.com/rfordatascience/tidytuesday/master/"
        "data/2020/2020-01-21/spotify_songs.csv"
    ),
    sha256="9902920cfe4940f0914ebb6716801a42f7f19ac88fbd6693eaae7e2822b16845",
    checksum_source=(
        "sha256 of the upstream file byte for byte (rfordatascience/tidytuesday, "
        "data/2020/2020-01-21/spotify_songs.csv)"
    ),
    homepage="https://github.com/rfordatascience/tidytuesday/tree/master/data/2020/2020-01-21",
)

# The Hugging Face copy of the Kaggle "Spotify Tracks Dataset" (114,000 tracks), pinned
# to the commit that uploaded dataset.csv (later commits changed only the README).
KAGGLE_TRACKS = Dataset(
    name="kaggle-tracks",
    file_name="dataset.csv",
    import_format="kaggle-tracks",
    url=(
        "https://huggingface.co/datasets/maharshipandya/spotify-tracks-dataset/resolve/"
        "c4609440b24ac4075899f6e60b33775acbe00827/dataset.csv"
    ),
    sha256="b202fa49909b2d5cef71a04b1d21243cfeb36414535f2ca9272aa646721177bd",
    checksum_source=(
        "the Git LFS pointer's sha256 of dataset.csv on Hugging Face "
        "(maharshipandya/spotify-tracks-dataset, commit c460944)"
    ),
    homepage="https://huggingface.co/datasets/maharshipandya/spotify-tracks-dataset",
)

MUSICOSET = Dataset(
    name="musicoset",
    file_name="musicoset_metadata.zip",
    import_format="musicoset",
    url=None,
    sha256=None,
    checksum_source="its publisher states no checksum we could pin",
    homepage="https://marianaossilva.github.io/DSW2019/",
)

DATASETS: dict[str, Dataset] = {d.name: d for d in (TIDYTUESDAY, MUSICOSET, KAGGLE_TRACKS)}
DEFAULT = ("tidytuesday",)


class DatasetError(TuneclusterError):
    """A dataset could not be fetched or verified; the message is one line."""


def parse_names(text: str) -> list[Dataset]:
    """`tidytuesday,kaggle-tracks` → the datasets, refusing unknown or unoffered names."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise DatasetError(f"--datasets names none (one or more of: {', '.join(DATASETS)})")
    chosen = []
    for name in dict.fromkeys(names):
        dataset = DATASETS.get(name)
        if dataset is None:
            raise DatasetError(f"unknown dataset {name!r} (one of: {', '.join(DATASETS)})")
        if not dataset.offered:
            raise DatasetError(
                f"{name} is not downloaded by setup ({dataset.checksum_source}): get it from "
                f"{dataset.homepage} and run `tunecluster import {dataset.import_format} PATH`"
            )
        chosen.append(dataset)
    return chosen


def default_cache_dir() -> Path:
    """The user's cache directory (platformdirs, through pooch)."""
    import pooch

    return Path(pooch.os_cache(APP_NAME)) / "datasets"


def source_url(dataset: Dataset, mirror: str | None) -> str:
    if mirror:
        return f"{mirror.rstrip('/')}/{dataset.name}/{dataset.file_name}"
    assert dataset.url is not None
    return dataset.url


def cached_path(dataset: Dataset, cache_dir: Path) -> Path:
    return cache_dir / dataset.name / dataset.file_name


def is_cached(dataset: Dataset, cache_dir: Path) -> bool:
    """A cached file that still matches its checksum (pooch would not download it)."""
    import pooch

    path = cached_path(dataset, cache_dir)
    return path.is_file() and pooch.file_hash(str(path)) == dataset.sha256


def fetch(dataset: Dataset, cache_dir: Path, mirror: str | None = None) -> Path:
    """The verified local copy, downloaded only when the cache lacks it. A failed, truncated
    or altered download leaves nothing behind (pooch checks before it moves the file in)."""
    import pooch
    import requests

    url = source_url(dataset, mirror)
    target = cache_dir / dataset.name
    pooch.get_logger().setLevel(logging.WARNING)  # our own progress says it
    try:
        path = pooch.retrieve(
            url,
            known_hash=f"sha256:{dataset.sha256}",
            fname=dataset.file_name,
            path=target,
            progressbar=False,
        )
    except ValueError as error:  # pooch: hash mismatch
        if "hash" not in str(error).lower():
            raise
        raise DatasetError(
            f"{dataset.name}: {url} did not match the pinned sha256 (truncated or altered "
            "download); nothing was kept"
        ) from None
    except requests.HTTPError as error:
        status = error.response.status_code if error.response is not None else "?"
        raise DatasetError(f"{dataset.name}: {url} answered HTTP {status}") from None
    except requests.RequestException as error:
        reason = type(error).__name__
        raise DatasetError(f"{dataset.name}: cannot download {url} ({reason})") from None
    except OSError as error:
        raise DatasetError(f"{dataset.name}: cannot write to {target}: {error}") from None
    return Path(path)
