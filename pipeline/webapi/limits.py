"""One shared pace and one shared pause for every request to a service.

The pace is a schedule of send slots on an absolute timeline, 1/rate apart (the
"virtual scheduling" form of GCRA): a request reserves the next free slot and sleeps
until it. Not aiolimiter: its leaky bucket with a capacity of one loses each timer's
overshoot (measured 80 % of the allowed rate at 100 requests/s on this machine), and a
larger capacity allows bursts that break a sliding-window count such as Spotify's. A
slot schedule keeps both: late wake-ups do not push later slots back, and idle time
earns no burst. A small headroom keeps network jitter from pushing arrivals over the
server's count. The pause (the cool-down after a 429) is shared too: when one request
learns that the service wants a break, every other request waits for the same moment
before it is sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

HEADROOM = 0.97


class Cooldown:
    """A moment (monotonic clock) before which nothing may be sent."""

    def __init__(self) -> None:
        self._until = 0.0
        self.total = 0.0  # wall-clock seconds of pause imposed so far

    def remaining(self) -> float:
        return max(0.0, self._until - time.monotonic())

    def extend(self, seconds: float) -> None:
        """Pause everyone for `seconds` from now (never shortens a longer pause)."""
        now = time.monotonic()
        end = now + seconds
        if end > self._until:
            self.total += end - max(self._until, now)
            self._until = end

    async def wait(self) -> float:
        """Sleep until the pause is over; returns the seconds slept."""
        slept = 0.0
        while (left := self.remaining()) > 0:
            await asyncio.sleep(left)
            slept += left
        return slept


class Pacer:
    """Send slots 1/rate apart; `acquire` reserves the next one and waits for it."""

    def __init__(self, requests_per_second: float) -> None:
        self.interval = 1.0 / requests_per_second
        self._next = 0.0

    async def acquire(self) -> None:
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + self.interval  # reserved before sleeping: no await in between
        if slot > now:
            await asyncio.sleep(slot - now)


class RateGate:
    """The limiter, the cool-down and the bound on requests in flight, shared by all."""

    def __init__(self, requests_per_second: float, concurrency: int, *, headroom: float = HEADROOM):
        if requests_per_second <= 0 or concurrency < 1:
            raise ValueError("the rate must be positive and the concurrency at least 1")
        self.rate = requests_per_second * headroom
        self.limiter = Pacer(self.rate)
        self.in_flight = asyncio.Semaphore(concurrency)
        self.cooldown = Cooldown()
        self.waited = 0.0  # seconds spent waiting on the pace or a cool-down

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one request slot: in-flight bound, pace, and no cool-down at send time."""
        async with self.in_flight:
            started = time.monotonic()
            while True:
                await self.cooldown.wait()
                await self.limiter.acquire()
                if self.cooldown.remaining() == 0:  # a 429 may have landed meanwhile
                    break
            self.waited += time.monotonic() - started
            yield
