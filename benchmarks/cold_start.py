"""Cold start of the command line: `tunecluster --help` and `tunecluster recommend ID`,
each as a ratio to `python -c "import <the libraries it needs>"` timed in the same run
(interleaved rounds, so machine noise hits both). Target: ≤ 1.5× each.

What each command needs, and so its baseline imports:
- `--help`: typer and its rich help formatter (parsing and drawing the help);
- `recommend ID`: typer and rich's tables, plus the settings (pydantic-settings), the database
  (SQLAlchemy + aiosqlite), the model (numpy, scikit-learn's KMeans, joblib) and the
  search (rapidfuzz).

`recommend` runs against a generated, trained SQLite catalogue (built first, not timed)
with a track id, so the time is start-up plus one answer.

    python benchmarks/cold_start.py                 # 7 rounds
    python benchmarks/cold_start.py --rounds 11
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "cold_start.json"

HELP_LIBS = "typer.main, typer.rich_utils, rich.console"
RECOMMEND_LIBS = (
    "typer.main, rich.console, rich.table, pydantic_settings, sqlalchemy.ext.asyncio, "
    "aiosqlite, numpy, sklearn.cluster, joblib, rapidfuzz"
)


def _time(args: list[str], env: dict[str, str], cwd: Path) -> float:
    clock = time.perf_counter()
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True)
    took = time.perf_counter() - clock
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr.strip()[:300]}")
    return took


def _catalogue(folder: Path) -> tuple[dict[str, str], str]:
    """A trained demo catalogue in SQLite; the environment and a track id to ask for."""
    from tests.support.bot_world import trained_demo

    url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    ids = asyncio.run(trained_demo(url, folder / "models", tracks=3000, seed=5))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNECLUSTER_")}
    env.update(TUNECLUSTER_DATABASE_URL=url, TUNECLUSTER_MODELS_DIR=str(folder / "models"))
    return env, ids[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    python = sys.executable
    tunecluster = [python, "-m", "bot"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env, track_id = _catalogue(folder)
        cases = {
            "help_baseline": [python, "-c", f"import {HELP_LIBS}"],
            "help": [*tunecluster, "--help"],
            "recommend_baseline": [python, "-c", f"import {RECOMMEND_LIBS}"],
            "recommend": [*tunecluster, "recommend", track_id],
        }
        for command in cases.values():  # warm the file cache once, untimed
            _time(command, env, folder)
        load_before = os.getloadavg()[0]
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, command in cases.items():
                times[name].append(_time(command, env, folder))
        load_after = os.getloadavg()[0]
    median = {name: statistics.median(values) for name, values in times.items()}
    result = {
        "command": " ".join(["python", "benchmarks/cold_start.py", *sys.argv[1:]]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average": [round(load_before, 2), round(load_after, 2)],
        "rounds": args.rounds,
        "baseline_imports": {"help": HELP_LIBS, "recommend": RECOMMEND_LIBS},
        "median_seconds": {name: round(value, 3) for name, value in median.items()},
        "ratio": {
            "help": round(median["help"] / median["help_baseline"], 2),
            "recommend": round(median["recommend"] / median["recommend_baseline"], 2),
        },
        "target": "<= 1.5x",
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
