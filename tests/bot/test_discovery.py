"""Discovery posts: schedules and their validation, bucket choice, random unseen picks,
the slot claim, and a lost channel turning the posts off; on SQLite and MariaDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select, update

from bot.services import discovery as service
from bot.services.discovery import ChannelLost, DiscoveryError, NothingToPost, Schedule
from recommender.discovery import choose_buckets, modelled_order, pick_unseen
from recommender.taxonomy import load
from sql import guilds, jobs
from sql.database import Database
from sql.schema import guild_settings, recommendation_log
from tests.support.jobs import VERSION, Recorder, build_model

GUILD = 111
CHANNEL = 222
BUCKETS = load(None).all_buckets


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("18:30", "18:30"), ("7:05", "07:05"), (" 00:00 ", "00:00"), ("23:59:30", "23:59:30")],
)
def test_times(text: str, expected: str) -> None:
    assert service.parse_time(text) == expected


@pytest.mark.parametrize("text", ["24:00", "12:60", "noon", "12", "1230", "12:30:61", "-1:00", ""])
def test_bad_times_get_one_line(text: str) -> None:
    with pytest.raises(DiscoveryError) as caught:
        service.parse_time(text)
    assert "HH:MM" in str(caught.value) and "\n" not in str(caught.value)


def test_timezones() -> None:
    assert service.parse_timezone(None) == "UTC"
    assert service.parse_timezone("Asia/Kolkata") == "Asia/Kolkata"
    for bad in ("Mars/Olympus", "../../etc/passwd", "Europe/", ""):
        with pytest.raises(DiscoveryError) as caught:
            service.parse_timezone(bad or " ")
        assert "IANA" in str(caught.value) and "\n" not in str(caught.value)
    assert "Europe/Paris" in service.timezone_choices("europe/pa")
    assert len(service.timezone_choices("")) == 25


def test_buckets() -> None:
    assert service.parse_buckets("Rock, hip hop,EDM , rock", BUCKETS) == ["rock", "hip hop", "edm"]
    assert service.parse_buckets("  ", BUCKETS) == []
    with pytest.raises(DiscoveryError, match="unknown genre 'polka'"):
        service.parse_buckets("rock, polka", BUCKETS)
    with pytest.raises(DiscoveryError, match="at most 10"):
        service.parse_buckets(",".join(BUCKETS), BUCKETS)


# --- schedules -----------------------------------------------------------------------------------


def test_daily_slots_follow_the_local_clock_across_dst() -> None:
    schedule = Schedule("daily", "09:00", "America/New_York")
    before = schedule.next_slot(datetime(2026, 3, 7, 12, tzinfo=UTC))
    after = schedule.next_slot(datetime(2026, 3, 9, 12, tzinfo=UTC))
    assert before == datetime(2026, 3, 7, 14, tzinfo=UTC)  # EST, UTC-5
    assert after == datetime(2026, 3, 9, 13, tzinfo=UTC)  # EDT, UTC-4


def test_one_slot_a_day_when_the_clocks_change() -> None:
    schedule = Schedule("daily", "02:30", "Europe/Paris")
    back = [schedule.next_slot(datetime(2026, 10, 24, 12, tzinfo=UTC))]
    back.append(schedule.next_slot(back[0] + timedelta(seconds=1)))
    assert back == [  # 02:30 happens twice on the 25th: one post
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 26, 1, 30, tzinfo=UTC),
    ]
    late = datetime(2026, 10, 25, 1, 31, tzinfo=UTC)  # just after the repeated 02:30
    assert schedule.due_slot(late, since=None) is None
    forward = schedule.next_slot(datetime(2026, 3, 28, 12, tzinfo=UTC))
    assert forward == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 02:30 does not exist: 03:30


def test_weekly_slots() -> None:
    schedule = Schedule("weekly", "18:30:15", "Europe/Paris", weekday=4)  # Friday
    slot = schedule.next_slot(datetime(2026, 6, 1, tzinfo=UTC))  # a Monday
    assert slot == datetime(2026, 6, 5, 16, 30, 15, tzinfo=UTC)
    assert schedule.describe() == "weekly on Friday at 18:30:15 (Europe/Paris)"


def test_due_slot_within_the_grace_and_after_the_schedule_was_set() -> None:
    schedule = Schedule("daily", "10:00", "UTC")
    slot = datetime(2026, 5, 1, 10, tzinfo=UTC)
    assert schedule.due_slot(slot + timedelta(minutes=5), since=None) == slot
    assert schedule.due_slot(slot - timedelta(seconds=1), since=None) is None
    assert schedule.due_slot(slot + timedelta(minutes=16), since=None) is None  # past grace
    set_later = (slot + timedelta(seconds=30)).replace(tzinfo=None)  # as stored
    assert schedule.due_slot(slot + timedelta(minutes=1), since=set_later) is None


# --- which buckets ----------------------------------------------------------------------------------


def test_chosen_buckets_keep_their_order_and_skip_unmodelled_ones() -> None:
    buckets, unmodelled = choose_buckets(["jazz", "polka", "rock"], [], ["rock", "jazz"], 0)
    assert (buckets, unmodelled) == (["jazz", "rock"], ["polka"])


def test_rotation_goes_through_the_most_asked_buckets() -> None:
    modelled = modelled_order(["rock", "jazz", "pop", "others", "folk", "metal"])
    assert modelled[-1] == "others"
    demand = ["jazz", "rock", "pop", "metal"]
    posts = [choose_buckets(None, demand, modelled, n, size=3, pool=4)[0] for n in range(4)]
    assert posts[0] == ["jazz", "rock", "pop"]
    assert posts[1] == ["metal", "jazz", "rock"]
    assert {b for post in posts for b in post} == set(demand)  # never beyond the pool


def test_rotation_falls_back_to_every_bucket() -> None:
    modelled = ["folk", "jazz", "rock", "others"]
    seen = {b for n in range(4) for b in choose_buckets(None, [], modelled, n, size=3)[0]}
    assert seen == set(modelled)
    one_asked = choose_buckets(None, ["rock"], modelled, 0, size=3)[0]
    assert one_asked[0] == "rock" and len(one_asked) == 3  # padded from the rest


# --- picks -------------------------------------------------------------------------------------------


async def test_a_small_bucket_is_exhausted_without_repeats(db: Database) -> None:
    ids = await build_model(db, {"jazz": [2, 1], "rock": [40, 25]})
    await _set(db, buckets="jazz")
    deliver = Recorder()
    for _ in range(3):
        await service.post_now(db, GUILD, deliver, no_repeat_days=7)
    assert sorted(deliver.tracks) == sorted(ids["jazz"])
    with pytest.raises(NothingToPost, match="already shown in this server within 7 days"):
        await service.post_now(db, GUILD, deliver, no_repeat_days=7)
    async with db.connection() as conn:
        logged = (await conn.execute(select(recommendation_log))).mappings().all()
        row = await guilds.get_guild(conn, GUILD)
    assert sorted(r["pick_track_id"] for r in logged) == sorted(ids["jazz"])
    assert {(r["strategy"], r["guild_id"], r["bucket"]) for r in logged} == {
        ("discovery", GUILD, "jazz")
    }
    assert row["posts"] == 3 and row["last_post_at"] is not None
    # once the window has passed, the tracks may come again
    async with db.transaction() as conn:
        await conn.execute(update(recommendation_log).values(created_at=datetime(2020, 1, 1)))
    post = await service.post_now(db, GUILD, deliver, no_repeat_days=7)
    assert post.picks[0].track_id in ids["jazz"]


async def test_big_bucket_picks_are_spread_and_never_repeat(db: Database) -> None:
    ids = await build_model(db, {"rock": [120, 60, 20]})
    rng = np.random.default_rng(3)
    taken: set[str] = set()
    async with db.connection() as conn:
        for _ in range(60):
            pick = await pick_unseen(
                conn, VERSION, "rock", [(0, 120), (1, 60), (2, 20)],
                guild_id=GUILD, since=None, rng=rng, taken=taken,
            )  # fmt: skip
            assert pick is not None and pick.track_id not in taken
            assert pick.bucket_size == 200 and pick.cluster_size in (120, 60, 20)
            taken.add(pick.track_id)
    clusters = [ids["rock"].index(t) for t in taken]
    assert sum(i < 120 for i in clusters) > sum(i >= 180 for i in clusters)  # by size


async def test_a_post_covers_the_rotation_and_skips_unmodelled_choices(db: Database) -> None:
    await build_model(db, {"jazz": [5], "rock": [5], "pop": [5], "folk": [5]})
    async with db.transaction() as conn:
        await conn.execute(
            recommendation_log.insert(),
            [{"guild_id": GUILD, "pick_track_id": "x", "bucket": b, "strategy": "cluster-nearest"}
             for b in ["folk"] * 3 + ["pop"] * 2],
        )  # fmt: skip
    await _set(db)
    deliver = Recorder()
    first = await service.post_now(db, GUILD, deliver, no_repeat_days=7)
    assert [p.bucket for p in first.picks] == ["folk", "pop", "jazz"]  # asked first, padded
    await _set(db, buckets="rock,metal")
    chosen = await service.post_now(db, GUILD, deliver, no_repeat_days=7)
    assert [p.bucket for p in chosen.picks] == ["rock"] and chosen.unmodelled == ["metal"]


# --- slots and lost channels --------------------------------------------------------------------------


async def test_a_slot_is_claimed_once(db: Database) -> None:
    await _set(db)
    slot = datetime(2030, 1, 1, 10)
    async with db.transaction() as conn:
        assert await guilds.claim_slot(conn, GUILD, slot)
        assert not await guilds.claim_slot(conn, GUILD, slot)
        assert not await guilds.claim_slot(conn, GUILD, slot - timedelta(days=1))
        assert await guilds.claim_slot(conn, GUILD, slot + timedelta(days=1))
        assert await guilds.disable_discovery(conn, GUILD, "test")
        assert not await guilds.claim_slot(conn, GUILD, slot + timedelta(days=2))


async def test_a_due_slot_is_posted_once(db: Database) -> None:
    await build_model(db, {"jazz": [6]})
    now = datetime.now(UTC)
    await _set(db, at=f"{(now - timedelta(minutes=1)):%H:%M}", set_at=now - timedelta(hours=1))
    deliver = Recorder()
    first = await service.scheduled_post(db, GUILD, deliver, "a", no_repeat_days=7, now=now)
    again = await service.scheduled_post(db, GUILD, deliver, "b", no_repeat_days=7, now=now)
    assert first is not None and first.outcome == "ok" and again is None
    assert len(deliver.posts) == 1
    async with db.connection() as conn:
        runs = await jobs.runs(conn, "discovery")
    assert [(r["outcome"], r["holder"], r["counts"]["guild_id"]) for r in runs] == [
        ("ok", "a", GUILD)
    ]


@pytest.mark.parametrize("status", ["403 Missing Access", "404 Unknown Channel"])
async def test_a_lost_channel_turns_the_posts_off_with_the_reason(
    db: Database, status: str
) -> None:
    await build_model(db, {"jazz": [6]})
    now = datetime.now(UTC)
    await _set(db, at=f"{(now - timedelta(minutes=1)):%H:%M}", set_at=now - timedelta(hours=1))
    deliver = Recorder(error=ChannelLost(f"channel {CHANNEL} is gone ({status})"))
    outcome = await service.scheduled_post(db, GUILD, deliver, "a", no_repeat_days=7, now=now)
    assert outcome is not None and outcome.outcome == "failed" and outcome.counts["disabled"]
    async with db.connection() as conn:
        row = await guilds.get_guild(conn, GUILD)
        logged = await conn.scalar(select(func.count()).select_from(recommendation_log))
    assert not row["enabled"] and status in row["disabled_reason"]
    assert "turned off" in row["disabled_reason"] and logged == 0
    with pytest.raises(ChannelLost):  # /discovery now says so too
        await service.post_now(db, GUILD, deliver, no_repeat_days=7)


async def test_other_failures_keep_the_posts_on(db: Database) -> None:
    await build_model(db, {"jazz": [6]})
    now = datetime.now(UTC)
    await _set(db, at=f"{(now - timedelta(minutes=1)):%H:%M}", set_at=now - timedelta(hours=1))
    deliver = Recorder(error=RuntimeError("502 Bad Gateway"))
    outcome = await service.scheduled_post(db, GUILD, deliver, "a", no_repeat_days=7, now=now)
    assert outcome is not None and outcome.outcome == "failed"
    assert outcome.error == "RuntimeError: 502 Bad Gateway"
    async with db.connection() as conn:
        assert (await guilds.get_guild(conn, GUILD))["enabled"]
    # Discord may have posted it anyway: the slot stays taken (at most one post).
    assert (
        await service.scheduled_post(db, GUILD, Recorder(), "b", no_repeat_days=7, now=now) is None
    )


async def test_a_failure_before_sending_gives_the_slot_back(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await build_model(db, {"jazz": [6]})
    now = datetime.now(UTC)
    await _set(db, at=f"{(now - timedelta(minutes=1)):%H:%M}", set_at=now - timedelta(hours=1))
    real_prepare = service.prepare

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(service, "prepare", real_prepare)
        raise ConnectionResetError("the database connection dropped")

    monkeypatch.setattr(service, "prepare", flaky)
    deliver = Recorder()
    failed = await service.scheduled_post(db, GUILD, deliver, "a", no_repeat_days=7, now=now)
    assert failed is not None and failed.outcome == "failed" and deliver.posts == []
    retried = await service.scheduled_post(db, GUILD, deliver, "a", no_repeat_days=7, now=now)
    assert retried is not None and retried.outcome == "ok" and len(deliver.posts) == 1
    assert await service.scheduled_post(db, GUILD, deliver, "b", no_repeat_days=7, now=now) is None


async def test_configure_validates_and_defaults(db: Database) -> None:
    friday = datetime(2026, 6, 5, 23, 30, tzinfo=UTC)  # already Saturday in Tokyo
    row = await service.configure(
        db, GUILD, channel_id=CHANNEL, every="weekly", at="8:00", timezone="Asia/Tokyo",
        buckets="Rock, EDM", weekday=None, known_buckets=BUCKETS, now=friday,
    )  # fmt: skip
    assert (row["discovery_at"], row["discovery_weekday"], row["buckets"]) == (
        "08:00",
        5,
        "rock,edm",
    )
    assert row["enabled"] and row["discovery_set_at"] is not None
    with pytest.raises(DiscoveryError, match="daily or weekly"):
        await service.configure(
            db, GUILD, channel_id=CHANNEL, every="hourly", at="8:00", timezone=None,
            buckets=None, weekday=None, known_buckets=BUCKETS,
        )  # fmt: skip
    with pytest.raises(DiscoveryError, match="not set up"):
        await service.post_now(db, GUILD + 1, Recorder(), no_repeat_days=7)


async def _set(
    db: Database,
    *,
    buckets: str | None = None,
    at: str = "10:00",
    set_at: datetime | None = None,
) -> None:
    await service.configure(
        db, GUILD, channel_id=CHANNEL, every="daily", at=at, timezone="UTC",
        buckets=buckets, weekday=None, known_buckets=BUCKETS,
    )  # fmt: skip
    if set_at is not None:
        async with db.transaction() as conn:
            await conn.execute(
                update(guild_settings)
                .where(guild_settings.c.guild_id == GUILD)
                .values(discovery_set_at=set_at.astimezone(UTC).replace(tzinfo=None))
            )
