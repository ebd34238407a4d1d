"""Offline evaluation: playlist co-membership hold-out on the catalogue's playlists.

Two tracks are playlist mates when some playlist holds both. Seeds are trained tracks
with at least one trained mate; each method recommends k tracks for every seed, and a
pick is a hit when it is one of the seed's mates (the playlists are never used to
train, only to judge). The strategies run through the real serving path (the same
queries and exclusions as `recommend`); the baselines are computed in memory with the
same exclusions (the seed itself, the same song under another id):

- random global: uniform over every trained track;
- random in bucket: uniform over the seed's buckets' tracks (buckets taken in turn);
- most popular in bucket: the most popular tracks of the seed's buckets, in turn.

Reported per method: hit rate @1 and @k, artist-level hit rate @k (a pick by an artist
of one of the seed's mates), catalogue coverage (distinct picks / trained tracks),
same-artist rate, repeat rate over a second ask for the same seed, mean standardised
feature distance to the seed, and mean pick popularity (popularity bias).

When the catalogue's genres came from playlists (TidyTuesday stores each playlist's
subgenre as its artists' genre), genre buckets already know which playlists a track
sits in: every bucket-based figure is then optimistic, and the report says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from recommender.features import matrix
from recommender.serving import STRATEGIES, Options, Recommender, song_key
from sql import frames, models
from sql.database import Database
from sql.errors import TuneclusterError
from sql.schema import playlist

LEAKY_GENRE_SOURCES = ("playlist",)  # a genre source naming playlists leaks membership
BASELINES = ("random-global", "random-in-bucket", "popular-in-bucket")
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class EvalConfig:
    seeds: int = 1000
    k: int = 10
    repeat_seeds: int = 200
    seed: int = 0
    strategies: tuple[str, ...] = STRATEGIES


@dataclass
class _Data:
    trained: pd.DataFrame  # index track_id: artist, song, popularity, buckets
    members: dict[str, np.ndarray]  # bucket → track ids
    popular: dict[str, np.ndarray]  # bucket → track ids, most popular first
    mates: dict[str, set[str]]
    mate_artists: dict[str, set[str]]
    vectors: dict[str, np.ndarray]  # track id → standardised features
    info: dict[str, Any]
    warnings: list[str]


async def evaluate(
    db: Database,
    recommender: Recommender,
    config: EvalConfig = EvalConfig(),
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Every strategy and baseline on the same seeds; a dict ready for a table or JSON."""
    async with db.connection() as conn:
        bundle = await recommender.active(conn)
        data = await _load(conn, bundle.version, bundle.plan.sound)
    seeds = _seeds(data, config)
    if not seeds:
        raise TuneclusterError(
            "no trained track shares a playlist with another trained track: the evaluation"
            " needs playlists (import TidyTuesday or MPD slices)"
        )
    results: dict[str, dict[str, Any]] = {}
    total = len(seeds) * (len(config.strategies) + len(BASELINES))
    done = 0
    for name in config.strategies:
        rng = np.random.default_rng(config.seed + 1)
        lists, repeats = [], []
        for i, seed in enumerate(seeds):
            lists.append(await _served(db, recommender, seed, name, config.k, rng))
            if i < config.repeat_seeds:
                repeats.append(await _served(db, recommender, seed, name, config.k, rng))
            done += 1
            _tick(progress, done, total)
        results[name] = _metrics(data, seeds, lists, repeats)
    for name in BASELINES:
        rng = np.random.default_rng(config.seed + 2)
        lists, repeats = [], []
        for i, seed in enumerate(seeds):
            lists.append(_baseline(data, seed, name, config.k, rng))
            if i < config.repeat_seeds:
                repeats.append(_baseline(data, seed, name, config.k, rng))
            done += 1
            _tick(progress, done, total)
        results[name] = _metrics(data, seeds, lists, repeats)
    reference = results["random-in-bucket"]["hit_rate_at_k"]
    for metrics in results.values():
        metrics["lift_over_random_in_bucket"] = (
            round(metrics["hit_rate_at_k"] / reference, 3) if reference else None
        )
    return {
        "model_version": bundle.version,
        "k": config.k,
        "seeds": len(seeds),
        "repeat_seeds": min(config.repeat_seeds, len(seeds)),
        "random_seed": config.seed,
        "data": data.info,
        "warnings": data.warnings,
        "methods": results,
    }


def _tick(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None and (done % 25 == 0 or done == total):
        progress("evaluating", done, total)


# --- data ------------------------------------------------------------------------------------------


async def _load(conn, version: str, sound: tuple[str, ...]) -> _Data:
    assigned = pd.DataFrame(
        await models.assignments(conn, version), columns=["track_id", "bucket", "cluster"]
    )
    if assigned.empty:
        raise TuneclusterError(f"model version {version} has no assignments")
    tracks = await frames.track_frame(conn)
    entries = await frames.playlist_entries_frame(conn)
    sources = await frames.track_genres_frame(conn, with_source=True)
    playlist_sources = dict(
        (
            await conn.execute(select(playlist.c.source, func.count()).group_by(playlist.c.source))
        ).all()
    )

    ids = assigned["track_id"].unique()
    trained = tracks.loc[tracks.index.intersection(ids)].copy()
    popularity = trained["track_popularity"].where(
        trained["track_popularity"].notna(), trained["album_popularity"]
    )
    trained["popularity"] = popularity.fillna(-1.0)
    trained["artist"] = trained["primary_artist_id"].fillna("")
    trained["song"] = [
        song_key(n, a)
        for n, a in zip(trained["name"], trained["primary_artist_name"].fillna(""), strict=True)
    ]
    buckets = assigned.groupby("track_id")["bucket"].apply(list)
    trained["buckets"] = buckets.reindex(trained.index)
    # Sorted by id: the baselines' draws must not depend on a model's position layout.
    members = {b: np.sort(g["track_id"].to_numpy()) for b, g in assigned.groupby("bucket")}
    popular = {
        b: trained.loc[m]
        .sort_values(["popularity", "track_id"], ascending=[False, True])
        .index.to_numpy()
        for b, m in members.items()
    }

    entries = entries[entries["track_id"].isin(trained.index)]
    by_playlist = entries.groupby("playlist_id")["track_id"].apply(lambda s: set(s))
    mates: dict[str, set[str]] = {}
    for members_of in by_playlist:
        if len(members_of) < 2:
            continue
        for track_id in members_of:
            mates.setdefault(track_id, set()).update(members_of)
    for track_id, found in mates.items():
        found.discard(track_id)
    artist_of = trained["artist"]
    mate_artists = {t: {artist_of[m] for m in found} - {""} for t, found in mates.items()}

    values = matrix(trained, sound)
    medians = np.nanmedian(values, axis=0)
    values = np.where(np.isnan(values), medians, values)
    std = values.std(axis=0)
    values = (values - values.mean(axis=0)) / np.where(std > 0, std, 1.0)
    vectors = dict(zip(trained.index, values, strict=True))

    genre_sources = (
        sources.groupby("source")["genre"].nunique().to_dict() if not sources.empty else {}
    )
    leaky = [s for s in genre_sources if any(word in s for word in LEAKY_GENRE_SOURCES)]
    warnings = []
    if leaky:
        warnings.append(
            f"genres from {', '.join(leaky)}: these genre tags come from the very playlists"
            " used as ground truth (leakage), so bucket-based hit rates are optimistic;"
            " compare methods with each other, not with other datasets"
        )
    info = {
        "trained_tracks": len(trained),
        "playlists": int(by_playlist.size),
        "playlist_sources": {str(k): int(v) for k, v in playlist_sources.items()},
        "genre_sources": {str(k): int(v) for k, v in genre_sources.items()},
        "tracks_with_mates": len(mates),
    }
    return _Data(trained, members, popular, mates, mate_artists, vectors, info, warnings)


def _seeds(data: _Data, config: EvalConfig) -> list[str]:
    candidates = sorted(t for t, m in data.mates.items() if m)
    rng = np.random.default_rng(config.seed)
    if len(candidates) > config.seeds:
        candidates = sorted(rng.choice(candidates, size=config.seeds, replace=False).tolist())
    return candidates


# --- methods ------------------------------------------------------------------------------------------


async def _served(
    db: Database, recommender: Recommender, seed: str, strategy: str, k: int, rng
) -> list[str]:
    options = Options(n=k, strategy=strategy, guild_id=None, no_repeat_days=0.0)
    async with db.connection() as conn:
        result = await recommender.recommend(conn, seed, options, rng=rng)
    return [p.track_id for p in result.picks]


def _baseline(data: _Data, seed: str, name: str, k: int, rng: np.random.Generator) -> list[str]:
    row = data.trained.loc[seed]
    buckets = row["buckets"]
    picks: list[str] = []
    songs = {row["song"]}

    def admit(track_id: str) -> None:
        if track_id == seed or track_id in picks:
            return
        song = data.trained.at[track_id, "song"]
        if song in songs:
            return
        songs.add(song)
        picks.append(track_id)

    if name == "popular-in-bucket":
        cursors = dict.fromkeys(buckets, 0)
        while len(picks) < k and cursors:
            for bucket in list(cursors):
                ranked = data.popular[bucket]
                while cursors[bucket] < len(ranked):
                    before = len(picks)
                    admit(ranked[cursors[bucket]])
                    cursors[bucket] += 1
                    if len(picks) > before:
                        break
                if cursors[bucket] >= len(ranked):
                    del cursors[bucket]
                if len(picks) >= k:
                    break
        return picks
    everything = data.trained.index.to_numpy()
    for attempt in range(k * 20):
        if len(picks) >= k:
            break
        pool = (
            everything if name == "random-global" else data.members[buckets[attempt % len(buckets)]]
        )
        admit(pool[int(rng.integers(len(pool)))])
    return picks


# --- metrics --------------------------------------------------------------------------------------------


def _metrics(
    data: _Data, seeds: list[str], lists: list[list[str]], repeats: list[list[str]]
) -> dict[str, Any]:
    hit1 = hitk = artist_hit = same_artist = picks_total = 0
    distances: list[float] = []
    popularity: list[float] = []
    distinct: set[str] = set()
    artist_of = data.trained["artist"]
    pop_of = data.trained["popularity"]
    for seed, picks in zip(seeds, lists, strict=True):
        mates = data.mates.get(seed, set())
        mate_artists = data.mate_artists.get(seed, set())
        hits = [p in mates for p in picks]
        hit1 += bool(hits and hits[0])
        hitk += any(hits)
        artist_hit += any(artist_of[p] in mate_artists for p in picks)
        same_artist += sum(artist_of[p] == artist_of[seed] and artist_of[seed] != "" for p in picks)
        picks_total += len(picks)
        distinct.update(picks)
        origin = data.vectors[seed]
        distances += [float(np.linalg.norm(data.vectors[p] - origin)) for p in picks]
        popularity += [float(pop_of[p]) for p in picks if pop_of[p] >= 0]
    overlaps = [len(set(a) & set(b)) / len(b) for a, b in zip(lists, repeats, strict=False) if b]
    n = len(seeds)
    return {
        "hit_rate_at_1": round(hit1 / n, 4),
        "hit_rate_at_k": round(hitk / n, 4),
        "artist_hit_rate_at_k": round(artist_hit / n, 4),
        "coverage": round(len(distinct) / max(1, len(data.trained)), 4),
        "same_artist_rate": round(same_artist / max(1, picks_total), 4),
        "repeat_rate": round(float(np.mean(overlaps)), 4) if overlaps else None,
        "mean_feature_distance": round(float(np.mean(distances)), 4) if distances else None,
        "mean_pick_popularity": round(float(np.mean(popularity)), 2) if popularity else None,
        "picks_per_seed": round(picks_total / n, 2),
    }
