"""The association model: exact co-occurrence counts, ranking, blocks, inputs."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from recommender import association as assoc
from recommender.association import (
    AssociationConfig,
    SessionCoder,
    as_ids,
    fit_association,
)


def _sessions(rng: np.random.Generator, playlists: int = 300, tracks: int = 400) -> pd.DataFrame:
    rows = []
    for p in range(playlists):
        size = int(rng.integers(1, 25))
        style = int(rng.integers(8))
        pool = np.arange(style * 50, style * 50 + 50) % tracks
        chosen = rng.choice(pool, size=min(size, len(pool)), replace=False)
        rows += [(f"p{p:04d}", f"t{t:05d}") for t in chosen]
        if p % 7 == 0:  # a track twice in one playlist counts once
            rows.append((f"p{p:04d}", f"t{chosen[0]:05d}"))
    return pd.DataFrame(rows, columns=["playlist_id", "track_id"])


def _brute_force(entries: pd.DataFrame, universe: list[str]) -> dict[tuple[str, str], int]:
    shared: dict[tuple[str, str], int] = {}
    allowed = set(universe)
    for _, group in entries.groupby("playlist_id"):
        tracks = sorted(set(group["track_id"]) & allowed)
        for a, b in itertools.permutations(tracks, 2):
            shared[a, b] = shared.get((a, b), 0) + 1
    return shared


def _partners(model: assoc.Association, track_id: str) -> list[tuple[str, int]]:
    row = model.row(track_id)
    assert row is not None
    partners, _, shared = model.neighbours(row)
    return [(model.track_id(int(p)), int(s)) for p, s in zip(partners, shared, strict=True)]


def test_counts_match_a_brute_force_count_and_rank_by_shared_then_plays() -> None:
    entries = _sessions(np.random.default_rng(3))
    universe = sorted(set(entries["track_id"]))[:-20]  # some tracks are not recommendable
    model = fit_association(entries, universe, AssociationConfig(neighbours=10))
    truth = _brute_force(entries, universe)
    plays = entries.drop_duplicates().groupby("track_id").size()
    for track_id in universe[::7]:
        expected = sorted(
            ((b, n) for (a, b), n in truth.items() if a == track_id),
            key=lambda item: (-item[1], -plays[item[0]], item[0]),
        )[:10]
        assert _partners(model, track_id) == expected
    assert model.row("t99999") is None and model.row(universe[-1] + "x") is None
    assert model.report["sessions"] <= entries["playlist_id"].nunique()


def test_blocks_give_the_same_model_as_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = _sessions(np.random.default_rng(4))
    universe = sorted(set(entries["track_id"]))
    whole = fit_association(entries, universe)
    monkeypatch.setattr(assoc, "BLOCK_PRODUCTS", 500)
    blocked = fit_association(entries, universe)
    for name in ("indptr", "partners", "scores", "shared", "plays"):
        assert np.array_equal(getattr(whole, name), getattr(blocked, name)), name


def test_categorical_and_streamed_inputs_give_the_same_model() -> None:
    entries = _sessions(np.random.default_rng(5))
    universe = sorted(set(entries["track_id"]))
    plain = fit_association(entries, universe)
    categorical = entries.astype({"playlist_id": "category", "track_id": "category"})
    coded = fit_association(categorical, universe)
    ids = as_ids(universe)
    coder = SessionCoder(ids)
    ordered = entries.sort_values("playlist_id", kind="stable")
    for start in range(0, len(ordered), 97):  # partitions cut playlists in two
        part = ordered.iloc[start : start + 97]
        coder.add(part["playlist_id"].to_numpy(object), part["track_id"].to_numpy(object))
    streamed = assoc.fit_codes(*coder.codes(), ids, AssociationConfig())
    for other in (coded, streamed):
        for name in ("indptr", "partners", "shared", "plays"):
            assert np.array_equal(getattr(plain, name), getattr(other, name)), name


def test_scores_and_edge_cases() -> None:
    entries = pd.DataFrame(
        [("a", "x"), ("a", "y"), ("b", "x"), ("b", "y"), ("b", "z"), ("c", "z"), ("d", "w")]
        + [(f"q{i}", "y") for i in range(8)]
        + [(f"q{i}", f"f{i}") for i in range(3)],
        columns=["playlist_id", "track_id"],
    )
    universe = ["w", "x", "y", "z", "f0", "f1", "f2"]
    counts = fit_association(entries, universe)
    assert _partners(counts, "x") == [("y", 2), ("z", 1)]
    assert _partners(counts, "w") == []  # alone in its playlist: no partner
    assert counts.plays[counts.row("y")] == 10 and counts.plays[counts.row("w")] == 1
    cosine = fit_association(entries, universe, AssociationConfig(method="cosine"))
    # z shares 1 of its 2 plays with x, y 2 of its 10: cosine prefers z
    assert [t for t, _ in _partners(cosine, "x")] == ["z", "y"]
    assert not counts.has_history("w") and counts.has_history("x")
    with pytest.raises(ValueError, match="unknown association method"):
        fit_association(entries, universe, AssociationConfig(method="magic"))
    empty = fit_association(entries.iloc[:0], universe)
    assert empty.report["sessions"] == 0 and len(empty.partners) == 0
