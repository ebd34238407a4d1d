"""Discovery posts: a guild's schedule, what a post holds, and posting it once per slot.

A schedule is daily or weekly at a local time in an IANA timezone (DST handled by the
cron trigger); it lives in `guild_settings`, so restarts keep it. A scheduled post
first claims its slot (`sql.guilds.claim_slot`, one conditional UPDATE): a slot is
posted at most once, whoever tries (the scheduler, a catch-up after a restart, another
process, cron). A slot missed by less than `GRACE` (the bot was down) is still posted,
once. Only slots after the schedule was set are owed.

Delivery is a function given by the caller (the bot, or the REST-only command line), so
this module knows no Discord; a channel that is gone or forbidden raises `ChannelLost`,
which turns the guild's posts off with the reason stored and logged, instead of failing
again at every slot.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import numpy as np
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.services.cards import TrackCard, track_cards
from bot.services.jobs import JobOutcome, one_line, run_recorded
from recommender import discovery as picking
from recommender.serving import song_key
from recommender.taxonomy import display
from sql import clock, guilds, model_versions
from sql import discovery as discovery_reads
from sql.database import Database
from sql.errors import TuneclusterError

log = logging.getLogger("tunecluster.discovery")

EVERY = ("daily", "weekly")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
GRACE = timedelta(minutes=15)
DEMAND_DAYS = 90
MAX_BUCKETS = 10  # one embed per bucket; Discord allows 10 per message
STRATEGY = discovery_reads.DISCOVERY_STRATEGY
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")


class DiscoveryError(TuneclusterError):
    """A bad schedule value or a guild without discovery set up (one line)."""


class NothingToPost(TuneclusterError):
    """Every candidate was seen within the no-repeat window, or no model serves."""


class ChannelLost(TuneclusterError):
    """The channel was deleted (404) or the bot may no longer post there (403)."""


# --- parsing what members type ----------------------------------------------------------------


def parse_time(text: str) -> str:
    """'7:05' → '07:05'; seconds are kept when given ('07:05:30')."""
    match = _TIME.fullmatch(text.strip())
    hour, minute, second = match.groups() if match else ("99", "99", None)
    if int(hour) > 23 or int(minute) > 59 or int(second or 0) > 59:
        raise DiscoveryError(
            f"at must be a time as HH:MM on a 24-hour clock, e.g. 18:30 (not {text.strip()[:20]!r})"
        )
    return f"{int(hour):02d}:{minute}" + (f":{second}" if second else "")


def parse_timezone(name: str | None) -> str:
    """An IANA timezone name ('Europe/Paris'); 'UTC' when none is given."""
    name = (name or "UTC").strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DiscoveryError(
            f"unknown timezone {name[:40]!r}: use an IANA name such as Europe/Paris or America/New_York"
        ) from None
    return name


def parse_buckets(text: str | None, known: Sequence[str]) -> list[str]:
    """'Rock, hip hop, EDM' → ['rock', 'hip hop', 'edm']; empty means a rotation."""
    if not text or not text.strip():
        return []
    by_name = {b.casefold(): b for b in known} | {display(b).casefold(): b for b in known}
    chosen, unknown = [], []
    for part in (p.strip() for p in text.split(",")):
        if part:
            (chosen if part.casefold() in by_name else unknown).append(
                by_name.get(part.casefold(), part)
            )
    if unknown:
        names = ", ".join(display(b) for b in known)
        raise DiscoveryError(f"unknown genre {unknown[0][:30]!r} (choose from: {names})")
    chosen = list(dict.fromkeys(chosen))
    if len(chosen) > MAX_BUCKETS:
        raise DiscoveryError(f"at most {MAX_BUCKETS} genres per post ({len(chosen)} given)")
    return chosen


def timezone_choices(typed: str, limit: int = 25) -> list[str]:
    """Timezone names containing what was typed (autocomplete)."""
    needle = typed.strip().casefold().replace(" ", "_")
    names = sorted(available_timezones())
    hits = [n for n in names if n.casefold().startswith(needle)]
    hits += [n for n in names if needle in n.casefold() and n not in hits]
    return hits[:limit]


# --- the schedule ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    every: str  # daily | weekly
    at: str  # HH:MM or HH:MM:SS, local to `timezone`
    timezone: str
    weekday: int | None = None  # 0 = Monday (weekly)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Schedule | None:
        if not row.get("discovery_at") or row.get("discovery_every") not in EVERY:
            return None
        return cls(
            row["discovery_every"],
            row["discovery_at"],
            row.get("timezone") or "UTC",
            row.get("discovery_weekday"),
        )

    def trigger(self) -> CronTrigger:
        hour, minute, *second = (int(p) for p in self.at.split(":"))
        return CronTrigger(
            day_of_week=self.weekday if self.every == "weekly" else None,
            hour=hour,
            minute=minute,
            second=second[0] if second else 0,
            timezone=ZoneInfo(self.timezone),
        )

    def next_slot(self, after: datetime) -> datetime | None:
        """The first slot at or after `after` (aware, UTC). When clocks go back, a local
        time that happens twice is one slot (the first), not two posts that day; a local
        time skipped when clocks go forward comes an hour later."""
        trigger, zone = self.trigger(), ZoneInfo(self.timezone)
        slot = trigger.get_next_fire_time(None, after.astimezone(UTC))
        while slot is not None and slot.astimezone(zone).fold:
            slot = trigger.get_next_fire_time(None, slot.astimezone(UTC) + timedelta(seconds=1))
        return slot.astimezone(UTC) if slot else None

    def due_slot(
        self, now: datetime, *, since: datetime | None, grace: timedelta = GRACE
    ) -> datetime | None:
        """The latest slot in [max(now - grace, since), now], if any (aware, UTC)."""
        start = now - grace
        if since is not None:
            start = max(start, clock.to_aware(since))
        slot = self.next_slot(start)
        if slot is None or slot > now:
            return None
        while (later := self.next_slot(slot + timedelta(seconds=1))) is not None and later <= now:
            slot = later
        return slot

    def describe(self) -> str:
        day = (
            f" on {WEEKDAYS[self.weekday]}"
            if self.every == "weekly" and self.weekday is not None
            else ""
        )
        return f"{self.every}{day} at {self.at} ({self.timezone})"


# --- setting it up -------------------------------------------------------------------------------


async def configure(
    db: Database,
    guild_id: int,
    *,
    channel_id: int,
    every: str,
    at: str,
    timezone: str | None,
    buckets: str | None,
    weekday: int | None,
    known_buckets: Sequence[str],
    now: datetime | None = None,
) -> dict[str, Any]:
    """Validate and store the guild's schedule (enabled from now on); returns the row."""
    if every not in EVERY:
        raise DiscoveryError(f"every must be daily or weekly (not {every[:20]!r})")
    at = parse_time(at)
    zone = parse_timezone(timezone)
    chosen = parse_buckets(buckets, known_buckets)
    if every == "weekly" and weekday is None:  # this weekday, where the guild lives
        weekday = (now or clock.aware_now()).astimezone(ZoneInfo(zone)).weekday()
    if weekday is not None and not 0 <= weekday <= 6:
        raise DiscoveryError("weekday must be 0 (Monday) to 6 (Sunday)")
    async with db.transaction() as conn:
        return await guilds.set_discovery(
            conn,
            guild_id,
            channel_id=channel_id,
            every=every,
            at=at,
            weekday=weekday if every == "weekly" else None,
            timezone=zone,
            buckets=",".join(chosen) or None,
        )


async def unmodelled(db: Database, buckets: str | None) -> list[str]:
    """Of the buckets a guild chose, those the serving model has no clusters for (their
    posts are skipped until a model covers them); all of them when no model serves."""
    chosen = [b for b in (buckets or "").split(",") if b]
    if not chosen:
        return []
    async with db.connection() as conn:
        version = await model_versions.active_version(conn)
        sizes = await discovery_reads.cluster_sizes(conn, version) if version else {}
    return [b for b in chosen if not sizes.get(b)]


async def turn_off(db: Database, guild_id: int, reason: str) -> bool:
    async with db.transaction() as conn:
        return await guilds.disable_discovery(conn, guild_id, reason)


async def settings_of(db: Database, guild_id: int) -> dict[str, Any] | None:
    async with db.connection() as conn:
        return await guilds.get_guild(conn, guild_id)


# --- what a post holds -------------------------------------------------------------------------


@dataclass
class DiscoveryPost:
    guild_id: int
    channel_id: int
    version: str
    picks: list[picking.DiscoveryPick]
    missing: list[str] = field(default_factory=list)  # buckets with no unseen track
    unmodelled: list[str] = field(default_factory=list)  # chosen, but not in the model
    no_repeat_days: float = 0.0
    slot: datetime | None = None
    message_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "guild_id": self.guild_id,
            "channel_id": self.channel_id,
            "model_version": self.version,
            "picks": [p.to_dict() for p in self.picks],
            "missing": self.missing,
            "unmodelled": self.unmodelled,
            "slot": self.slot.isoformat() if self.slot else None,
            "message_id": self.message_id,
        }


Deliver = Callable[[DiscoveryPost, dict[str, TrackCard]], Awaitable[int | None]]


async def prepare(
    db: Database,
    row: dict[str, Any],
    *,
    no_repeat_days: float,
    rng: np.random.Generator | None = None,
    now: datetime | None = None,
) -> DiscoveryPost:
    """Pick one unseen track per bucket of this post (nothing is written)."""
    rng = rng or np.random.default_rng()
    now = now or clock.aware_now()
    guild_id = row["guild_id"]
    chosen = [b for b in (row.get("buckets") or "").split(",") if b]
    since = clock.to_naive(now - timedelta(days=no_repeat_days)) if no_repeat_days > 0 else None
    async with db.connection() as conn:
        version = await model_versions.active_version(conn)
        if version is None:
            raise NothingToPost("no model is trained yet: run `tunecluster train` first")
        sizes = await discovery_reads.cluster_sizes(conn, version)
        demand = (
            []
            if chosen
            else await discovery_reads.bucket_demand(
                conn, guild_id, clock.to_naive(now - timedelta(days=DEMAND_DAYS))
            )
        )
        buckets, unmodelled = picking.choose_buckets(
            chosen, [b for b, _ in demand], picking.modelled_order(sizes), row.get("posts") or 0
        )
        post = DiscoveryPost(guild_id, row["discovery_channel_id"], version, [], [], unmodelled)
        post.no_repeat_days = no_repeat_days
        taken: set[str] = set()
        songs: set[tuple[str, str]] = set()
        for bucket in buckets:
            pick = await picking.pick_unseen(
                conn, version, bucket, sizes[bucket],
                guild_id=guild_id, since=since, rng=rng, taken=taken, songs=songs,
            )  # fmt: skip
            if pick is None:
                post.missing.append(bucket)
                continue
            post.picks.append(pick)
            taken.add(pick.track_id)
            songs.add(song_key(pick.name, pick.artists[0] if pick.artists else ""))
    if not post.picks:
        raise NothingToPost(_nothing(post, buckets, no_repeat_days))
    return post


def _nothing(post: DiscoveryPost, buckets: list[str], days: float) -> str:
    if not buckets:
        names = ", ".join(display(b) for b in post.unmodelled) or "none"
        return f"the serving model has none of this server's genres ({names}): nothing to post"
    names = ", ".join(display(b) for b in buckets)
    return f"every track found in {names} was already shown in this server within {days:g} days"


# --- posting ----------------------------------------------------------------------------------


async def post_now(
    db: Database,
    guild_id: int,
    deliver: Deliver,
    *,
    no_repeat_days: float,
    slot: datetime | None = None,
    rng: np.random.Generator | None = None,
) -> DiscoveryPost:
    """Pick, deliver, then log the picks (no-repeat rule) and move the rotation on. A lost
    channel turns the guild's posts off (reason stored and logged) and raises."""
    row = await settings_of(db, guild_id)
    if row is None or not row.get("discovery_channel_id"):
        raise DiscoveryError("discovery is not set up in this server: use /discovery set first")
    post = await prepare(db, row, no_repeat_days=no_repeat_days, rng=rng)
    post.slot = slot
    cards = await track_cards(db, [p.track_id for p in post.picks])
    try:
        post.message_id = await deliver(post, cards)
    except ChannelLost as lost:
        reason = f"{lost} (turned off {clock.aware_now():%Y-%m-%d %H:%M} UTC)"
        await turn_off(db, guild_id, reason)
        log.warning("discovery in guild %s turned off: %s", guild_id, reason)
        raise ChannelLost(reason) from None
    rows = [
        {
            "guild_id": guild_id,
            "pick_track_id": p.track_id,
            "bucket": p.bucket,
            "strategy": STRATEGY,
        }
        for p in post.picks
    ]
    async with db.transaction() as conn:
        await model_versions.log_recommendations(conn, rows)
        await guilds.record_post(conn, guild_id)
    return post


def due_slot_of(
    row: dict[str, Any] | None, now: datetime, grace: timedelta = GRACE
) -> datetime | None:
    """The slot an enabled guild owes now and has not claimed yet, if any."""
    if not row or not row.get("enabled"):
        return None
    schedule = Schedule.from_row(row)
    if schedule is None:
        return None
    slot = schedule.due_slot(now, since=row.get("discovery_set_at"), grace=grace)
    if slot is None or (row.get("last_slot") and clock.to_aware(row["last_slot"]) >= slot):
        return None
    return slot


async def claim_due(
    conn: AsyncConnection, guild_id: int, now: datetime, grace: timedelta = GRACE
) -> tuple[datetime, datetime | None] | None:
    """Claim the guild's due slot in this transaction: (the slot, the slot claimed before
    it); None when none is due or another caller (process, catch-up, cron) was first."""
    row = await guilds.get_guild(conn, guild_id)
    slot = due_slot_of(row, now, grace)
    if slot is None or not await guilds.claim_slot(conn, guild_id, clock.to_naive(slot)):
        return None
    return slot, row["last_slot"]  # a due slot means the row exists


async def _give_back(db: Database, guild_id: int, slot: datetime, before: datetime | None) -> None:
    try:
        async with db.transaction() as conn:
            await guilds.release_slot(conn, guild_id, clock.to_naive(slot), before)
    except Exception as error:  # the database is the trouble: the slot stays taken
        log.warning("guild %s: slot %s not given back: %s", guild_id, slot, one_line(error))


async def scheduled_post(
    db: Database,
    guild_id: int,
    deliver: Deliver,
    holder: str,
    *,
    no_repeat_days: float,
    now: datetime | None = None,
    grace: timedelta = GRACE,
) -> JobOutcome | None:
    """Post the guild's due slot once, recorded as a `discovery` run; None when none is due
    or it was taken. The slot is claimed in the run's start transaction, before posting, so
    it is posted at most once. A failure before anything was sent (picking, reading the
    catalogue) gives it back for the next reconcile (every minute, within the grace); a
    failed delivery does not, since Discord may have posted it all the same."""
    now = now or clock.aware_now()
    claimed: list[tuple[datetime, datetime | None]] = []

    async def gate(conn: AsyncConnection) -> bool:
        claim = await claim_due(conn, guild_id, now, grace)
        claimed.extend([claim] if claim else [])
        return claim is not None

    async def body() -> JobOutcome:
        slot, before = claimed[0]
        return await _post_claimed(db, guild_id, deliver, slot, before, no_repeat_days)

    return await run_recorded(db, "discovery", holder, body, gate=gate)


async def _post_claimed(
    db: Database,
    guild_id: int,
    deliver: Deliver,
    slot: datetime,
    before: datetime | None,
    no_repeat_days: float,
) -> JobOutcome:
    """Post the slot this process claimed, as the run's outcome. A failure before anything
    was sent gives the slot back (the guild's last slot is `before` again)."""
    counts: dict[str, Any] = {"guild_id": guild_id, "slot": slot.isoformat()}
    sent: list[bool] = []

    async def delivering(post: DiscoveryPost, cards: dict[str, TrackCard]) -> int | None:
        sent.append(True)
        return await deliver(post, cards)

    try:
        post = await post_now(db, guild_id, delivering, no_repeat_days=no_repeat_days, slot=slot)
    except ChannelLost as lost:
        return JobOutcome("failed", {**counts, "disabled": True}, f"guild {guild_id}: {lost}")
    except (NothingToPost, DiscoveryError) as nothing:
        return JobOutcome("skipped", counts, f"guild {guild_id}: {nothing}")
    except Exception:
        if not sent:
            await _give_back(db, guild_id, slot, before)
        raise
    counts.update(tracks=len(post.picks), buckets=[p.bucket for p in post.picks])
    if post.missing:
        counts["exhausted"] = post.missing
    return JobOutcome("ok", counts, detail=post)
