"""Where a client remembers what it learned: capabilities (with when they were learned)
and a cool-down that must survive the process. In memory for tests and one-off use;
in the database (`api_capability`) for the command line and the bot."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sql import clock, enrichment_state
from sql.database import Database


class ServiceState(Protocol):
    async def capabilities(self) -> dict[str, tuple[str, datetime]]: ...
    async def learn(self, name: str, value: str) -> None: ...
    async def cooldown(self) -> tuple[datetime, str] | None: ...
    async def stop_until(self, until: datetime, reason: str) -> None: ...


class MemoryState:
    """Forgets everything with the process."""

    def __init__(self) -> None:
        self.known: dict[str, tuple[str, datetime]] = {}
        self.stopped: tuple[datetime, str] | None = None

    async def capabilities(self) -> dict[str, tuple[str, datetime]]:
        return dict(self.known)

    async def learn(self, name: str, value: str) -> None:
        self.known[name] = (value, clock.aware_now())

    async def cooldown(self) -> tuple[datetime, str] | None:
        return self.stopped

    async def stop_until(self, until: datetime, reason: str) -> None:
        self.stopped = (until, reason)


class DatabaseState:
    """`api_capability` rows for one service."""

    def __init__(self, db: Database, service: str) -> None:
        self.db = db
        self.service = service

    async def capabilities(self) -> dict[str, tuple[str, datetime]]:
        async with self.db.connection() as conn:
            known = await enrichment_state.capabilities(conn, self.service)
        return {
            name: (value, clock.to_aware(learned))
            for name, (value, learned) in known.items()
            if name not in (enrichment_state.COOLDOWN, enrichment_state.COOLDOWN_REASON)
        }

    async def learn(self, name: str, value: str) -> None:
        async with self.db.transaction() as conn:
            await enrichment_state.set_capability(
                conn, self.service, name, value, now=clock.naive_now()
            )

    async def cooldown(self) -> tuple[datetime, str] | None:
        async with self.db.connection() as conn:
            found = await enrichment_state.cooldown(conn, self.service)
        return (clock.to_aware(found[0]), found[1]) if found else None

    async def stop_until(self, until: datetime, reason: str) -> None:
        async with self.db.transaction() as conn:
            await enrichment_state.set_cooldown(
                conn, self.service, clock.to_aware(until), reason, now=clock.naive_now()
            )
