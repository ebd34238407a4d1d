"""`tunecluster setup` against a loopback dataset mirror: schema, verified download,
import, training; reruns do only what is missing; bad downloads keep nothing."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bot.services.setup import run_setup
from bot.services.train import TrainSettings
from bot.settings import load_settings
from pipeline import datasets
from pipeline.datasets import DatasetError
from sql import catalogue, model_versions
from sql.database import Database
from tests.fakes.datasets_mirror import DatasetsMirror
from tests.fixtures.datasets import TIDY_COLUMNS, tidy_row, write_csv
from tests.support.cli import run_cli, settings_env

GENRES = [("pop", "dance pop"), ("rock", "hard rock"), ("rap", "gangster rap")]


def small_tidytuesday(path: Path, rows: int = 240) -> Path:
    """A trainable TidyTuesday-format file: three genres, varied sound, 2010s releases."""
    rng = np.random.default_rng(3)
    out = []
    for i in range(rows):
        genre, sub = GENRES[i % 3]
        out.append(
            tidy_row(
                i,
                i % 12,
                track_name=f"Song {i}" if i else "Smells Like Teen Spirit",
                track_artist=f"Artist {i % 40}",
                track_album_release_date=f"{2010 + i % 10}-03-01",
                playlist_genre=genre,
                playlist_subgenre=sub,
                danceability=round(float(rng.uniform(0.2, 0.9)), 3),
                energy=round(float(rng.uniform(0.2, 0.95)), 3),
                valence=round(float(rng.uniform(0.1, 0.9)), 3),
                acousticness=round(float(rng.uniform(0, 0.8)), 3),
                speechiness=round(float(rng.uniform(0.02, 0.4)), 3),
                loudness=round(float(rng.uniform(-14, -3)), 2),
                tempo=round(float(rng.uniform(80, 160)), 1),
            )
        )
    return write_csv(path, TIDY_COLUMNS, out)


@pytest.fixture
def small(tmp_path: Path) -> tuple[datasets.Dataset, bytes]:
    body = small_tidytuesday(tmp_path / "src" / "spotify_songs.csv").read_bytes()
    pinned = replace(datasets.TIDYTUESDAY, sha256=hashlib.sha256(body).hexdigest())
    return pinned, body


def _train_config(tmp_path: Path) -> TrainSettings:
    return TrainSettings.from_settings(load_settings(models_dir=tmp_path / "models", k_max=4))


async def test_setup_then_rerun_downloads_and_imports_nothing(tmp_path: Path, small) -> None:
    dataset, body = small
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'tc.db'}")
    cache = tmp_path / "cache"
    try:
        with DatasetsMirror({"tidytuesday/spotify_songs.csv": body}) as mirror:
            first = await run_setup(
                db, _train_config(tmp_path), [dataset], cache_dir=cache, mirror=mirror.url
            )
            assert first.schema_changed and first.trained and first.model_version
            assert [(d.downloaded, d.imported, d.rows_read) for d in first.datasets] == [
                (True, True, 240)
            ]
            assert first.tracks == 240 and first.buckets and first.example
            assert mirror.requests["tidytuesday/spotify_songs.csv"] == 1

            again = await run_setup(
                db, _train_config(tmp_path), [dataset], cache_dir=cache, mirror=mirror.url
            )
            assert mirror.requests["tidytuesday/spotify_songs.csv"] == 1  # the cache served
            assert not again.schema_changed and not again.trained
            assert [(d.downloaded, d.imported) for d in again.datasets] == [(False, False)]
            assert again.model_version == first.model_version
    finally:
        await db.dispose()


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ("truncate", "cannot download"),
        ("alter", "did not match the pinned sha256"),
        ("missing", "answered HTTP 404"),
    ],
)
async def test_a_bad_download_is_one_line_and_keeps_nothing(
    tmp_path: Path, small, fault: str, said: str
) -> None:
    dataset, body = small
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'tc.db'}")
    cache = tmp_path / "cache"
    try:
        with DatasetsMirror({"tidytuesday/spotify_songs.csv": body}) as mirror:
            mirror.faults["tidytuesday/spotify_songs.csv"] = fault
            with pytest.raises(DatasetError) as caught:
                await run_setup(
                    db, _train_config(tmp_path), [dataset], cache_dir=cache, mirror=mirror.url
                )
            message = str(caught.value)
            assert said in message and "\n" not in message and message.startswith("tidytuesday:")
            assert not [p for p in cache.rglob("*") if p.is_file()]  # no partial file kept
            async with db.connection() as conn:
                assert await catalogue.is_empty(conn)
                assert await model_versions.active_version(conn) is None
    finally:
        await db.dispose()


def test_dataset_names() -> None:
    assert [d.name for d in datasets.parse_names("tidytuesday, kaggle-tracks")] == [
        "tidytuesday",
        "kaggle-tracks",
    ]
    with pytest.raises(DatasetError, match="unknown dataset 'spotify'"):
        datasets.parse_names("spotify")
    with pytest.raises(DatasetError) as refused:
        datasets.parse_names("musicoset")
    assert "tunecluster import musicoset PATH" in str(refused.value)
    for dataset in datasets.DATASETS.values():
        assert dataset.checksum_source and dataset.homepage.startswith("https://")
        if dataset.offered:
            assert len(dataset.sha256 or "") == 64 and (dataset.url or "").startswith("https://")


def test_the_mirror_address_replaces_the_canonical_one() -> None:
    url = datasets.source_url(datasets.KAGGLE_TRACKS, "http://mirror.local/data/")
    assert url == "http://mirror.local/data/kaggle-tracks/dataset.csv"
    assert datasets.source_url(datasets.TIDYTUESDAY, None).startswith(
        "https://raw.githubusercontent.com/rfordatascience/tidytuesday/"
    )


def test_setup_refuses_an_unknown_dataset_in_one_line(tmp_path: Path) -> None:
    done = run_cli("setup", "--datasets", "nope", env=settings_env(), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: unknown dataset 'nope' (one of: tidytuesday, musicoset, kaggle-tracks)"
    ]


@pytest.mark.slow
def test_fresh_clone_setup_then_recommend_on_the_real_tidytuesday(
    tmp_path: Path, shared_data: Path
) -> None:
    """The upstream file byte for byte, through the loopback mirror, with its real pinned
    checksum: `setup`, `recommend` a TidyTuesday track, and a rerun that downloads nothing."""
    source = shared_data / "tidytuesday" / "spotify_songs.csv"
    with DatasetsMirror({"tidytuesday/spotify_songs.csv": source}) as mirror:
        env = settings_env(datasets_mirror=mirror.url, datasets_cache_dir=tmp_path / "cache")
        done = run_cli("setup", env=env, cwd=tmp_path, timeout=900)
        assert done.returncode == 0, done.stderr
        assert "tidytuesday: downloaded, imported 32,833 rows" in done.stdout
        assert "trained model" in done.stdout and "tunecluster recommend" in done.stdout
        assert (tmp_path / "data" / "tunecluster.db").exists()

        answer = run_cli(
            "recommend", "smells like teen spirit", "--json", env=env, cwd=tmp_path, timeout=900
        )
        assert answer.returncode == 0, answer.stderr
        assert '"name": "Smells Like Teen Spirit"' in answer.stdout
        assert answer.stdout.count('"track_id"') >= 1 + 3  # the input and the bot's 3 picks

        again = run_cli("setup", env=env, cwd=tmp_path, timeout=900)
        assert again.returncode == 0, again.stderr
        assert "already downloaded, already imported" in again.stdout
        assert "already serves" in again.stdout
        assert mirror.requests["tidytuesday/spotify_songs.csv"] == 1
