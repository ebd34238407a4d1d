"""Seconds per named phase of a long piece of work (training, a bucket's fit), in the
order the phases ran: what the reports and the model's meta show."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class Timings:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}  # a plain dict: it goes into bundles and meta

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the block as `name` (a phase that raises is not recorded)."""
        clock = time.perf_counter()
        yield
        self.seconds[name] = time.perf_counter() - clock
