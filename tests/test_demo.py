"""`tunecluster demo` as a newcomer runs it: offline, in a fresh folder, labelled generated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from recommender import demo_catalogue


def _demo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # No TUNECLUSTER_* settings at all, and no network: the demo needs neither.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNECLUSTER_")}
    env.update(http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9", COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "bot", "demo", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


def test_demo_runs_offline_deterministically_and_labels_everything(tmp_path: Path) -> None:
    done = _demo(tmp_path, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["catalogue"] == demo_catalogue.LABEL
    assert (tmp_path / "data" / "demo.db").exists()
    assert not (tmp_path / "data" / "tunecluster.db").exists()  # the user's default is untouched
    assert result["generated"]["tracks"] == 3000
    assert set(result["training"]["buckets"]) == set(demo_catalogue.BUCKETS)
    assert len(result["recommendations"]) >= 4
    for shown in result["recommendations"]:
        assert shown["picks"] and all(p["track_id"].startswith("0DEMO") for p in shown["picks"])
    methods = result["evaluation"]["methods"]
    assert (
        methods["cluster-nearest"]["hit_rate_at_k"] > methods["random-in-bucket"]["hit_rate_at_k"]
    )

    # Again, as text, over the first run's files: rebuilt from scratch, the same picks.
    text = _demo(tmp_path)
    assert text.returncode == 0, text.stderr
    sections = [
        line for line in text.stdout.splitlines() if line.startswith("─") or "done in" in line
    ]
    assert len(sections) >= 6 and all("GENERATED" in line for line in sections)
    for shown in result["recommendations"]:
        for pick in shown["picks"]:
            assert pick["name"] in text.stdout
