"""`tunecluster jobs`: what the background jobs last did, who holds the scheduler lease,
the discovery schedules; `tunecluster jobs run NAME` runs one job by hand (or from cron),
recorded like a scheduled run."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from bot.cli.common import JsonFlag, console, execute, settings
from sql import clock
from sql.errors import TuneclusterError

if TYPE_CHECKING:  # the services load only for the command that needs them
    from bot.services.jobs import JobOutcome
    from bot.settings import Settings
    from sql.database import Database

JOBS = ("enrich", "ingest", "retrain")

app = typer.Typer(
    help="Background jobs: recent runs, the lease, discovery schedules; run one by hand.",
    invoke_without_command=True,
    no_args_is_help=False,
)


@app.callback()
def jobs_command(
    ctx: typer.Context,
    job: Annotated[
        str | None, typer.Option("--job", help="The history of one job (enrich, discovery...).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Runs shown with --job.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """The newest run of each job (or one job's history), the lease and the schedules."""
    if ctx.invoked_subcommand is not None:
        return
    config = settings()
    from bot.scheduler import LEASE
    from sql import guilds, jobs

    async def body(config: Settings, db: Database) -> dict[str, Any]:
        async with db.connection() as conn:
            runs = await jobs.runs(conn, job, limit) if job else await jobs.last_runs(conn, 50)
            holder = await jobs.lease_holder(conn, LEASE)
            rows = await guilds.discovery_guilds(conn, enabled_only=False)
        now = clock.aware_now()
        return {
            "runs": runs,
            "lease": _lease(holder, now),
            "discovery": [_schedule(row, now) for row in rows],
        }

    execute(body, as_json=as_json, render=_render, config=config)


def _lease(holder: tuple[str, datetime] | None, now: datetime) -> dict[str, Any] | None:
    if holder is None:
        return None
    return {"holder": holder[0], "expires_at": holder[1], "live": clock.to_aware(holder[1]) > now}


def _schedule(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    from bot.services.discovery import Schedule

    schedule = Schedule.from_row(row)
    upcoming = schedule.next_slot(now) if schedule and row["enabled"] else None
    return {
        "guild_id": row["guild_id"],
        "channel_id": row["discovery_channel_id"],
        "schedule": schedule.describe() if schedule else None,
        "buckets": [b for b in (row.get("buckets") or "").split(",") if b],
        "enabled": bool(row["enabled"]),
        "disabled_reason": row.get("disabled_reason"),
        "posts": row.get("posts") or 0,
        "last_post_at": row.get("last_post_at"),
        "next_post_at": upcoming,
    }


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else "—"


def _render(result: dict[str, Any]) -> None:
    table = Table("job", "outcome", "started (UTC)", "took", "holder", "counts / error", box=None)
    for r in result["runs"]:
        took = (
            f"{(r['finished_at'] - r['started_at']).total_seconds():.1f} s"
            if r.get("finished_at")
            else "—"
        )
        counts = ", ".join(f"{k}={v}" for k, v in r["counts"].items())
        detail = "; ".join(part for part in (counts, r.get("error") or "") if part)
        table.add_row(
            r["job"], r["outcome"], _when(r["started_at"]), took, r["holder"] or "", detail
        )
    console.print(table if result["runs"] else "no job has run yet")
    lease = result["lease"]
    if lease is None:
        console.print("lease: nobody has run the global jobs yet")
    else:
        state = "held" if lease["live"] else "expired"
        console.print(
            f"lease: {state} by {lease['holder']} until {_when(lease['expires_at'])} UTC",
            highlight=False,
        )
    for s in result["discovery"]:
        state = (
            f"next {_when(s['next_post_at'])} UTC"
            if s["enabled"]
            else f"off ({s['disabled_reason']})"
        )
        console.print(
            f"discovery guild {s['guild_id']} → channel {s['channel_id']}: {s['schedule']}, "
            f"{', '.join(s['buckets']) or 'rotation'}; {s['posts']} posts; {state}",
            highlight=False,
        )


@app.command("run")
def run_job(
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(JOBS)}.")],
    as_json: JsonFlag = False,
) -> None:
    """Run a background job now, recorded in job_run like a scheduled run (for cron)."""
    if name not in JOBS:
        raise TuneclusterError(f"unknown job {name!r} (one of: {', '.join(JOBS)})")
    config = settings()
    if name == "ingest" and config.watch_dir is None:
        raise TuneclusterError("TUNECLUSTER_WATCH_DIR is not set: there is no folder to ingest")
    from bot.clients import open_clients
    from bot.services.jobs import (
        enrich_catalogue,
        holder_id,
        ingest_watched,
        retrain_if_changed,
        run_recorded,
    )
    from bot.services.train import TrainSettings, train

    async def body(config: Settings, db: Database) -> dict[str, Any]:
        holder = holder_id("cli")
        if name == "enrich":
            async with open_clients(config, db) as (spotify, reccobeats):
                work = partial(enrich_catalogue, db, spotify=spotify, reccobeats=reccobeats)
                outcome = await run_recorded(db, name, holder, work)
        elif name == "ingest":
            work = partial(ingest_watched, db, config.watch_dir)
            outcome = await run_recorded(db, name, holder, work)
        else:
            options = TrainSettings.from_settings(config)
            work = partial(retrain_if_changed, db, options, start=train)
            outcome = await run_recorded(db, name, holder, work)
        assert outcome is not None
        return _outcome(name, outcome)

    result = execute(body, as_json=as_json, render=_render_outcome, config=config)
    if result["outcome"] == "failed":
        raise TuneclusterError(f"{name} failed: {result['error']}")


def _outcome(name: str, outcome: JobOutcome) -> dict[str, Any]:
    return {
        "job": name,
        "outcome": outcome.outcome,
        "counts": outcome.counts,
        "error": outcome.error,
    }


def _render_outcome(r: dict[str, Any]) -> None:
    counts = ", ".join(f"{k}={v}" for k, v in r["counts"].items())
    reason = f" — {r['error']}" if r["error"] and r["outcome"] != "failed" else ""
    console.print(f"{r['job']}: {r['outcome']} ({counts}){reason}", highlight=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="jobs")
