"""Optional extras: the MPD reader (pyarrow, msgspec) and plotting (matplotlib) are not
in the base install; a command that needs one says which extra to install, in one line."""

from __future__ import annotations

import importlib
from types import ModuleType

from sql.errors import TuneclusterError

# top-level module -> the extra that brings it
EXTRA_OF = {"pyarrow": "mpd", "msgspec": "mpd", "matplotlib": "plot"}
PURPOSE = {"mpd": "the Million Playlist Dataset reader", "plot": "plotting"}


class MissingExtra(TuneclusterError):
    """A module of an optional extra is not installed."""


def missing_extra(error: ImportError) -> MissingExtra | None:
    """The one-line explanation when `error` is a missing optional extra, else None."""
    top = (getattr(error, "name", None) or "").split(".")[0]
    extra = EXTRA_OF.get(top)
    if extra is None:
        return None
    return MissingExtra(
        f"{PURPOSE[extra]} needs the optional extra `{extra}`: "
        f"pip install 'tunecluster[{extra}]' ({top} is not installed)"
    )


def load(module: str) -> ModuleType:
    """Import `module`, turning a missing extra into its one-line MissingExtra."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        explained = missing_extra(error)
        if explained is None:
            raise
        raise explained from None
