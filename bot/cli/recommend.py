"""`tunecluster recommend` and `tunecluster genres`, against the catalogue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from bot.cli.common import JsonFlag, console, execute, settings
from recommender import strategies
from recommender.taxonomy import display
from sql.errors import TuneclusterError

if TYPE_CHECKING:
    from bot.services.recommend import RecommendSettings
    from bot.settings import Settings
    from recommender.filing import Filing
    from sql.database import Database

TRACK_URL = "https://open.spotify.com/track/"
DEMO_PREFIX = "0DEMO"  # generated demo ids: no Spotify link

# The registered strategies as choices (typer lists an Enum's values in --help).
StrategyName = Enum("StrategyName", {name: name for name in strategies.available()}, type=str)

Text = Annotated[
    str, typer.Argument(metavar="LINK-OR-QUERY", help="Spotify link, URI, id or a name.")
]


@asynccontextmanager
async def _clients(config: Settings, db: Database) -> AsyncIterator[tuple[Any, Any]]:
    """Spotify (and ReccoBeats) only when credentials exist: catalogue-only otherwise."""
    if not config.spotify_configured:
        yield None, None
        return
    from bot.clients import open_clients

    async with open_clients(config, db) as clients:
        yield clients


DEFAULT_PICKS = 3  # bot.services.recommend.DEFAULT_PICKS (not imported: it loads numpy)
OptionalText = Annotated[
    str | None,
    typer.Argument(metavar="LINK-OR-QUERY", help="Spotify link, URI, id or a name."),
]


def recommend(
    text: OptionalText = None,
    n: Annotated[
        int,
        typer.Option(
            "-n", "--number", min=1, max=50, help="How many picks (1–50; the bot's default)."
        ),
    ] = DEFAULT_PICKS,
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--from-file",
            metavar="PATH",
            help="Many seeds, one link or name per line (# comments), in one process.",
        ),
    ] = None,
    strategy: Annotated[
        StrategyName | None,
        typer.Option(
            "--strategy",
            help="How picks are found (default: TUNECLUSTER_STRATEGY; see docs/recommender.md).",
        ),
    ] = None,
    bucket: Annotated[
        str | None, typer.Option("--bucket", help="Only pick from this one of its genre buckets.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Recommend tracks like LINK-OR-QUERY (or each line of --from-file), each with why."""
    if (text is None) == (from_file is None):
        raise typer.BadParameter("give LINK-OR-QUERY or --from-file PATH (one of them)")
    seeds = [text] if text is not None else _seeds(from_file)
    from bot.services import recommend as recommend_service  # heavy: only when used

    config = settings()
    options = recommend_service.RecommendSettings.from_settings(config)
    many = from_file is not None
    chosen = strategy.value if strategy else None

    async def body(config: Settings, db: Database) -> dict[str, Any] | list[dict[str, Any]]:
        answers = await _answers(db, config, options, seeds, many, n, chosen, bucket)
        return answers if many else answers[0]

    render = _render_many if many else _render_recommendation
    results = execute(body, as_json=as_json, render=render, config=config)
    if many and any("error" in r for r in results):
        raise typer.Exit(1)


async def _answers(
    db: Database,
    config: Settings,
    options: RecommendSettings,
    seeds: list[str],
    keep_going: bool,
    n: int,
    strategy: str | None,
    bucket: str | None,
) -> list[dict[str, Any]]:
    """Each seed's recommendation as its JSON form, `input` first; with `keep_going`, a
    seed that fails is an `error` entry instead of the command's error."""
    from bot.services import recommend as recommend_service
    from recommender.serving import Recommender
    from recommender.store import model_store

    out = []
    async with _clients(config, db) as (spotify, recco):
        recommender = Recommender(options.models_dir, model_store(config, db))
        for seed in seeds:
            try:
                result = await recommend_service.recommend(
                    db,
                    recommender,
                    seed,
                    options,
                    n=n,
                    strategy=strategy,
                    bucket=bucket,
                    spotify=spotify,
                    reccobeats=recco,
                    max_n=50,
                )
            except TuneclusterError as error:
                if not keep_going:
                    raise
                out.append({"input": seed, "error": str(error)})
                continue
            out.append({"input": seed, **result.to_dict()})
    return out


def _seeds(path: Path | None) -> list[str]:
    """The non-empty, non-comment lines of `path` (a one-line error when unreadable)."""
    assert path is not None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise TuneclusterError(f"cannot read {path}: {error}") from None
    seeds = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not seeds:
        raise TuneclusterError(f"{path} holds no seed (one link or name per line)")
    return seeds


def _render_many(results: list[dict[str, Any]]) -> None:
    for r in results:
        console.rule(r["input"])
        if "error" in r:
            console.print(f"error: {r['error']}", style="red", highlight=False, markup=False)
        else:
            _render_recommendation(r)


def genres(text: Text, as_json: JsonFlag = False) -> None:
    """Show how LINK-OR-QUERY is filed: its genres (its own, else its artists'), their
    buckets, its clusters."""
    from bot.services import genres as genres_service  # heavy: only when used
    from recommender.serving import Recommender
    from recommender.store import model_store

    async def body(config: Settings, db: Database) -> Filing:
        async with _clients(config, db) as (spotify, recco):
            return await genres_service.genres(
                db,
                Recommender(config.models_dir, model_store(config, db)),
                text,
                genre_map_file=config.genre_map_file,
                spotify=spotify,
                reccobeats=recco,
            )

    execute(body, as_json=as_json, render=_render_genres)


def _title(track: dict[str, Any]) -> str:
    by = f" by {', '.join(track['artists'])}" if track["artists"] else ""
    return f"“{track['name']}”{by}"


def _render_recommendation(r: dict[str, Any]) -> None:
    placed = ", ".join(
        f"{display(p['bucket'])} (cluster {p['cluster']}, {p['cluster_size']:,} tracks)"
        for p in r["placements"]
    )
    console.print(f"{_title(r['track'])}: {placed}", highlight=False)
    if r["unmodelled_buckets"]:
        console.print(f"no model for: {', '.join(map(display, r['unmodelled_buckets']))}")
    if not r["picks"]:
        console.print(r.get("short_reason") or "no pick left after the exclusions")
        return
    table = Table("#", "pick", "why", "bucket·cluster", "dist.", "input → pick", box=None)
    for i, pick in enumerate(r["picks"], start=1):
        close = "\n".join(
            f"{s['feature']} {_value(s['input'])}→{_value(s['pick'])}" for s in pick["similar"]
        )
        link = (
            "" if pick["track_id"].startswith(DEMO_PREFIX) else f"\n{TRACK_URL}{pick['track_id']}"
        )
        table.add_row(
            str(i),
            f"{_title(pick)}{link}",
            _basis(pick),
            f"{display(pick['bucket'])}·{pick['cluster']}",
            f"{pick['distance']:.2f}",
            close,
        )
    console.print(table)
    if r.get("short_reason"):
        console.print(r["short_reason"])
    console.print(f"strategy {r['strategy']}, model {r['model_version']}", style="dim")


def _basis(pick: dict[str, Any]) -> str:
    if pick.get("basis") == "played-together":
        shared = pick["shared_playlists"]
        return f"played together ({shared} playlist{'s' if shared != 1 else ''})"
    return "same sound"


def _value(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:.0f}" if abs(value) >= 20 else f"{value:.2f}"


def _render_genres(r: dict[str, Any]) -> None:
    console.print(_title(r["track"]), highlight=False)
    if not r["genres"]:
        console.print("neither the track nor its artists carry a genre: it is in no bucket")
    elif r.get("genres_from") == "track":
        console.print("filed by the track's own genres (its artists' are not used)")
    else:
        console.print("filed by its artists' genres (the track has none of its own)")
    table = Table("genre", "buckets", box=None)
    for g in r["genres"]:
        table.add_row(g["genre"], ", ".join(map(display, g["buckets"])))
    console.print(table)
    if r["buckets"]:
        console.print(f"buckets: {', '.join(map(display, r['buckets']))} (rules: {r['taxonomy']})")
    for p in r["placements"]:
        console.print(
            f"{display(p['bucket'])}: cluster {p['cluster']} of model {r['model_version']}"
            f" ({p['cluster_size']:,} tracks)"
        )
    if r["reason"]:
        console.print(f"not placed: {r['reason']}")


def register(root: typer.Typer) -> None:
    root.command("recommend")(recommend)
    root.command("genres")(genres)
