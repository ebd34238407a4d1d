"""`tunecluster feedback report` (strategy arms compared on members' reactions) and
`tunecluster feedback delete-guild` (an operator erases everything kept about a guild)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from bot.cli.common import JsonFlag, console, execute
from sql.errors import TuneclusterError

if TYPE_CHECKING:
    from bot.settings import Settings
    from sql.database import Database

app = typer.Typer(help="Members' reactions to picks: the report, a guild's deletion.")


def _rate(rate: dict[str, Any]) -> str:
    if rate["rate"] is None:
        return "—"
    low, high = rate["ci95"]
    return f"{rate['rate']:.1%} [{low:.1%}, {high:.1%}]"


@app.command("report")
def report_command(as_json: JsonFlag = False) -> None:
    """Per arm and strategy: answers, picks, reactions, like / more-like-this / dislike
    rates per pick with 95 % intervals, and the picks per arm needed to tell arms apart."""
    from bot.services import feedback

    async def body(config: Settings, db: Database) -> dict[str, Any]:
        result = await feedback.report(db)
        result["arms"] = list(config.strategy_arms) or [feedback.ARMS_OFF]
        result["shares"] = list(config.strategy_arm_shares)
        return result

    def render(result: dict[str, Any]) -> None:
        if not result["groups"]:
            console.print("No picks with feedback buttons yet.")
            return
        table = Table(
            "arm", "strategy", "answers", "picks", "reactions", "👍 like", "more like this",
            "👎 dislike", box=None,
        )  # fmt: skip
        for g in result["groups"]:
            rates = g["rates"]
            table.add_row(
                g["arm"], g["strategy"], f"{g['answers']:,}", f"{g['picks']:,}",
                f"{g['reactions']:,}", _rate(rates["like"]), _rate(rates["more"]),
                _rate(rates["dislike"]),
            )  # fmt: skip
        console.print(table)
        if result["comparisons"]:
            compared = Table(
                "arm vs control", "rate", "difference", "p", "picks/arm needed", "have",
                box=None,
            )  # fmt: skip
            for c in result["comparisons"]:
                needed = c["picks_per_arm_needed"]
                compared.add_row(
                    f"{c['arm']} vs {c['control']}", c["rate"], f"{c['difference']:+.1%}",
                    "—" if c["p_value"] is None else f"{c['p_value']:.3g}",
                    "—" if needed is None else f"{needed:,}", f"{c['picks_per_arm_now']:,}",
                )  # fmt: skip
            console.print(compared)
        console.print("Rates are per pick shown; intervals are Wilson 95 %.")

    execute(body, as_json=as_json, render=render)


@app.command("delete-guild")
def delete_guild_command(
    guild: Annotated[int, typer.Argument(help="The guild (server) id.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do it (without: say what would go).")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Delete everything kept about a guild and its members: reactions, picks shown,
    the recommendation log and the guild's settings (discovery schedule)."""
    from bot.services import feedback

    if guild <= 0:
        raise TuneclusterError(f"a guild id is a positive number, not {guild}")
    if not yes:
        raise TuneclusterError(
            f"this deletes every reaction, pick, log row and setting of guild {guild}:"
            " rerun with --yes"
        )

    async def body(config: Settings, db: Database) -> dict[str, Any]:
        return {"guild_id": guild, "deleted": await feedback.delete_guild_data(db, guild)}

    def render(result: dict[str, Any]) -> None:
        rows = ", ".join(f"{table} {count:,}" for table, count in result["deleted"].items())
        console.print(f"Deleted guild {result['guild_id']}'s data: {rows} rows.")

    execute(body, as_json=as_json, render=render)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="feedback")
