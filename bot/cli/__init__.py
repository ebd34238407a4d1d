"""The `tunecluster` command line. Each command group lives in its own module and
registers itself here; `main` turns expected failures into one line and exit status 1."""

from __future__ import annotations

import logging
import re
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
    setup,
    stats,
    train,
)
from bot.cli.common import err_console
from pipeline.extras import missing_extra
from sql.errors import TuneclusterError

# The commands in the order a new operator meets them, each with an example.
WORKFLOW: dict[str, dict[str, str]] = {
    "1. Get started": {
        "setup": "tunecluster setup --datasets tidytuesday",
        "demo": "tunecluster demo --tracks 3000",
        "db": "tunecluster db init",
    },
    "2. Bring in music": {
        "import": "tunecluster import tidytuesday spotify_songs.csv",
        "ingest-mpd": "tunecluster ingest-mpd data/mpd/ --workers 2",
        "enrich": "tunecluster enrich --types features --limit 1000",
        "stats": "tunecluster stats --curation",
        "eda": "tunecluster eda --out eda/",
    },
    "3. Train and try": {
        "train": "tunecluster train",
        "recommend": 'tunecluster recommend "teen spirit" -n 5',
        "genres": "tunecluster genres https://open.spotify.com/track/5ghIJDpPoe3CfHMGu71E6T",
        "evaluate": "tunecluster evaluate",
    },
    "4. Run the Discord bot": {
        "run": "tunecluster run",
        "sync-commands": "tunecluster sync-commands --guild 123456789012345678",
        "jobs": "tunecluster jobs run enrich",
        "discovery": "tunecluster discovery post 123456789012345678",
    },
}


app = typer.Typer(
    name="tunecluster",
    suggest_commands=True,
    help="Music recommendations by per-genre clustering, for Discord communities.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

for module in (
    setup,
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


def _arrange(root: typer.Typer) -> None:
    """Workflow order, a help panel per stage and an example in each command's help."""
    place: dict[str, tuple[str, int, str]] = {}
    for panel, group in WORKFLOW.items():
        for name, example in group.items():
            place[name] = (panel, len(place), example)
    for info in [*root.registered_commands, *root.registered_groups]:
        name = info.name if info.name else None
        if name in place:
            panel, _, example = place[name]
            info.rich_help_panel = panel
            info.epilog = info.epilog or f"Example: {example}"
    root.registered_commands.sort(key=lambda info: place.get(info.name or "", ("", 999, ""))[1])


_arrange(app)


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
    """Entry point: expected failures print one line on stderr and exit 1 (2 for usage)."""
    debug = "--debug" in sys.argv
    try:
        _check_arguments(sys.argv[1:])
        status = app(standalone_mode=False)  # a command's typer.Exit(n) comes back as n
        if isinstance(status, int) and status:
            sys.exit(status)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        err_console.print("interrupted", style="red", highlight=False)
        sys.exit(130)
    except typer.TyperException as error:  # a usage error: bad option, unknown command
        err_console.print(
            f"error: {usage_message(error)}",
            style="red",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
        sys.exit(getattr(error, "exit_code", 2))
    except TuneclusterError as error:
        _fail(str(error), debug)
    except ImportError as error:  # an optional extra (mpd, plot) that is not installed
        missing = missing_extra(error)
        if missing is None:
            _fail(f"unexpected {type(error).__name__}: {error}", debug)
        _fail(str(missing), debug)
    except UnicodeError as error:  # text that is not UTF-8 reached a file or the database
        _fail(f"text that is not valid UTF-8: {error.reason} ({error.encoding})", debug)
    except KeyboardInterrupt:
        err_console.print("interrupted", style="red", highlight=False)
        sys.exit(130)
    except Exception as error:  # a bug: still one line, the traceback with --debug
        if debug:
            raise
        _fail(f"unexpected {type(error).__name__}: {error} (rerun with --debug for details)", debug)


def usage_message(error: Exception) -> str:
    """One line that names the option: "`-n` must be at most 50"."""
    message = getattr(error, "message", None) or str(error)
    param = getattr(error, "param", None)
    if type(error).__name__ == "MissingParameter" and param is not None:
        name = getattr(param, "metavar", None) or param.human_readable_name
        return f"missing {name} (see --help)"
    if isinstance(error, typer.BadParameter) and param is not None:
        opts = getattr(param, "opts", None) or [param.human_readable_name]
        name = min(opts, key=len)
        return f"`{name}` {_plain(message)}"
    return message.rstrip(".") + " (tunecluster --help lists the commands and options)"


_BOUNDS = (
    (re.compile(r"less than or equal to (\S+)"), "must be at most {}"),
    (re.compile(r"greater than or equal to (\S+)"), "must be at least {}"),
    (re.compile(r"less than (\S+)"), "must be below {}"),
    (re.compile(r"greater than (\S+)"), "must be above {}"),
    (re.compile(r"valid integer"), "must be a whole number"),
    (re.compile(r"valid number"), "must be a number"),
)


def _plain(message: str) -> str:
    """Pydantic's "Input should be less than or equal to 50" as "must be at most 50"."""
    for pattern, text in _BOUNDS:
        found = pattern.search(message)
        if found:
            return text.format(*found.groups())
    return message[0].lower() + message[1:] if message else "is not valid"


def _check_arguments(arguments: list[str]) -> None:
    """An argument the terminal passed in another encoding than UTF-8 (Python keeps its
    bytes as surrogates): refused here, not when the database cannot store it."""
    for position, argument in enumerate(arguments, 1):
        try:
            argument.encode("utf-8")
        except UnicodeEncodeError:
            shown = argument.encode("utf-8", "replace").decode("utf-8")
            raise TuneclusterError(
                f"argument {position} ({shown!r}) is not valid UTF-8: "
                "set the terminal to UTF-8 (for example LANG=C.UTF-8)"
            ) from None


def _fail(message: str, debug: bool) -> None:
    if debug:
        logging.getLogger("tunecluster").exception(message)
    err_console.print(
        f"error: {message}", style="red", highlight=False, soft_wrap=True, markup=False
    )
    sys.exit(1)
