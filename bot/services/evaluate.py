"""`evaluate`: train models that never saw the test playlists, then judge them.

For each popularity mode (hidden by default: a 2026 development-mode app has none;
visible to compare), a version is trained with the test playlists held out and without
activating or pruning anything; `recommender.evaluation` runs every strategy and
baseline against it; the version is removed afterwards, whatever happens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from bot.services import train as train_service
from recommender import evaluation, versions
from recommender.evaluation import EvalConfig
from recommender.serving import Recommender
from recommender.store import open_store
from sql import frames
from sql.database import Database

MODES = ("hidden", "visible")
Progress = Callable[[str, int, int], None]


async def evaluate(
    db: Database,
    config: train_service.TrainSettings,
    eval_config: EvalConfig = EvalConfig(),
    *,
    popularity: tuple[str, ...] = ("hidden",),
    default_strategy: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    async with db.connection() as conn:
        entries = await frames.playlist_entries_frame(conn)
    split = evaluation.split_playlists(entries, eval_config)
    info, warnings = await evaluation.data_report(db, split)
    runs = {}
    for mode in popularity:
        runs[mode] = await _run(db, config, eval_config, split, mode, default_strategy, progress)
    return {
        "k": eval_config.k,
        "random_seed": eval_config.seed,
        "default_strategy": default_strategy,
        "data": info,
        "warnings": warnings,
        "runs": runs,
    }


async def _run(
    db: Database,
    config: train_service.TrainSettings,
    eval_config: EvalConfig,
    split: evaluation.Split,
    mode: str,
    default_strategy: str | None,
    progress: Progress | None,
) -> dict[str, Any]:
    trained = await train_service.train(
        db,
        replace(config, hide_popularity=mode == "hidden"),
        activate=False,
        prune=False,
        holdout=split.test,
        progress=progress,
    )
    try:
        result = await evaluation.evaluate_version(
            db, Recommender(config.models_dir), trained.version, split, eval_config, progress
        )
    finally:
        await versions.remove(db, config.models_dir, trained.version, open_store(config.store, db))
    result["popularity"] = mode
    result["association"] = trained.meta.get("association", {})
    result["comparisons"] = comparisons(result["methods"], default_strategy, eval_config)
    for metrics in result["methods"].values():
        metrics.pop("per_seed")
    return result


def comparisons(methods: dict[str, Any], default: str | None, config: EvalConfig) -> dict[str, Any]:
    """The default strategy's precision against each baseline, on warm and cold seeds."""
    if default not in methods:
        return {}
    mine = methods[default]["per_seed"]
    out: dict[str, Any] = {}
    for group in ("warm", "cold", "all"):
        kind = "cold" if group == "cold" else "normal"
        mask = mine["normal"]["warm"] if group == "warm" else None
        for other, metrics in methods.items():
            if other == default:
                continue
            a, b = mine[kind], metrics["per_seed"][kind]
            if mask is not None:
                a, b = a[mask], b[mask]
            found = evaluation.ratio(a, b, "precision", config)
            if found is not None:
                out.setdefault(group, {})[other] = found
    return out
