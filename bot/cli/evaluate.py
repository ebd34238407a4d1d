"""`tunecluster evaluate`: every strategy and baseline on a playlist co-membership hold-out."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from bot.cli.common import (
    JsonFlag,
    console,
    emit,
    err_console,
    open_database,
    progress,
    run,
    settings,
)

COLUMNS = (
    ("hit@1", "hit_rate_at_1", "{:.3f}"),
    ("hit@k", "hit_rate_at_k", "{:.3f}"),
    ("lift", "lift_over_random_in_bucket", "{:.2f}×"),
    ("artist hit@k", "artist_hit_rate_at_k", "{:.3f}"),
    ("coverage", "coverage", "{:.3f}"),
    ("same artist", "same_artist_rate", "{:.3f}"),
    ("repeat", "repeat_rate", "{:.3f}"),
    ("distance", "mean_feature_distance", "{:.2f}"),
    ("popularity", "mean_pick_popularity", "{:.1f}"),
)


def evaluate_command(
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Seed tracks sampled.")] = 1000,
    k: Annotated[int, typer.Option("-k", min=1, max=50, help="Picks per seed.")] = 10,
    seed: Annotated[int, typer.Option("--random-seed", help="Sampling seed.")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Hit rate @1/@k (a pick shares a playlist with the seed), artist hits, coverage,
    same-artist and repeat rates, feature distance — for every strategy and baseline."""
    from recommender.evaluation import EvalConfig, evaluate  # heavy: only when used
    from recommender.serving import Recommender

    config = settings()

    async def body() -> dict[str, Any]:
        async with open_database(config) as db:
            with progress() as bar:
                task = bar.add_task("evaluating", total=None)

                def report(what: str, done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                result = await evaluate(
                    db,
                    Recommender(config.models_dir),
                    EvalConfig(seeds=seeds, k=k, seed=seed),
                    progress=report,
                )
            result["default_strategy"] = config.strategy
            return result

    result = run(body())
    if as_json:  # the table prints its warnings itself; JSON keeps stdout clean
        for warning in result["warnings"]:
            err_console.print(f"warning: {warning}", style="yellow", highlight=False)
    emit(result, as_json, render)


BRIEF = ("hit@1", "hit@k", "lift", "coverage", "repeat")


def render(r: dict[str, Any], *, brief: bool = False) -> None:
    data = r["data"]
    console.print(
        f"model {r['model_version']}: {r['seeds']:,} seeds, k = {r['k']}, "
        f"{data['trained_tracks']:,} trained tracks, {data['playlists']:,} playlists "
        f"({', '.join(f'{k} {v}' for k, v in data['playlist_sources'].items())}); "
        f"genre sources: {', '.join(data['genre_sources']) or 'none'}",
        highlight=False,
    )
    columns = [c for c in COLUMNS if not brief or c[0] in BRIEF]
    headers = [name.replace("@k", f"@{r['k']}") for name, _, _ in columns]
    table = Table("method", *headers, box=None)
    for method, metrics in r["methods"].items():
        label = f"{method} (default)" if method == r.get("default_strategy") else method
        cells = [
            "-" if metrics.get(key) is None else fmt.format(metrics[key]) for _, key, fmt in columns
        ]
        table.add_row(label, *cells)
    console.print(table)
    for warning in r["warnings"]:
        console.print(f"warning: {warning}", style="yellow", highlight=False)


def register(root: typer.Typer) -> None:
    root.command("evaluate")(evaluate_command)
