"""Autocomplete search at 1,000,000 tracks: the word index (`pipeline.search`) against a
plain fuzzy scan of every "title artist" string with rapidfuzz (the obvious way to
survive typos), timed in the same run. Budget: Discord gives autocomplete 3 s.

The catalogue is generated: titles of 1–5 words and artist names of 1–3 words drawn
with a Zipf-like weight from a vocabulary of 60,000 made-up words (so common words have
long postings lists, as in real titles: "love", "the", "remix"), popularity 0–100.
Queries (1,000 per kind, from catalogue tracks): two title words found anywhere, the same
with one typo in each word of five letters or more, and a word being typed (the
last word cut short). The scan baseline runs a handful of the same queries (it takes
seconds each); its ratio is index p99 / scan median.

    python benchmarks/search.py                       # 1,000,000 tracks
    python benchmarks/search.py --tracks 100000 --queries 300
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.search import SearchIndex  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "search.json"
SYLLABLES = [a + b for a in "bcdfghjklmnprstvz" for b in "aeiou"] + ["an", "el", "or", "is"]
BUDGET_SECONDS = 3.0


def vocabulary(rng: np.random.Generator, size: int) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        n = int(rng.integers(1, 5))
        words.add("".join(rng.choice(SYLLABLES, n)))
    return sorted(words)


def catalogue(rng: np.random.Generator, tracks: int, vocab: list[str]):
    weights = 1.0 / np.arange(1, len(vocab) + 1) ** 0.9
    weights /= weights.sum()
    lengths = rng.integers(1, 6, tracks)
    drawn = rng.choice(len(vocab), int(lengths.sum()), p=weights)
    titles, at = [], 0
    for n in lengths:
        titles.append(" ".join(vocab[k] for k in drawn[at : at + n]))
        at += n
    artists = [
        " ".join(vocab[k] for k in rng.choice(len(vocab), int(rng.integers(1, 4))))
        for _ in range(tracks // 8)
    ]
    by = rng.integers(0, len(artists), tracks)
    popularity = rng.integers(0, 101, tracks)
    ids = [f"{i:022d}" for i in range(tracks)]
    rows = [(ids[i], titles[i], int(popularity[i])) for i in range(tracks)]
    extra = {ids[i]: [artists[by[i]]] for i in range(tracks)}
    return rows, extra


def typo(rng: np.random.Generator, word: str) -> str:
    if len(word) < 5:
        return word
    i = int(rng.integers(1, len(word) - 1))
    return word[:i] + word[i + 1 :] if rng.random() < 0.5 else word[:i] + "x" + word[i + 1 :]


def queries(rng: np.random.Generator, rows, n: int) -> tuple[dict[str, list[str]], list[str]]:
    """The query texts per kind, and the track each was taken from."""
    picked = [rows[int(i)] for i in rng.integers(0, len(rows), n * 3)]
    chosen = [row for row in picked if len(row[1].split()) >= 2][:n]
    anywhere = [" ".join(row[1].split()[-2:]) for row in chosen]
    kinds = {
        "words anywhere": anywhere,
        "with typos": [" ".join(typo(rng, x) for x in q.split()) for q in anywhere],
        "being typed": [q[: max(2, len(q) - 2)] for q in anywhere],
    }
    return kinds, [row[0] for row in chosen]


def timed(index: SearchIndex, texts: list[str], sources: list[str]) -> tuple[list[float], int]:
    """Seconds per query, and how many found their source track among the 25 offered."""
    out, found = [], 0
    for text, source in zip(texts, sources, strict=True):
        clock = time.perf_counter()
        ids = index.search(text, limit=25)
        out.append(time.perf_counter() - clock)
        found += source in ids
    return out, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--scan-queries", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(13)
    load_before = os.getloadavg()[0]
    vocab = vocabulary(rng, 60_000)
    rows, extra = catalogue(rng, args.tracks, vocab)
    clock = time.perf_counter()
    index = SearchIndex.from_rows(rows, extra)
    build = time.perf_counter() - clock
    asked, sources = queries(rng, rows, args.queries)
    results: dict[str, dict[str, float]] = {}
    for kind, texts in asked.items():
        seconds, found = timed(index, texts, sources)
        seconds.sort()
        results[kind] = {
            "source_track_offered": f"{found} of {len(texts)}",
            "p50_ms": round(1000 * seconds[len(seconds) // 2], 2),
            "p99_ms": round(1000 * seconds[int(len(seconds) * 0.99) - 1], 2),
            "max_ms": round(1000 * seconds[-1], 2),
        }
    strings = [f"{title} {' '.join(extra[tid])}" for tid, title, _ in rows]
    scan = []
    for text in asked["with typos"][: args.scan_queries]:
        clock = time.perf_counter()
        process.extract(text, strings, scorer=fuzz.WRatio, limit=25)
        scan.append(time.perf_counter() - clock)
    worst_p99 = max(r["p99_ms"] for r in results.values()) / 1000
    result = {
        "command": " ".join(["python", "benchmarks/search.py", *sys.argv[1:]]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "tracks": args.tracks,
        "vocabulary_words": len(index.vocab),
        "postings": int(index.postings.size),
        "index_build_s": round(build, 1),
        "index_mb": round(
            (index.postings.nbytes + index.offsets.nbytes + index.track_ids.nbytes) / 2**20, 1
        ),
        "queries_per_kind": args.queries,
        "index": results,
        "scan_baseline": {
            "what": "rapidfuzz process.extract(WRatio) over every 'title artist'",
            "queries": len(scan),
            "median_ms": round(1000 * statistics.median(scan), 1),
        },
        "ratio_index_p99_to_scan_median": round(worst_p99 / statistics.median(scan), 4),
        "budget_ms": BUDGET_SECONDS * 1000,
        "worst_p99_share_of_budget": round(worst_p99 / BUDGET_SECONDS, 4),
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
