"""`tunecluster demo` as a newcomer runs it: offline, in a fresh folder, labelled generated."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

from rich.console import Console

from bot.cli import demo as demo_cli
from recommender import demo_catalogue
from tests.support.cli import run_cli, settings_env


def _demo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # No TUNECLUSTER_* settings at all, and no network: the demo needs neither.
    env = settings_env()
    env.update(http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9", COLUMNS="200")
    return run_cli("demo", *args, env=env, cwd=cwd, timeout=300)


def test_demo_runs_offline_rebuilds_and_labels_everything(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "demo.db").write_text("left over from an older run")  # rebuilt
    done = _demo(tmp_path, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["catalogue"] == demo_catalogue.LABEL
    assert (tmp_path / "data" / "demo.db").stat().st_size > 100_000
    assert not (tmp_path / "data" / "tunecluster.db").exists()  # the user's default is untouched
    assert result["generated"]["tracks"] == 3000
    assert set(result["training"]["buckets"]) == set(demo_catalogue.BUCKETS)
    assert len(result["recommendations"]) >= 4
    for shown in result["recommendations"]:
        assert shown["picks"] and all(p["track_id"].startswith("0DEMO") for p in shown["picks"])
    methods = result["evaluation"]["runs"]["hidden"]["methods"]
    precision = {m: v["all"]["precision"]["mean"] for m, v in methods.items()}
    assert precision["hybrid"] > precision["random-in-bucket"]

    # The text form of the same result: every section says the catalogue is generated.
    buffer = io.StringIO()
    monkeypatch.setattr("bot.cli.demo.console", Console(file=buffer, width=200))
    monkeypatch.setattr("bot.cli.recommend.console", Console(file=buffer, width=200))
    monkeypatch.setattr("bot.cli.evaluate.console", Console(file=buffer, width=200))
    demo_cli._render(result)
    text = buffer.getvalue()
    sections = [line for line in text.splitlines() if line.startswith("─") or "done in" in line]
    assert len(sections) >= 6 and all("GENERATED" in line for line in sections)
    for shown in result["recommendations"]:
        assert all(pick["name"] in text for pick in shown["picks"])
