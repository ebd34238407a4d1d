"""Members' reactions to picks: the picks shown with buttons, the reactions, taste reads,
the report's counts, a guild's deletion, and liked tracks as sessions.

`feedback_pick` holds every pick shown with feedback buttons (its `answer_id` and
`position` are what a button's custom_id names); `reaction` holds one row per member and
pick, copying what the pick was, so a reaction stands on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, and_, case, delete, func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.base import ColumnCollection

from sql.schema import (
    artist,
    artist_track,
    feedback_pick,
    guild_settings,
    reaction,
    recommendation_log,
    track,
)
from sql.upsert import insert_or_update

LIKE, DISLIKE = "like", "dislike"
VERDICTS = (LIKE, DISLIKE)
MEMBER_HISTORY = 2000  # reactions read per member for taste (newest first)
SESSION_PREFIX = "taste"


async def record_shown(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> int:
    """Picks just shown with buttons (answer_id, position, guild_id, user_id, source,
    track_id, seed_track_id, strategy, arm, model_version)."""
    if rows:
        await conn.execute(feedback_pick.insert(), list(rows))
    return len(rows)


async def click_context(
    conn: AsyncConnection, answer_id: int, position: int, guild_id: int, user_id: int
) -> dict | None:
    """What a click needs, in one statement: the pick shown, whether its track is still
    in the catalogue (`present`, with its name and primary artist), and the member's
    previous verdict on it. None when no such pick was shown."""
    previous = reaction.alias("previous")
    query = (
        select(
            feedback_pick,
            track.c.track_id.label("present"),
            track.c.name.label("track_name"),
            artist_track.c.artist_id,
            previous.c.verdict.label("previous"),
        )
        .select_from(
            feedback_pick.outerjoin(track, track.c.track_id == feedback_pick.c.track_id)
            .outerjoin(
                artist_track,
                and_(
                    artist_track.c.track_id == feedback_pick.c.track_id,
                    artist_track.c.position == 0,
                ),
            )
            .outerjoin(
                previous,
                and_(
                    previous.c.guild_id == guild_id,
                    previous.c.user_id == user_id,
                    previous.c.answer_id == feedback_pick.c.answer_id,
                    previous.c.position == feedback_pick.c.position,
                ),
            )
        )
        .where(feedback_pick.c.answer_id == answer_id, feedback_pick.c.position == position)
        .limit(1)
    )
    row = (await conn.execute(query)).mappings().first()
    return dict(row) if row else None


async def put_reaction(conn: AsyncConnection, row: dict[str, Any]) -> None:
    """Insert or change a member's reaction to a pick. A verdict replaces the previous one;
    "more like this" (`more`) is kept once set, and a `more` click keeps the verdict."""
    await conn.execute(insert_or_update(conn.dialect, reaction, _reacted).values(**row))


def _reacted(new: ColumnCollection[str, Any]) -> dict[str, ColumnElement[Any]]:
    """What an existing reaction becomes; `new` holds the arriving values."""
    return {
        "verdict": func.coalesce(new.verdict, reaction.c.verdict),
        "more": case((new.more == literal(True), literal(True)), else_=reaction.c.more),
        "updated_at": new.updated_at,
    }


async def member_reactions(conn: AsyncConnection, guild_id: int, user_id: int) -> list[dict]:
    """A member's reactions in one guild, newest first (bounded)."""
    query = (
        select(
            reaction.c.track_id,
            reaction.c.artist_id,
            reaction.c.verdict,
            reaction.c.more,
            reaction.c.updated_at,
        )
        .where(reaction.c.guild_id == guild_id, reaction.c.user_id == user_id)
        .order_by(reaction.c.updated_at.desc())
        .limit(MEMBER_HISTORY)
    )
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def clear_member(conn: AsyncConnection, guild_id: int, user_id: int) -> int:
    result = await conn.execute(
        delete(reaction).where(reaction.c.guild_id == guild_id, reaction.c.user_id == user_id)
    )
    return result.rowcount or 0


async def delete_guild(conn: AsyncConnection, guild_id: int) -> dict[str, int]:
    """Everything stored about a guild and its members: reactions, picks shown, the
    recommendation log, the guild's settings."""
    removed = {}
    for table in (reaction, feedback_pick, recommendation_log, guild_settings):
        result = await conn.execute(delete(table).where(table.c.guild_id == guild_id))
        removed[table.name] = result.rowcount or 0
    return removed


async def names(conn: AsyncConnection, track_ids: Iterable[str]) -> dict[str, str]:
    ids = list(dict.fromkeys(track_ids))
    if not ids:
        return {}
    rows = await conn.execute(
        select(track.c.track_id, track.c.name).where(track.c.track_id.in_(ids))
    )
    return {t: n for t, n in rows}


async def artist_names(conn: AsyncConnection, artist_ids: Iterable[str]) -> dict[str, str]:
    ids = list(dict.fromkeys(artist_ids))
    if not ids:
        return {}
    query = select(artist.c.artist_id, artist.c.name).where(artist.c.artist_id.in_(ids))
    return {a: n for a, n in await conn.execute(query)}


async def arm_counts(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Per arm and strategy: answers, picks shown, and picks that got at least one
    reaction, like, dislike and "more like this" (each pick counts once, however many
    members reacted)."""
    per_pick = (
        select(
            reaction.c.answer_id,
            reaction.c.position,
            func.count().label("reactions"),
            func.max(case((reaction.c.verdict == LIKE, 1), else_=0)).label("liked"),
            func.max(case((reaction.c.verdict == DISLIKE, 1), else_=0)).label("disliked"),
            func.max(case((reaction.c.more == literal(True), 1), else_=0)).label("more"),
        )
        .group_by(reaction.c.answer_id, reaction.c.position)
        .subquery()
    )
    joined = feedback_pick.outerjoin(
        per_pick,
        and_(
            per_pick.c.answer_id == feedback_pick.c.answer_id,
            per_pick.c.position == feedback_pick.c.position,
        ),
    )
    query = (
        select(
            feedback_pick.c.arm,
            feedback_pick.c.strategy,
            func.count(func.distinct(feedback_pick.c.answer_id)).label("answers"),
            func.count().label("picks"),
            func.count(per_pick.c.answer_id).label("reacted"),
            func.coalesce(func.sum(per_pick.c.reactions), 0).label("reactions"),
            func.coalesce(func.sum(per_pick.c.liked), 0).label("liked"),
            func.coalesce(func.sum(per_pick.c.disliked), 0).label("disliked"),
            func.coalesce(func.sum(per_pick.c.more), 0).label("more"),
        )
        .select_from(joined)
        .group_by(feedback_pick.c.arm, feedback_pick.c.strategy)
        .order_by(feedback_pick.c.arm, feedback_pick.c.strategy)
    )
    return [
        {key: (int(value) if key not in ("arm", "strategy") else value) for key, value in r.items()}
        for r in (await conn.execute(query)).mappings()
    ]


async def liked_sessions_frame(conn: AsyncConnection) -> pd.DataFrame:
    """Each member's liked tracks as one session, in the shape of
    `sql.frames.playlist_entries_frame` (playlist_id, track_id, position): playlist_id is
    "taste:<guild>:<member>", position the order of liking. A track the member also
    disliked (on another pick) is left out."""
    disliked = (
        select(reaction.c.guild_id, reaction.c.user_id, reaction.c.track_id)
        .where(reaction.c.verdict == DISLIKE)
        .subquery()
    )
    query = (
        select(
            reaction.c.guild_id,
            reaction.c.user_id,
            reaction.c.track_id,
            func.min(reaction.c.updated_at).label("at"),
        )
        .select_from(
            reaction.outerjoin(
                disliked,
                and_(
                    disliked.c.guild_id == reaction.c.guild_id,
                    disliked.c.user_id == reaction.c.user_id,
                    disliked.c.track_id == reaction.c.track_id,
                ),
            )
        )
        .where(reaction.c.verdict == LIKE, disliked.c.track_id.is_(None))
        .group_by(reaction.c.guild_id, reaction.c.user_id, reaction.c.track_id)
        .order_by(reaction.c.guild_id, reaction.c.user_id, "at", reaction.c.track_id)
    )
    rows = (await conn.execute(query)).all()
    frame = pd.DataFrame(
        [(f"{SESSION_PREFIX}:{g}:{u}", t) for g, u, t, _ in rows],
        columns=["playlist_id", "track_id"],
    )
    frame["position"] = frame.groupby("playlist_id").cumcount().astype("int64")
    return frame
