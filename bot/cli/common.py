"""Conventions every command follows: one settings load, `--json` output, progress bars,
one-line errors with a non-zero exit status (raised as TuneclusterError, printed by main).

A command is its options, a `body(config, db)` that calls a service, and a renderer:
`execute` does the rest (settings → database → emit). Heavy libraries load inside the
body or the command, never here: `tunecluster --help` must start fast."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Annotated, Any, Protocol, TypeVar, runtime_checkable

import typer
from rich.console import Console

from sql.errors import TuneclusterError

if TYPE_CHECKING:  # the settings, SQLAlchemy and Alembic load only in commands that use them
    from rich.progress import Progress

    from bot.settings import Settings
    from sql.database import Database

T = TypeVar("T")
Report = Callable[[str, int, int], None]  # what services call with (step, done, total)

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


@runtime_checkable
class Serialisable(Protocol):
    """A service's result: a dataclass whose `to_dict()` is its `--json` form."""

    def to_dict(self) -> dict[str, Any]: ...


def execute(
    body: Callable[[Settings, Database], Awaitable[Any]],
    *,
    as_json: bool,
    render: Callable[[Any], None],
    config: Settings | None = None,
    require_schema: bool = True,
) -> Any:
    """The skeleton every command shares: the settings (loaded here unless given), the
    database opened (its schema checked unless `require_schema=False`) for `body`, and
    what it returns emitted as JSON or through `render` (a `Serialisable` as its
    `to_dict()`). Returns what was emitted, for an exit status decided on it."""
    config = config if config is not None else settings()

    async def opened() -> Any:
        async with open_database(config, require_schema=require_schema) as db:
            return await body(config, db)

    result = run(opened())
    data = result.to_dict() if isinstance(result, Serialisable) else result
    emit(data, as_json, render)
    return data


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


@contextmanager
def reporting(description: str, *, prefix: str = "", transient: bool = False) -> Iterator[Report]:
    """A progress bar with one task, and the callback services take to move it: each
    `(step, done, total)` shows `prefix + step` with its count."""
    with progress(transient=transient) as bar:
        task = bar.add_task(description, total=None)

        def report(step: str, done: int, total: int) -> None:
            bar.update(task, description=f"{prefix}{step}", completed=done, total=total)

        yield report
