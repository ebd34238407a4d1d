"""The one clock of the whole tree, in the two readings it needs, named apart.

The database stores times as naive UTC (the schema's timestamp columns carry no zone),
so every value written to a column or compared with one is naive: `naive_now()`,
`to_naive(moment)`. Everything else (the web clients' cool-downs, schedules, messages)
works in aware UTC: `aware_now()`, `to_aware(moment)`. Python refuses to compare the
two readings, which is why each has its own name and there is no bare `utcnow`: the
name says which one a value is. It lives in `sql/`, the bottom layer, so every layer can
import it.

Faking time: patch `sql.clock.aware_now`. `naive_now` reads it, and callers use the
module (`from sql import clock; clock.naive_now()`), so one patch moves every reading.
"""

from __future__ import annotations

from datetime import UTC, datetime


def aware_now() -> datetime:
    """Now as aware UTC: for arithmetic and comparisons outside the database."""
    return datetime.now(UTC)


def naive_now() -> datetime:
    """Now as naive UTC: the database's form, for columns and comparisons with them."""
    return to_naive(aware_now())


def to_naive(moment: datetime) -> datetime:
    """`moment` in the database's form: UTC without tzinfo. A naive value is taken to be
    UTC already and returned as it is."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def to_aware(moment: datetime) -> datetime:
    """`moment` as aware UTC. A naive value (as the database gives) is read as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
