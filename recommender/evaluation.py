"""Offline evaluation on held-out playlists: a split that cannot flatter.

The catalogue's playlists are split by playlist (seeded): the model under test (its
association and its play counts) learns from the train playlists only
(`bot.services.evaluate` trains it with the test playlists held out, and by default with
popularity hidden, as a 2026 development-mode app sees its tracks). Seeds come from the
test playlists; a seed's ground truth is the rest of its held-out playlist. Every
registered strategy runs through the real serving path against that model; the
baselines run in memory with the same exclusions (the seed itself, the same song under
another id):

- random in bucket: uniform over the seed's buckets' tracks;
- popular in bucket: the most played (in the train playlists) of the seed's buckets;
- sound nearest: the nearest tracks in audio features inside the seed's buckets;
- co-occurrence: the seed's association partners anywhere, by sessions shared.

Per method, for all seeds, for warm seeds (with train-playlist history), and cold: every
seed served as a track without playlist history (as each track a 2026 app adds itself
starts; a seed with no history is cold as it is): precision@k (share of the k picks in the held-out playlist), any-hit@k,
recall@k, NDCG@k, same-artist rate (picks by the seed's artist), answers holding two
picks by one artist, repeat rate (a second ask), coverage. Intervals are bootstrap 95 %
over test playlists (seeds of one playlist move together).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from recommender import strategies
from recommender.bundle import Bundle
from recommender.features import matrix
from recommender.serving import Options, Recommender, song_key
from sql import frames, model_versions
from sql.database import Database
from sql.errors import TuneclusterError

LEAKY_GENRE_SOURCES = ("playlist",)  # a genre source naming playlists leaks membership
BASELINES = ("random-in-bucket", "popular-in-bucket", "sound-nearest", "co-occurrence")
METRICS = ("precision", "any_hit", "recall", "ndcg", "same_artist", "artist_repeat")
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class EvalConfig:
    seeds: int = 1000  # at most, sampled from the test playlists
    k: int = 10
    test_share: float = 0.2
    seeds_per_playlist: int = 5
    repeat_seeds: int = 200
    bootstrap: int = 1000
    seed: int = 0
    strategies: tuple[str, ...] = ()  # empty: every registered strategy
    max_per_artist: int = 1  # the serving settings the strategies run with
    plays_weight: float | None = None  # None: the model's learned weight

    def methods(self) -> tuple[str, ...]:
        return (self.strategies or strategies.names()) + BASELINES


@dataclass(frozen=True)
class Split:
    train: frozenset[str]
    test: frozenset[str]


def split_playlists(entries: pd.DataFrame, config: EvalConfig) -> Split:
    """Playlists with two or more entries, shuffled by the seed; `test_share` held out."""
    sizes = entries.groupby("playlist_id").size()
    usable = np.sort(sizes[sizes >= 2].index.to_numpy().astype(str))
    if len(usable) < 2:
        raise TuneclusterError(
            "the evaluation needs playlists: import TidyTuesday or MPD slices first"
        )
    order = np.random.default_rng(config.seed).permutation(len(usable))
    cut = max(1, round(len(usable) * config.test_share))
    return Split(frozenset(usable[order[cut:]]), frozenset(usable[order[:cut]]))


@dataclass
class _Data:
    """What the baselines and the metrics need about the model under test."""

    trained: pd.DataFrame  # index track id: artist, song, buckets
    members: dict[str, np.ndarray]  # bucket → track ids (sorted)
    plays: pd.Series  # track id → sessions holding it in the train playlists
    scaled: dict[str, tuple[np.ndarray, np.ndarray]]  # bucket → (ids, scaled sound)


@dataclass
class _Seed:
    track_id: str
    playlist: str
    truth: frozenset[str]
    warm: bool


async def evaluate_version(
    db: Database,
    recommender: Recommender,
    version: str,
    split: Split,
    config: EvalConfig,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Every method on the test playlists' seeds, against a model trained without them."""
    bundle = recommender.bundle(version)
    async with db.connection() as conn:
        data = await _load(conn, bundle)
        entries = await frames.playlist_entries_frame(conn)
    seeds = _seeds(entries, split, data, bundle, config)
    if not seeds:
        raise TuneclusterError(
            "no test playlist holds two trained tracks: the evaluation has no seed"
        )
    methods: dict[str, dict[str, Any]] = {}
    total = len(seeds) * len(config.methods())
    done = 0
    for name in config.methods():
        rng = np.random.default_rng(config.seed + 1)
        lists, repeats, cold = [], [], []
        for i, seed in enumerate(seeds):
            ask = partial(_answer, db, recommender, bundle, data, seed, name, config, rng)
            lists.append(await ask())
            cold.append(await ask(history=False) if seed.warm else lists[-1])
            if name not in BASELINES and i < config.repeat_seeds:
                repeats.append(await ask())
            done += 1
            if progress is not None and (done % 25 == 0 or done == total):
                progress("evaluating", done, total)
        methods[name] = _metrics(data, seeds, lists, cold, repeats, config)
    return {
        "model_version": version,
        "k": config.k,
        "seeds": len(seeds),
        "warm_seeds": int(sum(s.warm for s in seeds)),
        "cold_seeds": int(sum(not s.warm for s in seeds)),
        "test_playlists": len({s.playlist for s in seeds}),
        "methods": methods,
    }


async def data_report(db: Database, split: Split) -> tuple[dict[str, Any], list[str]]:
    """What the evaluation ran on, and its warnings (genres that leak playlists)."""
    async with db.connection() as conn:
        sources = await frames.track_genres_frame(conn, with_source=True)
        playlist_sources = await frames.playlist_sources(conn)
    genre_sources = (
        sources.groupby("source")["genre"].nunique().to_dict() if not sources.empty else {}
    )
    leaky = [s for s in genre_sources if any(word in s for word in LEAKY_GENRE_SOURCES)]
    warnings = []
    if leaky:
        warnings.append(
            f"genres from {', '.join(leaky)}: these genre tags come from the very playlists"
            " used as ground truth (leakage), so bucket-based figures are optimistic;"
            " compare methods with each other, not with other datasets"
        )
    info = {
        "train_playlists": len(split.train),
        "test_playlists": len(split.test),
        "playlist_sources": {str(k): int(v) for k, v in playlist_sources.items()},
        "genre_sources": {str(k): int(v) for k, v in genre_sources.items()},
    }
    return info, warnings


# --- data ------------------------------------------------------------------------------------------


async def _load(conn, bundle: Bundle) -> _Data:
    assigned = pd.DataFrame(
        await model_versions.assignments(conn, bundle.version),
        columns=["track_id", "bucket", "cluster"],
    )
    if assigned.empty:
        raise TuneclusterError(f"model version {bundle.version} has no assignments")
    tracks = await frames.track_frame(conn)
    ids = assigned["track_id"].unique()
    trained = tracks.loc[tracks.index.intersection(ids)].copy()
    trained["artist"] = trained["primary_artist_id"].fillna("")
    trained["song"] = [
        song_key(n, a)
        for n, a in zip(trained["name"], trained["primary_artist_name"].fillna(""), strict=True)
    ]
    trained["buckets"] = assigned.groupby("track_id")["bucket"].apply(list).reindex(trained.index)
    members = {b: np.sort(g["track_id"].to_numpy()) for b, g in assigned.groupby("bucket")}
    plays = pd.Series(0, index=trained.index, dtype=np.int64)
    if bundle.association is not None:
        rows = bundle.association.rows(trained.index.to_numpy())
        known = rows >= 0
        plays[known] = np.asarray(bundle.association.plays)[rows[known]]
    scaled = {}
    for bucket, ids_in in members.items():
        values = matrix(trained.loc[ids_in], bundle.plan.sound)
        scaled[bucket] = (ids_in, bundle.models[bucket].scaled(values))
    return _Data(trained, members, plays, scaled)


def _seeds(
    entries: pd.DataFrame, split: Split, data: _Data, bundle: Bundle, config: EvalConfig
) -> list[_Seed]:
    rng = np.random.default_rng(config.seed)
    test = entries[entries["playlist_id"].isin(split.test)]
    test = test[test["track_id"].isin(data.trained.index)]
    seeds: list[_Seed] = []
    for playlist, group in sorted(test.groupby("playlist_id")["track_id"]):
        tracks = sorted(set(group))
        if len(tracks) < 2:
            continue
        chosen = rng.choice(
            len(tracks), size=min(config.seeds_per_playlist, len(tracks)), replace=False
        )
        for i in sorted(chosen.tolist()):
            seed = tracks[i]
            song = data.trained.at[seed, "song"]
            truth = frozenset(t for t in tracks if t != seed and data.trained.at[t, "song"] != song)
            if not truth:
                continue
            warm = bundle.association is not None and bundle.association.has_history(seed)
            seeds.append(_Seed(seed, str(playlist), truth, warm))
    if len(seeds) > config.seeds:
        keep = np.sort(rng.choice(len(seeds), size=config.seeds, replace=False))
        seeds = [seeds[i] for i in keep]
    return seeds


# --- methods -----------------------------------------------------------------------------------------


async def _answer(
    db: Database,
    recommender: Recommender,
    bundle: Bundle,
    data: _Data,
    seed: _Seed,
    name: str,
    config: EvalConfig,
    rng: np.random.Generator,
    *,
    history: bool = True,
) -> list[str]:
    if name in BASELINES:
        if name == "co-occurrence" and not history:
            return []  # a track without history has no partner
        return _baseline(bundle, data, seed.track_id, name, config.k, rng)
    options = Options(
        n=config.k,
        strategy=name,
        no_repeat_days=0.0,
        max_per_artist=config.max_per_artist,
        plays_weight=config.plays_weight,
        history=history,
    )
    async with db.connection() as conn:
        result = await recommender.recommend(
            conn, seed.track_id, options, rng=rng, version=bundle.version
        )
    return [p.track_id for p in result.picks]


def _baseline(
    bundle: Bundle, data: _Data, seed: str, name: str, k: int, rng: np.random.Generator
) -> list[str]:
    buckets = data.trained.at[seed, "buckets"]
    picks: list[str] = []
    songs = {data.trained.at[seed, "song"]}

    def admit(track_id: str) -> None:
        if track_id == seed or track_id in picks or track_id not in data.trained.index:
            return
        song = data.trained.at[track_id, "song"]
        if song not in songs:
            songs.add(song)
            picks.append(track_id)

    for track_id in _ranked(bundle, data, seed, buckets, name, k, rng):
        admit(track_id)
        if len(picks) >= k:
            break
    return picks


def _ranked(
    bundle: Bundle,
    data: _Data,
    seed: str,
    buckets: list[str],
    name: str,
    k: int,
    rng: np.random.Generator,
) -> list[str]:
    """A baseline's candidates, best first (more than k: exclusions thin them)."""
    wanted = 4 * k + 8
    if name == "co-occurrence":
        association = bundle.association
        row = association.row(seed) if association is not None else None
        if association is None or row is None:
            return []
        partners, _, _ = association.neighbours(row)
        return [association.track_id(int(r)) for r in partners]
    pool = np.unique(np.concatenate([data.members[b] for b in buckets]))
    if name == "random-in-bucket":
        return pool[rng.choice(len(pool), size=min(wanted, len(pool)), replace=False)].tolist()
    if name == "popular-in-bucket":
        plays = data.plays.reindex(pool).to_numpy()
        order = np.lexsort((pool, -plays))[:wanted]
        return pool[order].tolist()
    # sound-nearest: per bucket, nearest by standardised sound; merged by distance
    found: dict[str, float] = {}
    for bucket in buckets:
        ids, scaled = data.scaled[bucket]
        point = scaled[np.searchsorted(ids, seed)]
        gaps = np.sqrt(((scaled - point) ** 2).sum(axis=1))
        nearest = np.argsort(gaps, kind="stable")[:wanted]
        for i in nearest.tolist():
            found[ids[i]] = min(found.get(ids[i], np.inf), float(gaps[i]))
    return sorted(found, key=lambda t: (found[t], t))


# --- metrics -----------------------------------------------------------------------------------------


def _metrics(
    data: _Data,
    seeds: list[_Seed],
    lists: list[list[str]],
    cold: list[list[str]],
    repeats: list[list[str]],
    config: EvalConfig,
) -> dict[str, Any]:
    """`lists`: the answers; `cold`: the same seeds served without their history."""
    frame = _per_seed(data, seeds, lists, config)
    cold_frame = _per_seed(data, seeds, cold, config)
    out: dict[str, Any] = {
        "all": _summary(frame, config),
        "warm": _summary(frame[frame["warm"]], config) if frame["warm"].any() else None,
        "cold": _summary(cold_frame, config),
    }
    picked = [p for picks in lists for p in picks]
    overlaps = [len(set(a) & set(b)) / len(b) for a, b in zip(lists, repeats, strict=False) if b]
    out["coverage"] = round(len(set(picked)) / max(1, len(data.trained)), 4)
    out["picks_per_seed"] = round(len(picked) / len(seeds), 2)
    out["repeat_rate"] = round(float(np.mean(overlaps)), 4) if overlaps else None
    out["per_seed"] = {"normal": frame, "cold": cold_frame}  # for paired comparisons
    return out


def _per_seed(
    data: _Data, seeds: list[_Seed], lists: list[list[str]], config: EvalConfig
) -> pd.DataFrame:
    k = config.k
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    artist_of = data.trained["artist"]
    rows = []
    for seed, picks in zip(seeds, lists, strict=True):
        hits = np.array([p in seed.truth for p in picks[:k]] + [False] * (k - len(picks[:k])))
        ideal = discounts[: min(k, len(seed.truth))].sum()
        artists = [artist_of[p] for p in picks if artist_of[p]]
        seed_artist = artist_of[seed.track_id]
        rows.append(
            {
                "precision": hits.sum() / k,
                "any_hit": float(hits.any()),
                "recall": hits.sum() / len(seed.truth),
                "ndcg": float((hits * discounts).sum() / ideal) if ideal else 0.0,
                "same_artist": (
                    sum(a == seed_artist for a in artists) / len(picks)
                    if seed_artist and picks
                    else 0.0
                ),
                "artist_repeat": float(len(artists) != len(set(artists))),
            }
        )
    frame = pd.DataFrame(rows)
    frame["playlist"] = [s.playlist for s in seeds]
    frame["warm"] = [s.warm for s in seeds]
    return frame


def _summary(frame: pd.DataFrame, config: EvalConfig) -> dict[str, Any]:
    """Each metric's mean with a bootstrap 95 % interval over playlists."""
    summary: dict[str, Any] = {"seeds": len(frame)}
    for metric in METRICS:
        mean, low, high = bootstrap_mean(frame, metric, config)
        summary[metric] = {"mean": round(mean, 4), "low": round(low, 4), "high": round(high, 4)}
    return summary


def _playlist_weights(frame: pd.DataFrame, config: EvalConfig) -> tuple[np.ndarray, np.ndarray]:
    """Resampling weights per playlist (B × playlists) and each seed's playlist index."""
    codes, playlists = pd.factorize(frame["playlist"], sort=True)
    rng = np.random.default_rng(config.seed + 7)
    weights = rng.multinomial(
        len(playlists), np.full(len(playlists), 1 / len(playlists)), size=config.bootstrap
    )
    return weights, codes


def bootstrap_mean(
    frame: pd.DataFrame, metric: str, config: EvalConfig
) -> tuple[float, float, float]:
    weights, codes = _playlist_weights(frame, config)
    sums = np.bincount(codes, weights=frame[metric].to_numpy(), minlength=weights.shape[1])
    counts = np.bincount(codes, minlength=weights.shape[1])
    means = (weights @ sums) / np.maximum(weights @ counts, 1)
    return float(frame[metric].mean()), *map(float, np.percentile(means, [2.5, 97.5]))


def ratio(
    a: pd.DataFrame, b: pd.DataFrame, metric: str, config: EvalConfig
) -> dict[str, float] | None:
    """mean(a) / mean(b) on the same seeds, with a paired bootstrap 95 % interval."""
    if not len(a) or b[metric].mean() == 0:
        return None
    weights, codes = _playlist_weights(a, config)
    size = weights.shape[1]
    sums_a = np.bincount(codes, weights=a[metric].to_numpy(), minlength=size)
    sums_b = np.bincount(codes, weights=b[metric].to_numpy(), minlength=size)
    draws = (weights @ sums_a) / np.maximum(weights @ sums_b, 1e-12)
    low, high = np.percentile(draws, [2.5, 97.5])
    value = a[metric].mean() / b[metric].mean()
    return {
        "ratio": round(float(value), 3),
        "low": round(float(low), 3),
        "high": round(float(high), 3),
    }
