"""`tunecluster eda` on the imported TidyTuesday data, end to end on the command line,
and `stats --curation` with the funnel on the same data."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pipeline.curation import CurationFilters
from pipeline.eda import HISTOGRAMS, write_eda
from sql.database import Database
from sql.migrate import init_schema
from tests.support.cli import run_cli, settings_env

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]

# TidyTuesday has no time_signature: the default feature list would curate nothing.
FEATURES = "acousticness,danceability,energy,instrumentalness,liveness,loudness,mode,speechiness,tempo,valence"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory, shared_data: Path):
    folder = tmp_path_factory.mktemp("eda")
    env = settings_env(database_url=f"sqlite+aiosqlite:///{folder / 'tt.db'}")

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, env={**env, **extra}, cwd=folder, timeout=300)

    assert run("db", "init").returncode == 0
    imported = run("import", "tidytuesday", str(shared_data / "tidytuesday"))
    assert imported.returncode == 0, imported.stderr
    run.folder = folder
    return run


def test_eda_writes_readable_figures_and_index(cli) -> None:
    out = cli.folder / "figures"
    done = cli("eda", "--out", str(out), "--json", TUNECLUSTER_FEATURES=FEATURES)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    files = {f["file"] for f in result["figures"]}
    assert files == {f"{h.column}.png" for h in HISTOGRAMS} | {"buckets.png"}
    for name in files:
        data = (out / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000, name
    funnel = [(s["filter"], s["rows_in"], s["rows_out"]) for s in result["curation"]["funnel"]]
    assert funnel == [
        ("release year", 28_356, 19_834),
        ("popularity", 19_834, 13_881),
        ("audio features", 13_881, 13_881),
        ("duration", 13_881, 13_187),
    ]
    assert result["buckets"]["pop"]["whole"] > result["buckets"]["pop"]["curated"] > 0
    assert any("playlist subgenres" in w for w in result["warnings"])
    page = (out / "index.html").read_text()
    assert "<h2>Curation funnel</h2>" in page and "19,834" in page and "13,187" in page
    for name in files:
        assert f'src="{name}"' in page
    album = next(f for f in result["figures"] if f["file"] == "album_popularity.png")
    assert album["caption"].startswith("Album popularity: unknown for every track")


def test_default_features_curate_what_training_fits(cli) -> None:
    """time_signature is in the default features but not in TidyTuesday: the feature plan
    leaves it out of the 'complete features' filter, as training does."""
    done = cli("eda", "--out", str(cli.folder / "default"), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["curation"]["rows_out"] == 13_187
    assert "time_signature" not in result["curation"]["filters"]["features"]


def test_stats_curation_prints_the_funnel(cli) -> None:
    done = cli("stats", "--curation", "--json", TUNECLUSTER_FEATURES=FEATURES)
    assert done.returncode == 0, done.stderr
    curation = json.loads(done.stdout)["curation"]
    assert (curation["rows_in"], curation["rows_out"]) == (28_356, 13_187)
    assert curation["popularity_sources"] == {"track": 28_356, "album": 0, "unknown": 0}
    human = cli("stats", "--curation", TUNECLUSTER_FEATURES=FEATURES)
    assert "release year" in human.stdout and "13,187 of 28,356" in human.stdout


async def test_eda_on_an_empty_catalogue(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    try:
        await init_schema(db)
        result = await write_eda(db, tmp_path / "out", CurationFilters(features=("tempo",)))
    finally:
        await db.dispose()
    assert len(result.figures) == len(HISTOGRAMS) + 1  # bucket sizes: none, still drawn
    assert result.curation["rows_in"] == 0
    assert (tmp_path / "out" / "index.html").exists()
