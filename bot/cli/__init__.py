"""The `tunecluster` command line. Each command group lives in its own module and
registers itself here; `main` turns expected failures into one line and exit status 1."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from bot import __version__
from bot.cli import (
    db,
    demo,
    discovery,
    eda,
    enrich,
    evaluate,
    feedback,
    importing,
    jobs,
    recommend,
    run,
    stats,
    train,
)
from bot.cli.common import err_console
from sql.errors import TuneclusterError

app = typer.Typer(
    name="tunecluster",
    help="Music recommendations by per-genre clustering, for Discord communities.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

for module in (
    db,
    stats,
    enrich,
    importing,
    eda,
    run,
    demo,
    train,
    recommend,
    evaluate,
    jobs,
    discovery,
    feedback,
):
    module.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tunecluster {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Log details and full tracebacks.")
    ] = False,
) -> None:
    """Music recommendations by per-genre clustering, for Discord communities."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def main() -> None:
    """Entry point: expected failures print one line on stderr and exit 1."""
    debug = "--debug" in sys.argv
    try:
        app(standalone_mode=False)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except TuneclusterError as error:
        _fail(str(error), debug)
    except KeyboardInterrupt:
        err_console.print("interrupted", style="red", highlight=False)
        sys.exit(130)
    except Exception as error:  # a bug: still one line, the traceback with --debug
        if debug:
            raise
        _fail(f"unexpected {type(error).__name__}: {error} (rerun with --debug for details)", debug)


def _fail(message: str, debug: bool) -> None:
    if debug:
        logging.getLogger("tunecluster").exception(message)
    err_console.print(f"error: {message}", style="red", highlight=False, soft_wrap=True)
    sys.exit(1)
