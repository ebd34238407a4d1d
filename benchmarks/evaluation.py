"""`tunecluster evaluate` on a generated MPD-like corpus of a chosen size: build the
corpus (or reuse one), run the real command, record its figures with the cost.

The corpus is `pipeline/mpd/corpus.py`, written by `pipeline/mpd/corpus_load.py` as a
fresh load (`load_corpus(fresh=True)`); the evaluation is the command itself,
`tunecluster evaluate --json` in its own process (the split by playlist, popularity
hidden, every strategy through the serving path and every baseline), so the figures are
the ones a user would get. Written to benchmarks/results/evaluation_corpus_<size>.json:
machine, sizes, command, seconds per phase, the evaluation's peak memory, load average.

    python benchmarks/evaluation.py --size 500000:200000
    python benchmarks/evaluation.py --size 2200000:1000000 --database \\
        sqlite+aiosqlite:///data/corpus-2200k.db          # reused when it holds rows
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.corpus import TABLES, fresh, size, stored  # noqa: E402
from pipeline.mpd.corpus import Corpus, CorpusConfig  # noqa: E402
from pipeline.mpd.corpus_load import load_corpus  # noqa: E402
from sql.database import Database  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def label(tracks: int) -> str:
    return f"{tracks // 1_000_000}m" if tracks % 1_000_000 == 0 else f"{tracks // 1000}k"


async def build(url: str, tracks: int, playlists: int, seed: int, reuse: bool) -> dict:
    """The corpus at `url`: kept if it already holds playlists (and `reuse`)."""
    db = Database(url)
    try:
        if reuse:
            try:
                rows = await stored(db)
            except Exception:  # no schema yet
                rows = {}
            if rows.get("playlist_track"):
                return {"reused": True, "stored": rows}
    finally:
        await db.dispose()
    db = await fresh(url)
    try:
        started = time.perf_counter()
        report = await load_corpus(
            db, Corpus(CorpusConfig(tracks=tracks, playlists=playlists, seed=seed)), fresh=True
        )
        seconds = time.perf_counter() - started
        rows = await stored(db)
    finally:
        await db.dispose()
    return {
        "reused": False,
        "seconds": round(seconds, 1),
        "load": report.to_dict(),
        "stored": rows,
        "rows_per_second": round(sum(rows[t] for t in TABLES) / seconds),
    }


def evaluate(url: str, models: Path, extra: list[str], log: Path) -> tuple[dict, float]:
    """`tunecluster evaluate --json` in its own process; (its JSON, seconds)."""
    env = {
        **os.environ,
        "TUNECLUSTER_DATABASE_URL": url,
        "TUNECLUSTER_MODELS_DIR": str(models),
    }
    command = [str(Path(sys.executable).with_name("tunecluster")), "evaluate", "--json", *extra]
    started = time.perf_counter()
    with log.open("w") as err:
        done = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=err, check=True)
    return json.loads(done.stdout), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="100000:40000", help="TRACKS:PLAYLISTS")
    parser.add_argument("--database", help="build (or reuse, if it holds rows) the corpus here")
    parser.add_argument("--seed", type=int, default=11, help="the corpus's seed")
    parser.add_argument("--out", type=Path)
    parser.add_argument("evaluate_args", nargs="*", help="passed to `tunecluster evaluate`")
    args = parser.parse_args()
    tracks, playlists = size(args.size)
    out = args.out or RESULTS / f"evaluation_corpus_{label(tracks)}.json"
    results: dict = {
        "machine": f"{platform.node()} {platform.machine()}, {multiprocessing.cpu_count()} cores",
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "command": "python " + " ".join(sys.argv),
        "evaluate_command": "tunecluster evaluate --json " + " ".join(args.evaluate_args),
        "corpus": {"tracks": tracks, "playlists": playlists, "seed": args.seed},
        "load_average_before": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory(prefix="tunecluster-eval-", dir=ROOT / "data") as tmp:
        url = args.database or f"sqlite+aiosqlite:///{Path(tmp) / 'corpus.db'}"
        results["database"] = Database(url).masked_url
        results["build"] = asyncio.run(build(url, tracks, playlists, args.seed, True))
        print(json.dumps(results["build"], indent=2), flush=True)
        results["load_average_after_build"] = os.getloadavg()
        log = out.with_suffix(".stderr.log")
        log = ROOT / "data" / log.name
        evaluation, seconds = evaluate(url, Path(tmp) / "models", args.evaluate_args, log)
    results["evaluate_seconds"] = round(seconds, 1)
    results["evaluate_peak_mb"] = round(
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    )
    results["builder_peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    results["load_average_after"] = os.getloadavg()
    results["association"] = {m: r.get("association") for m, r in evaluation["runs"].items()}
    results["evaluation"] = evaluation
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out} ({seconds:.0f} s of evaluation)")


if __name__ == "__main__":
    main()
