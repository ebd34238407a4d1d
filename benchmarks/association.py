"""The association phase of `train` at Million Playlist Dataset scale (a section of
benchmarks/train.py; runnable alone with the same arguments).

A generated corpus (`pipeline/mpd/corpus.py`: latent styles, MPD-like skew) of
`--playlists` playlists over `--universe` tracks is made in memory, as the phase takes
it: a frame of (playlist_id, track_id), categorical, and the sorted universe of track
ids. `recommender.association.fit_association` then runs in a process of its own, so
the process's peak memory (sampled every 20 ms, and ru_maxrss) is the phase's plus the
entries it is given; cProfile records where the time goes (the fit makes few Python
calls, so its overhead is negligible).

Baselines in the same run, each in its own process, on the first `--baseline-share` of
the same playlists (a newcomer's code; neither would fit the full corpus in 24 GB):
- scipy: the whole co-occurrence matrix X.T @ X of the binary sessions × tracks matrix;
- pandas: the entries merged with themselves on the playlist, pairs counted by groupby
  (on `--pandas-share`, smaller still: its memory grows with the pairs).
Their time is also scaled to the full corpus by co-occurrence products (sum over
playlists of length squared), the work every exact method does.

    python benchmarks/association.py                       # 1,000,000 playlists
    python benchmarks/association.py --playlists 100000 --universe 250000
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import multiprocessing
import os
import pstats
import resource
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_SECONDS = 20 * 60
TARGET_MB = 8 * 1024
FULL = 1_000_000  # playlists: the size the targets are set for


class RssWatch:
    """Samples this process's resident memory every `every` seconds in a thread."""

    def __init__(self, every: float = 0.02) -> None:
        self.every = every
        self.peak = self.now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def now() -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, self.now())

    def reset(self) -> None:
        self.peak = self.now()

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, self.now())


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def mb(value: float) -> float:
    return round(value / 2**20, 1)


def ru_max_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def corpus_config(playlists: int, universe: int, seed: int):
    from pipeline.mpd.corpus import CorpusConfig

    return CorpusConfig(tracks=universe, playlists=playlists, seed=seed)


def products(lengths: np.ndarray) -> int:
    """Co-occurrence products: each playlist of n tracks adds n² (pairs and diagonal)."""
    return int((lengths.astype(np.int64) ** 2).sum())


# --- the lead's phase ------------------------------------------------------------------------


def phase(
    playlists: int, universe: int, seed: int, top: int, module: str | None = None
) -> dict[str, Any]:
    """In a fresh process: generate, then fit_association with memory and profile."""
    from pipeline.mpd.corpus import Corpus

    if module:
        _load_module(module)
    watch = RssWatch()
    started = time.perf_counter()
    corpus = Corpus(corpus_config(playlists, universe, seed))
    entries, ids = corpus.entries_frame()
    generated = time.perf_counter() - started
    lengths = entries.groupby("playlist_id", observed=True).size().to_numpy()
    out: dict[str, Any] = {
        "playlists": playlists,
        "universe": universe,
        "entries": len(entries),
        "playlisted_tracks": int(entries["track_id"].cat.codes.nunique()),
        "products": products(lengths),
        "generate_seconds": round(generated, 1),
        "rss_before_fit_mb": mb(watch.now()),
    }
    try:
        from recommender.association import fit_association
    except ImportError as error:
        out["fit"] = f"not run: {error}"
        watch.stop()
        return out
    config = _default_config()
    out["module"] = _fingerprint(sys.modules["recommender.association"].__file__)
    watch.reset()
    profile = cProfile.Profile()
    cpu = _cpu_seconds()
    started = time.perf_counter()
    profile.enable()
    model = (
        fit_association(entries, ids, config)
        if config is not None
        else fit_association(entries, ids)
    )
    profile.disable()
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu
    peak = watch.stop()
    out.update(
        {
            "fit_seconds": round(seconds, 1),
            # on a shared machine the CPU time is the steadier figure: wall = CPU when
            # the process has a core to itself (the fit is single-threaded but for BLAS)
            "fit_cpu_seconds": round(cpu, 1),
            "fit_peak_rss_mb": mb(peak),
            "process_peak_mb": ru_max_mb(),
            # the targets are for the Million Playlist Dataset's size
            "meets_time": seconds < TARGET_SECONDS if playlists >= FULL else None,
            "meets_memory": ru_max_mb() < TARGET_MB if playlists >= FULL else None,
            "config": getattr(config, "to_dict", lambda: repr(config))(),
            "model_report": getattr(model, "report", None),
            "concentration": concentration(model),
            "profile_tottime": _top(profile, "tottime", top),
            "profile_cumtime": _top(profile, "cumulative", top),
        }
    )
    return out


def _load_module(path: str) -> None:
    """Use the association module at `path` (another working tree's, a variant)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("recommender.association", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["recommender.association"] = module
    spec.loader.exec_module(module)


def _fingerprint(path: str) -> str:
    """Which association code was measured: its path and the start of its SHA-1."""
    import hashlib

    return f"{path} sha1:{hashlib.sha1(Path(path).read_bytes()).hexdigest()[:12]}"


def _default_config():
    from recommender import association

    kind = getattr(association, "AssociationConfig", None)
    return kind() if kind is not None else None


def concentration(model: Any) -> dict[str, Any] | None:
    """How much the same few partners fill every list: the share of all neighbour slots
    the 100 most frequent partners take, and the tracks that appear as someone's partner."""
    partners = getattr(model, "partners", None)
    if partners is None or not len(partners):
        return None
    counts = np.bincount(partners)
    top = np.sort(counts)[::-1]
    indptr = getattr(model, "indptr", None)
    rows = int((np.diff(indptr) > 0).sum()) if indptr is not None else None
    return {
        "neighbour_slots": len(partners),
        "rows_with_partners": rows,
        "distinct_partners": int((counts > 0).sum()),
        "top_100_partner_share": round(float(top[:100].sum() / len(partners)), 4),
        "top_1000_partner_share": round(float(top[:1000].sum() / len(partners)), 4),
    }


def _top(profile: cProfile.Profile, key: str, count: int) -> list[str]:
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats(key).print_stats(count)
    lines = [line.rstrip() for line in text.getvalue().splitlines()]
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    return [line for line in lines[start:] if line.strip()]


# --- baselines ---------------------------------------------------------------------------------


def sample_codes(playlists: int, universe: int, seed: int, share: float):
    """(session, track) codes of the first `share` of the playlists: the same playlists the
    full corpus holds (blocks are independent), without generating the rest."""
    from pipeline.mpd.corpus import BLOCK, Corpus

    config = corpus_config(playlists, universe, seed)
    corpus = Corpus(config)
    stop = max(1, round(corpus.blocks * share))
    sessions, tracks = [], []
    for block in corpus.iter_blocks(0, stop):
        first = block.first
        sessions.append(np.repeat(np.arange(first, first + len(block.lengths)), block.lengths))
        tracks.append(block.tracks)
    return np.concatenate(sessions), np.concatenate(tracks), stop * BLOCK


def scipy_baseline(playlists: int, universe: int, seed: int, share: float) -> dict[str, Any]:
    from scipy import sparse

    sessions, tracks, count = sample_codes(playlists, universe, seed, share)
    watch = RssWatch()
    cpu = _cpu_seconds()
    started = time.perf_counter()
    x = sparse.csr_matrix(
        (np.ones(len(tracks), dtype=np.float32), (sessions, tracks)),
        shape=(int(sessions.max()) + 1, universe),
    )
    co = (x.T @ x).tocsr()
    seconds = time.perf_counter() - started
    peak = watch.stop()
    return {
        "method": "scipy X.T @ X (whole matrix, no top-k)",
        "playlists": count,
        "entries": len(tracks),
        "products": products(np.bincount(sessions)),
        "nonzeros": int(co.nnz),
        "seconds": round(seconds, 1),
        "cpu_seconds": round(_cpu_seconds() - cpu, 1),
        "peak_rss_mb": mb(peak),
    }


def pandas_baseline(playlists: int, universe: int, seed: int, share: float) -> dict[str, Any]:
    import pandas as pd

    sessions, tracks, count = sample_codes(playlists, universe, seed, share)
    frame = pd.DataFrame({"playlist_id": sessions, "track_id": tracks})
    watch = RssWatch()
    cpu = _cpu_seconds()
    started = time.perf_counter()
    pairs = frame.merge(frame, on="playlist_id")
    pairs = pairs[pairs["track_id_x"] != pairs["track_id_y"]]
    counted = pairs.groupby(["track_id_x", "track_id_y"]).size()
    seconds = time.perf_counter() - started
    peak = watch.stop()
    return {
        "method": "pandas self-merge on playlist + groupby size",
        "playlists": count,
        "entries": len(tracks),
        "products": products(np.bincount(sessions)),
        "pairs": len(counted),
        "seconds": round(seconds, 1),
        "cpu_seconds": round(_cpu_seconds() - cpu, 1),
        "peak_rss_mb": mb(peak),
    }


# --- running -----------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("association phase")
    group.add_argument("--playlists", type=int, default=1_000_000)
    group.add_argument("--universe", type=int, default=2_500_000, help="tracks drawn from")
    group.add_argument("--corpus-seed", type=int, default=11)
    group.add_argument("--baseline-share", type=float, default=0.02)
    group.add_argument("--pandas-share", type=float, default=0.002)
    group.add_argument("--skip-baselines", action="store_true")
    group.add_argument("--profile-lines", type=int, default=25)
    group.add_argument(
        "--association-module",
        help="fit this file's fit_association instead of recommender.association's",
    )


def _in_process(function, *args) -> dict[str, Any]:
    """Run in a fresh spawned process: its peak memory is its own."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        try:
            return pool.submit(function, *args).result()
        except Exception as error:  # a baseline that dies (memory) is a result too
            return {"error": f"{type(error).__name__}: {error}"}


def run(args: argparse.Namespace) -> dict[str, Any]:
    common = (args.playlists, args.universe, args.corpus_seed)
    result: dict[str, Any] = {
        "command": "python " + " ".join(sys.argv),
        "load_average_before": os.getloadavg(),
        "targets": {"seconds": TARGET_SECONDS, "peak_mb": TARGET_MB},
        "phase": _in_process(phase, *common, args.profile_lines, args.association_module),
    }
    if not args.skip_baselines:
        full = result["phase"].get("products")
        for name, function, share in (
            ("scipy", scipy_baseline, args.baseline_share),
            ("pandas", pandas_baseline, args.pandas_share),
        ):
            base = _in_process(function, *common, share)
            if full and "seconds" in base:
                base["seconds_scaled_to_full"] = round(base["seconds"] * full / base["products"])
                if "fit_seconds" in result["phase"]:
                    base["scaled_baseline_over_fit"] = round(
                        base["seconds_scaled_to_full"] / max(result["phase"]["fit_seconds"], 0.1), 1
                    )
            result[f"baseline_{name}"] = base
    result["load_average_after"] = os.getloadavg()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    result = run(args)
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
