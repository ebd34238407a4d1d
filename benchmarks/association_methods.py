"""Association scores compared on held-out playlists (docs/recommender.md §4).

One split of the catalogue's playlists (as `tunecluster evaluate`), one model trained
with the test playlists held out and popularity hidden; then, for each score, the
association is refitted on the same training sessions and the hybrid and pure
co-occurrence are scored on the same seeds. Uses the configured database:

    TUNECLUSTER_DATABASE_URL=sqlite+aiosqlite:///data/corpus-100k.db \\
        python benchmarks/association_methods.py --seeds 500 counts cosine pmi
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.services import train as train_service  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from recommender import evaluation, versions  # noqa: E402
from recommender.association import AssociationConfig, fit_codes  # noqa: E402
from recommender.evaluation import EvalConfig  # noqa: E402
from recommender.serving import Recommender  # noqa: E402
from sql import frames  # noqa: E402
from sql.database import Database  # noqa: E402


async def main(methods: list[str], seeds: int) -> None:
    settings = load_settings()
    db = Database(settings.database_url)
    config = train_service.TrainSettings.from_settings(settings)
    eval_config = EvalConfig(seeds=seeds, strategies=("hybrid",), bootstrap=300)
    async with db.connection() as conn:
        entries = await frames.playlist_entries_frame(conn)
    split = evaluation.split_playlists(entries, eval_config)
    trained = await train_service.train(
        db, replace(config, hide_popularity=True), activate=False, prune=False, holdout=split.test
    )
    recommender = Recommender(config.models_dir)
    bundle = recommender.bundle(trained.version)
    assert bundle.layout is not None
    sessions = await train_service.training_sessions(db, bundle.layout.ids, split.test)
    try:
        for method in methods:
            bundle.association = fit_codes(
                *sessions, bundle.layout.ids, AssociationConfig(method=method)
            )
            result = await evaluation.evaluate_version(
                db, recommender, trained.version, split, eval_config
            )
            row = {
                name: {"warm_precision": m["warm"]["precision"]["mean"], "coverage": m["coverage"]}
                for name, m in result["methods"].items()
                if name in ("hybrid", "co-occurrence") and m["warm"]
            }
            print(method, json.dumps(row), flush=True)
    finally:
        await versions.remove(db, config.models_dir, trained.version)
        await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("methods", nargs="+", choices=("counts", "cosine", "pmi"))
    parser.add_argument("--seeds", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(main(args.methods, args.seeds))
