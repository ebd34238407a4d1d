"""Conventions every command follows: one settings load, `--json` output, progress bars,
one-line errors with a non-zero exit status (raised as TuneclusterError, printed by main)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from sql.errors import TuneclusterError

if TYPE_CHECKING:  # the settings, SQLAlchemy and Alembic load only in commands that use them
    from rich.progress import Progress

    from bot.settings import Settings
    from sql.database import Database

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def settings() -> Settings:
    from bot.settings import load_settings

    return load_settings()


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one command's async body on a fresh event loop."""
    import asyncio  # on use: `--help` starts without it

    return asyncio.run(coro)


@asynccontextmanager
async def open_database(
    config: Settings, *, require_schema: bool = True
) -> AsyncIterator[Database]:
    """The configured database, checked reachable and (by default) initialised."""
    from sql.database import Database
    from sql.migrate import head_revision, schema_revision

    db = Database.from_settings(config)
    try:
        if require_schema:
            revision = await schema_revision(db)
            if revision is None:
                raise TuneclusterError(
                    f"no tunecluster schema in {db.location}: run `tunecluster db init` first"
                )
            if revision != head_revision():
                raise TuneclusterError(
                    f"the schema in {db.location} is at revision {revision}, "
                    f"this version needs {head_revision()}: run `tunecluster db init`"
                )
        yield db
    finally:
        await db.dispose()


def emit(result: Any, as_json: bool, render: Callable[[Any], None]) -> None:
    """Print `result` as JSON or through the human renderer."""
    if as_json:
        typer.echo(json.dumps(result, indent=2, default=str, ensure_ascii=False))
    else:
        render(result)


def progress(*, transient: bool = False) -> Progress:
    """The progress bar for long work (drawn on stderr so `--json` output stays clean)."""
    from rich.progress import (  # on use: `--help` starts without it
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=transient,
    )
