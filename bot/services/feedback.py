"""Members' feedback on picks: buttons' ids, reactions, taste, strategy arms, the report.

Why it exists: no offline metric says whether members like what the bot picks; their 👍,
👎 and "More like this" do. Every pick shown with buttons is recorded (`feedback_pick`), a
button's custom_id names that row (answer id + position) and the track, and a click
becomes one reaction per member and pick (a second click changes it). A member's taste is
folded from their reactions: 👎 removes a track for them, 👎 on `dislike_artist_after` of an
artist's tracks removes the artist, 👍 tracks are the seeds of `/recommend` without a track.
Guilds fall into strategy arms by a stable hash, and the report compares the arms with
95 % intervals. Plain async functions: the Discord side (`bot/views.py`) only parses and
formats.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from recommender import strategies
from recommender.serving import Recommendation
from sql import clock
from sql import reactions as store
from sql.database import Database
from sql.errors import TuneclusterError

PREFIX = "tc"
ACTIONS = {"l": "like", "d": "dislike", "m": "more"}
ACTION_CODES = {name: code for code, name in ACTIONS.items()}
ARMS_OFF = "off"
ARM_SALT = "tunecluster-arms-v1"
SEED_POOL = 20  # /recommend without a track: a seed among the newest likes
Z95 = 1.959964
Z_POWER80 = 0.841621
_CUSTOM_ID = re.compile(
    r"tc:(?P<action>[a-z]):(?P<answer>[0-9]{1,19}):(?P<position>[0-9]{1,2}):(?P<track>[A-Za-z0-9:_.\-]{1,64})"
)
CUSTOM_ID_MAX = 100  # Discord's limit


class FeedbackRefused(TuneclusterError):
    """A click that records nothing (malformed, another guild's, a deleted track); one line."""


class NoTaste(TuneclusterError):
    """`/recommend` without a track from a member who liked nothing yet."""


# --- settings -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedbackSettings:
    arms: tuple[str, ...] = ()
    shares: tuple[float, ...] = ()
    more_public: bool = False
    dislike_artist_after: int = 2
    default_strategy: str = strategies.DEFAULT

    @classmethod
    def from_settings(cls, settings: Any) -> FeedbackSettings:
        return cls(
            arms=tuple(settings.strategy_arms),
            shares=tuple(settings.strategy_arm_shares),
            more_public=settings.more_like_this_public,
            dislike_artist_after=settings.dislike_artist_after,
            default_strategy=settings.strategy,
        )


def arm_of(guild_id: int | None, arms: Sequence[str], shares: Sequence[float] = ()) -> str:
    """The guild's arm: a stable hash of its id placed on the cumulative shares (equal
    shares when none are given); ARMS_OFF when arms are off. Stable across restarts,
    processes and Python versions (sha256, not `hash`)."""
    if not arms:
        return ARMS_OFF
    weights = list(shares) or [1.0] * len(arms)
    digest = hashlib.sha256(f"{ARM_SALT}:{guild_id or 0}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * sum(weights)
    total = 0.0
    for name, weight in zip(arms, weights, strict=True):
        total += weight
        if point < total:
            return name
    return arms[-1]


def strategy_for(arm: str, config: FeedbackSettings) -> str:
    """An arm is a strategy; with arms off, the configured default strategy serves."""
    return config.default_strategy if arm == ARMS_OFF else arm


# --- custom ids --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Click:
    action: str  # like | dislike | more
    answer_id: int
    position: int
    track_id: str


def custom_id(action: str, answer_id: int, position: int, track_id: str) -> str:
    """`tc:<action>:<answer id>:<position>:<track id>`, stable across restarts."""
    text = f"{PREFIX}:{ACTION_CODES[action]}:{answer_id}:{position}:{track_id}"
    if len(text) > CUSTOM_ID_MAX:
        raise ValueError(f"custom_id too long for Discord: {text!r}")
    return text


def parse_custom_id(text: str) -> Click:
    """The click a custom_id names; FeedbackRefused (one line) for anything malformed."""
    match = _CUSTOM_ID.fullmatch(text or "")
    if match is None or match["action"] not in ACTIONS:
        raise FeedbackRefused("That button is not one of mine; nothing was recorded.")
    return Click(
        ACTIONS[match["action"]], int(match["answer"]), int(match["position"]), match["track"]
    )


def new_answer_id() -> int:
    """A random positive 62-bit id: unique enough, and known before the message is sent."""
    return secrets.randbits(62) or 1


# --- recording what was shown --------------------------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """An answer whose picks carry buttons: what each button's custom_id refers to."""

    answer_id: int
    track_ids: tuple[str, ...]


async def record_shown(
    db: Database,
    *,
    guild_id: int | None,
    user_id: int | None,
    source: str,
    track_ids: Sequence[str],
    seed_track_id: str | None,
    strategy: str,
    arm: str,
    model_version: str | None,
) -> Shown:
    answer_id = new_answer_id()
    rows = [
        {
            "answer_id": answer_id,
            "position": position,
            "guild_id": guild_id or 0,
            "user_id": user_id,
            "source": source,
            "track_id": track_id,
            "seed_track_id": seed_track_id,
            "strategy": strategy,
            "arm": arm,
            "model_version": model_version,
            "created_at": clock.naive_now(),
        }
        for position, track_id in enumerate(track_ids)
    ]
    async with db.transaction() as conn:
        await store.record_shown(conn, rows)
    return Shown(answer_id, tuple(track_ids))


async def record_recommendation(
    db: Database,
    result: Recommendation,
    *,
    guild_id: int | None,
    user_id: int | None,
    arm: str,
    source: str = "recommend",
) -> Shown:
    return await record_shown(
        db,
        guild_id=guild_id,
        user_id=user_id,
        source=source,
        track_ids=[p.track_id for p in result.picks],
        seed_track_id=result.track.track_id,
        strategy=result.strategy,
        arm=arm,
        model_version=result.version,
    )


# --- a click ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reacted:
    click: Click
    track_name: str
    previous: str | None  # the verdict before this click
    pick: dict[str, Any]


async def react(db: Database, click: Click, *, guild_id: int | None, user_id: int) -> Reacted:
    """Store a member's click on a pick (one read, one upsert); refuse (one line, nothing
    stored) a pick that is unknown, another guild's, forged, or whose track left the
    catalogue."""
    guild = guild_id or 0
    async with db.transaction() as conn:
        pick = await store.click_context(conn, click.answer_id, click.position, guild, user_id)
        if pick is None:
            raise FeedbackRefused(
                "I no longer know that pick (its server's data was deleted); nothing was recorded."
            )
        if pick["guild_id"] != guild:
            raise FeedbackRefused("That button belongs to another server; nothing was recorded.")
        if pick["track_id"] != click.track_id:
            raise FeedbackRefused("That button is not one of mine; nothing was recorded.")
        if pick["present"] is None:
            raise FeedbackRefused("That track is no longer in the catalogue; nothing was recorded.")
        now = clock.naive_now()
        await store.put_reaction(
            conn,
            {
                "guild_id": guild,
                "user_id": user_id,
                "answer_id": click.answer_id,
                "position": click.position,
                "track_id": click.track_id,
                "artist_id": pick["artist_id"],
                "seed_track_id": pick["seed_track_id"],
                "strategy": pick["strategy"],
                "arm": pick["arm"],
                "model_version": pick["model_version"],
                "verdict": click.action if click.action in store.VERDICTS else None,
                "more": click.action == "more",
                "created_at": now,
                "updated_at": now,
            },
        )
    return Reacted(click, pick["track_name"] or click.track_id, pick["previous"], pick)


# --- taste ---------------------------------------------------------------------------------------------


@dataclass
class Taste:
    liked: list[str] = field(default_factory=list)  # newest first
    disliked: list[str] = field(default_factory=list)
    disliked_artists: list[str] = field(default_factory=list)
    more: int = 0
    names: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.liked or self.disliked or self.more)

    def to_dict(self) -> dict[str, Any]:
        """Every field but `names` (display names of the tracks and artists, not taste)."""
        return {k: v for k, v in asdict(self).items() if k != "names"}


def fold_taste(rows: Sequence[dict[str, Any]], dislike_artist_after: int) -> Taste:
    """A member's reactions (newest first) → their taste: the newest verdict on a track
    counts; an artist is dropped after 👎 on `dislike_artist_after` of its tracks."""
    verdicts: dict[str, str] = {}
    artists: dict[str, str | None] = {}
    more = 0
    for row in rows:
        more += bool(row["more"])
        if row["verdict"] and row["track_id"] not in verdicts:
            verdicts[row["track_id"]] = row["verdict"]
            artists[row["track_id"]] = row["artist_id"]
    taste = Taste(more=more)
    per_artist: dict[str, int] = {}
    for track_id, verdict in verdicts.items():
        if verdict == store.LIKE:
            taste.liked.append(track_id)
        else:
            taste.disliked.append(track_id)
            if artists[track_id]:
                per_artist[artists[track_id]] = per_artist.get(artists[track_id], 0) + 1
    taste.disliked_artists = sorted(a for a, n in per_artist.items() if n >= dislike_artist_after)
    return taste


async def taste_of(
    db: Database, guild_id: int | None, user_id: int, dislike_artist_after: int
) -> Taste:
    async with db.connection() as conn:
        rows = await store.member_reactions(conn, guild_id or 0, user_id)
        taste = fold_taste(rows, dislike_artist_after)
        taste.names = await store.names(conn, [*taste.liked[:10], *taste.disliked[:10]])
        taste.names.update(await store.artist_names(conn, taste.disliked_artists[:10]))
    return taste


async def exclusions(
    db: Database, guild_id: int | None, user_id: int | None, dislike_artist_after: int
) -> tuple[frozenset[str], frozenset[str]]:
    """The tracks and artists a member's 👎 removed (empty for no member)."""
    if user_id is None:
        return frozenset(), frozenset()
    taste = await taste_of(db, guild_id, user_id, dislike_artist_after)
    return frozenset(taste.disliked), frozenset(taste.disliked_artists)


async def taste_seed(
    db: Database,
    guild_id: int | None,
    user_id: int,
    dislike_artist_after: int,
    rng: np.random.Generator | None = None,
) -> str:
    """A seed for "something for me": one of the member's newest 👍 tracks, at random."""
    taste = await taste_of(db, guild_id, user_id, dislike_artist_after)
    if not taste.liked:
        raise NoTaste(
            "I don't know your taste yet: give /recommend a track, and press 👍 on picks you like."
        )
    pool = taste.liked[:SEED_POOL]
    return pool[int((rng or np.random.default_rng()).integers(len(pool)))]


async def reset_taste(db: Database, guild_id: int | None, user_id: int) -> int:
    async with db.transaction() as conn:
        return await store.clear_member(conn, guild_id or 0, user_id)


async def delete_guild_data(db: Database, guild_id: int) -> dict[str, int]:
    async with db.transaction() as conn:
        return await store.delete_guild(conn, guild_id)


# --- the report ---------------------------------------------------------------------------------------


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (sound near 0 and 1 and for small n)."""
    if trials <= 0:
        return (0.0, 1.0)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def needed_per_arm(p1: float, p2: float) -> int | None:
    """Picks per arm for a two-sided 5 % test with 80 % power to tell p1 from p2
    (two proportions, normal approximation); None when they are equal."""
    if p1 == p2:
        return None
    mean = (p1 + p2) / 2
    spread = Z95 * math.sqrt(2 * mean * (1 - mean)) + Z_POWER80 * math.sqrt(
        p1 * (1 - p1) + p2 * (1 - p2)
    )
    return math.ceil(spread**2 / (p1 - p2) ** 2)


def two_sided_p(k1: int, n1: int, k2: int, n2: int) -> float | None:
    """The pooled two-proportion z-test's p-value."""
    if n1 == 0 or n2 == 0:
        return None
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = abs(k1 / n1 - k2 / n2) / se
    return math.erfc(z / math.sqrt(2))


RATES = (("like", "liked"), ("dislike", "disliked"), ("more", "more"))


def _rates(row: dict[str, Any]) -> dict[str, Any]:
    picks = row["picks"]
    out = {}
    for name, column in RATES:
        low, high = wilson(row[column], picks)
        out[name] = {
            "count": row[column],
            "rate": row[column] / picks if picks else None,
            "ci95": [round(low, 4), round(high, 4)],
        }
    return out


def build_report(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per arm and strategy: answers, picks, reactions, like / "more like this" / dislike
    rates per pick shown with Wilson 95 % intervals; then, for every arm against the first
    (the control), the like rates' difference, its p-value and the picks per arm needed
    to tell them apart (5 % two-sided, 80 % power) at the observed rates."""
    groups = [{**row, "rates": _rates(row)} for row in rows]
    arms: dict[str, dict[str, int]] = {}
    for row in rows:
        total = arms.setdefault(row["arm"], {"picks": 0, "liked": 0, "disliked": 0, "more": 0})
        for key in total:
            total[key] += row[key]
    comparisons = []
    names = list(arms)
    if len(names) > 1:
        control = arms[names[0]]
        for name in names[1:]:
            arm = arms[name]
            for rate, column in RATES:
                p1 = control[column] / control["picks"] if control["picks"] else 0.0
                p2 = arm[column] / arm["picks"] if arm["picks"] else 0.0
                needed = needed_per_arm(p1, p2)
                have = min(control["picks"], arm["picks"])
                comparisons.append(
                    {
                        "control": names[0],
                        "arm": name,
                        "rate": rate,
                        "difference": round(p2 - p1, 4),
                        "p_value": _round(
                            two_sided_p(
                                control[column], control["picks"], arm[column], arm["picks"]
                            )
                        ),
                        "picks_per_arm_needed": needed,
                        "picks_per_arm_now": have,
                        "enough": needed is not None and have >= needed,
                    }
                )
    return {"groups": groups, "comparisons": comparisons}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


async def report(db: Database) -> dict[str, Any]:
    async with db.connection() as conn:
        rows = await store.arm_counts(conn)
    return build_report(rows)


def summary_lines(result: dict[str, Any], limit: int = 6) -> list[str]:
    """/status: one line per arm and strategy."""
    lines = []
    for group in result["groups"][:limit]:
        like = group["rates"]["like"]
        dislike = group["rates"]["dislike"]
        low, high = like["ci95"]
        rate = f"{like['rate']:.0%}" if like["rate"] is not None else "—"
        disliked = f"{dislike['rate']:.0%}" if dislike["rate"] is not None else "—"
        lines.append(
            f"{group['arm']} / {group['strategy']}: {group['picks']:,} picks,"
            f" 👍 {rate} ({low:.0%}–{high:.0%}), 👎 {disliked}"
        )
    return lines
