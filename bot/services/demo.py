"""`demo`: the whole product offline, on a generated catalogue in its own SQLite file.

It never touches the configured database or models folder: it rebuilds
`data/demo.db` and `data/demo-models/` from scratch every run (the generated catalogue
is deterministic, so every run prints the same thing), trains with the default
settings through the real training service, and recommends for a few demo tracks.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.services import evaluate as evaluate_service
from bot.services import train as train_service
from bot.settings import DEFAULT_FEATURES
from pipeline.curation import CurationFilters
from recommender import demo_catalogue, evaluation, strategies
from recommender.serving import Options, Recommender
from sql.database import Database
from sql.migrate import init_schema

DEMO_DB = Path("data") / "demo.db"
DEMO_MODELS = Path("data") / "demo-models"
SHOWN_BUCKETS = ("rock", "hip hop", "jazz", "latin", "others")


@dataclass(frozen=True)
class DemoSettings:
    database: Path = DEMO_DB
    models_dir: Path = DEMO_MODELS
    tracks: int = 3000
    picks: int = 3
    evaluation_seeds: int = 100


def _fresh(settings: DemoSettings) -> None:
    """Remove the demo's own files (and only those) so every run starts the same."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{settings.database}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(settings.models_dir, ignore_errors=True)


async def run_demo(settings: DemoSettings = DemoSettings(), progress=None) -> dict[str, Any]:
    started = time.perf_counter()
    _fresh(settings)
    db = Database(f"sqlite+aiosqlite:///{settings.database}")
    try:
        await init_schema(db)
        catalogue = demo_catalogue.generate(settings.tracks)
        counts = await demo_catalogue.write(db, catalogue)
        config = train_service.TrainSettings(
            models_dir=settings.models_dir,
            models_keep=1,
            features=DEFAULT_FEATURES,
            curation=CurationFilters(),
        )
        trained = await train_service.train(db, config, progress=progress)
        recommender = Recommender(settings.models_dir)
        rng = np.random.default_rng(0)
        shown = []
        for track_id in _examples(catalogue, trained.meta):
            async with db.connection() as conn:
                result = await recommender.recommend(
                    conn, track_id, Options(n=settings.picks), rng=rng
                )
            shown.append(result.to_dict())
        scores = await evaluate_service.evaluate(
            db,
            config,
            evaluation.EvalConfig(seeds=settings.evaluation_seeds, repeat_seeds=30),
            default_strategy=strategies.DEFAULT,
        )
    finally:
        await db.dispose()
    return {
        "catalogue": demo_catalogue.LABEL,
        "database": str(settings.database),
        "models_dir": str(settings.models_dir),
        "generated": counts,
        "training": trained.to_dict(),
        "recommendations": shown,
        "evaluation": scores,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _examples(catalogue: demo_catalogue.DemoCatalogue, meta: dict[str, Any]) -> list[str]:
    """One trained demo track from each of a few buckets (deterministic)."""
    trained_buckets = meta["buckets"]
    truth = catalogue.truth
    years = {a["album_id"]: a["release_date"][:4] for a in catalogue.albums}
    ok = {
        t["track_id"]
        for t in catalogue.tracks
        if 2010 <= int(years[t["album_id"]]) <= 2019 and t["popularity"] >= 30
    }
    chosen = []
    for bucket in SHOWN_BUCKETS:
        if bucket not in trained_buckets:
            continue
        candidates = truth[(truth["bucket"] == bucket) & truth["track_id"].isin(ok)]
        if len(candidates):
            chosen.append(str(candidates["track_id"].iloc[0]))
    return chosen
