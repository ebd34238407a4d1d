"""The strategies: one registered object each, found by name.

A strategy proposes candidates for a placed track in rounds, best first and each round
wider than the last; `recommender.picking.Picker` does the rest (exclusions, variety,
explanations). Settings validation, the command line's `--strategy` choices,
`tunecluster evaluate` and the docs' table all read this registry, so adding a strategy
is one module in this package, named like the strategy (`cluster_nearest.py` for
`cluster-nearest`), which registers itself on import, and its tests.

This package imports nothing heavy itself: `available()` lists the names from the module
names (what the command line's help and the settings need), and the modules load on the
first `get()`, `names()` or `described()`.
"""

from __future__ import annotations

import importlib
import pkgutil
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recommender.picking import Pick, Picker, Round

DEFAULT = "hybrid"
_REGISTRY: dict[str, Strategy] = {}
_loaded = False


class Strategy(ABC):
    """How picks are found. `name` is what settings and commands use; `help` one line."""

    name: str
    help: str
    needs_playlists: bool = False  # learns from the catalogue's playlists

    @abstractmethod
    def rounds(self, picker: Picker) -> AsyncIterator[Round]:
        """Candidates in rounds, best first (an async generator)."""

    async def pick(self, picker: Picker) -> list[Pick]:
        chosen = await picker.choose(self.rounds(picker))
        return [picker.pick(c) for c in chosen]


def register(cls: type[Strategy]) -> type[Strategy]:
    """Class decorator: one instance of the strategy joins the registry."""
    instance = cls()
    if instance.name in _REGISTRY:
        raise ValueError(f"strategy {instance.name!r} is registered twice")
    _REGISTRY[instance.name] = instance
    return cls


def available() -> tuple[str, ...]:
    """The strategies' names from their modules' names, without importing them; the
    default first."""
    found = [m.name.replace("_", "-") for m in pkgutil.iter_modules(__path__)]
    return _ordered(found)


def get(name: str) -> Strategy | None:
    _load()
    return _REGISTRY.get(name)


def names() -> tuple[str, ...]:
    """Registered names, the default first."""
    _load()
    return _ordered(_REGISTRY)


def described() -> dict[str, str]:
    return {name: _REGISTRY[name].help for name in names()}


def _ordered(found) -> tuple[str, ...]:
    return tuple(sorted(found, key=lambda n: (n != DEFAULT, n)))


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{module.name}")
