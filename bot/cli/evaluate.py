"""`tunecluster evaluate`: every strategy and baseline on held-out playlists."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from bot.cli.common import JsonFlag, console, err_console, execute, reporting

if TYPE_CHECKING:
    from bot.settings import Settings
    from sql.database import Database


class Popularity(StrEnum):
    hidden = "hidden"
    visible = "visible"
    both = "both"


COLUMNS = (
    ("precision@k", "precision"),
    ("any-hit@k", "any_hit"),
    ("recall@k", "recall"),
    ("NDCG@k", "ndcg"),
    ("same artist", "same_artist"),
    ("2+ by one artist", "artist_repeat"),
)


def evaluate_command(
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Seeds, at most.")] = 1000,
    k: Annotated[int, typer.Option("-k", min=1, max=50, help="Picks per seed.")] = 10,
    seed: Annotated[int, typer.Option("--random-seed", help="Split and sampling seed.")] = 0,
    test_share: Annotated[
        float, typer.Option("--test-share", min=0.05, max=0.5, help="Playlists held out.")
    ] = 0.2,
    popularity: Annotated[
        Popularity,
        typer.Option(
            help="Train with popularity hidden (as a 2026 app sees it), visible, or both."
        ),
    ] = Popularity.hidden,
    as_json: JsonFlag = False,
) -> None:
    """Split the playlists (by playlist), train on the train share, and score every
    strategy and baseline on the held-out ones: precision, any-hit, recall and NDCG @k
    with 95 % intervals, warm and cold seeds apart, artist variety, repeats, coverage."""
    from bot.services import evaluate as evaluate_service  # heavy: only when used
    from bot.services.train import TrainSettings
    from recommender.evaluation import EvalConfig

    modes = ("hidden", "visible") if popularity is Popularity.both else (popularity.value,)

    async def body(config: Settings, db: Database) -> dict[str, Any]:
        scoring = EvalConfig(
            seeds=seeds,
            k=k,
            seed=seed,
            test_share=test_share,
            max_per_artist=config.max_picks_per_artist,
            plays_weight=config.hybrid_plays_weight,
        )
        with reporting("evaluating") as report:
            result = await evaluate_service.evaluate(
                db,
                TrainSettings.from_settings(config),
                scoring,
                popularity=modes,
                default_strategy=config.strategy,
                progress=report,
            )
        if as_json:  # the table prints its warnings itself; JSON keeps stdout clean
            for warning in result["warnings"]:
                err_console.print(f"warning: {warning}", style="yellow", highlight=False)
        return result

    execute(body, as_json=as_json, render=render)


def render(r: dict[str, Any], *, brief: bool = False) -> None:
    data = r["data"]
    console.print(
        f"{data['train_playlists']:,} train / {data['test_playlists']:,} test playlists"
        f" ({', '.join(f'{k} {v}' for k, v in data['playlist_sources'].items())});"
        f" genre sources: {', '.join(data['genre_sources']) or 'none'}",
        highlight=False,
    )
    for mode, run_ in r["runs"].items():
        for group in ("all",) if brief else ("warm", "cold", "all"):
            _table(r, run_, mode, group, brief)
        _comparisons(r, run_)
    for warning in r["warnings"]:
        console.print(f"warning: {warning}", style="yellow", highlight=False)


def _table(r: dict[str, Any], run_: dict[str, Any], mode: str, group: str, brief: bool) -> None:
    k = r["k"]
    seeds = {"all": run_["seeds"], "warm": run_["warm_seeds"], "cold": run_["cold_seeds"]}[group]
    console.print(
        f"\n{group} seeds ({seeds:,}), popularity {mode}, model {run_['model_version']}",
        style="bold",
        highlight=False,
    )
    columns = COLUMNS[:2] if brief else COLUMNS
    extra = () if brief else ("repeat", "coverage")
    table = Table("method", *(n.replace("@k", f"@{k}") for n, _ in columns), *extra, box=None)
    for method, metrics in run_["methods"].items():
        label = f"{method} (default)" if method == r.get("default_strategy") else method
        part = metrics[group]
        cells = ["-"] * len(columns) if part is None else [_ci(part[key]) for _, key in columns]
        more = [] if brief else [_num(metrics["repeat_rate"]), _num(metrics["coverage"])]
        table.add_row(label, *cells, *more)
    console.print(table)


def _comparisons(r: dict[str, Any], run_: dict[str, Any]) -> None:
    default = r.get("default_strategy")
    for group, others in run_["comparisons"].items():
        parts = [
            f"{o} {c['ratio']:.2f}× [{c['low']:.2f}–{c['high']:.2f}]" for o, c in others.items()
        ]
        console.print(f"{default} precision vs ({group}): " + "; ".join(parts), highlight=False)


def _ci(value: dict[str, float]) -> str:
    return f"{value['mean']:.3f} [{value['low']:.3f}–{value['high']:.3f}]"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def register(root: typer.Typer) -> None:
    root.command("evaluate")(evaluate_command)
