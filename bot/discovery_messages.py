"""How a discovery post looks and how it reaches a channel (discord.py side).

The embeds are `/recommend`'s pick embeds with a "Why" that fits a discovery; delivery
goes through Discord's REST API only (`POST /channels/{id}/messages`), so the bot and the
REST-only command line share it. 403 and 404 become `ChannelLost`.
"""

from __future__ import annotations

from typing import Any

import discord

from bot.embeds import pick_embed
from bot.services.cards import TrackCard
from bot.services.discovery import (
    STRATEGY,
    ChannelLost,
    Deliver,
    DiscoveryPost,
    Schedule,
)
from bot.services.feedback import FeedbackSettings, arm_of, record_shown
from bot.views import ROWS, feedback_view
from recommender.discovery import DiscoveryPick
from recommender.serving import Pick
from recommender.taxonomy import display
from sql import clock
from sql.database import Database

BUTTON_LABEL = 80


def _why(pick: DiscoveryPick, days: float) -> str:
    fresh = f", not shown in this server for {days:g} days" if days > 0 else ""
    return (
        f"A {display(pick.bucket)} track from a group of {pick.cluster_size:,} "
        f"similar-sounding ones{fresh}"
    )


def pick_message_embed(pick: DiscoveryPick, card: TrackCard | None, days: float) -> discord.Embed:
    shown = Pick(
        pick.track_id, pick.name, pick.artists, pick.bucket, pick.cluster, float("nan"), []
    )
    embed = pick_embed(shown, card)
    for index, item in enumerate(embed.fields):
        if item.name == "Why":
            embed.set_field_at(index, name="Why", value=_why(pick, days)[:1024], inline=False)
    return embed


def discovery_message(
    post: DiscoveryPost, cards: dict[str, TrackCard]
) -> tuple[str, list[discord.Embed], discord.ui.View]:
    """A one-line header, one embed and one link button per pick."""
    genres = ", ".join(display(p.bucket) for p in post.picks)
    content = f"🎧 **Discovery** — something new in {genres}"
    embeds, view = [], discord.ui.View(timeout=None)
    for pick in post.picks:
        card = cards.get(pick.track_id)
        embeds.append(pick_message_embed(pick, card, post.no_repeat_days))
        if card and card.url:
            label = f"▶ {pick.name}"[:BUTTON_LABEL]
            view.add_item(discord.ui.Button(label=label, url=card.url))
    return content, embeds, view


def deliverer(client: discord.Client, db: Database | None = None, settings: Any = None) -> Deliver:
    """Delivery through `client`'s REST session (no gateway needed). With `db` and the
    settings, every pick carries the feedback buttons (bot/views.py): the picks are
    recorded first, and a post of more than five picks (five rows of buttons fit a
    message) goes out as several messages, the header on the first."""

    async def deliver(post: DiscoveryPost, cards: dict[str, TrackCard]) -> int | None:
        channel = client.get_partial_messageable(post.channel_id, guild_id=post.guild_id)
        first: int | None = None
        for part, content, embeds, view in await _messages(post, cards, db, settings):
            try:
                message = await channel.send(content=content, embeds=embeds, view=view)
            except discord.Forbidden as error:
                if part:
                    raise
                raise ChannelLost(
                    f"the bot may not post in channel {post.channel_id} any more"
                    f" ({error.status} {error.text or 'Forbidden'})"
                ) from None
            except discord.NotFound as error:
                if part:
                    raise
                raise ChannelLost(
                    f"channel {post.channel_id} no longer exists ({error.status} {error.text or 'Not Found'})"
                ) from None
            first = first or message.id
        return first

    return deliver


async def _messages(
    post: DiscoveryPost, cards: dict[str, TrackCard], db: Database | None, settings: Any
) -> list[tuple[int, str | None, list[discord.Embed], discord.ui.View]]:
    content, embeds, links = discovery_message(post, cards)
    if db is None or settings is None:
        return [(0, content, embeds, links)]
    config = FeedbackSettings.from_settings(settings)
    out = []
    for part, start in enumerate(range(0, len(post.picks), ROWS)):
        picks = post.picks[start : start + ROWS]
        shown = await record_shown(
            db,
            guild_id=post.guild_id,
            user_id=None,
            source="discovery",
            track_ids=[p.track_id for p in picks],
            seed_track_id=None,
            strategy=STRATEGY,
            arm=arm_of(post.guild_id, config.arms, config.shares),
            model_version=post.version,
        )
        urls = {p.track_id: (cards[p.track_id].url if p.track_id in cards else None) for p in picks}
        view = feedback_view(links, shown, urls)
        out.append((part, content if part == 0 else None, embeds[start : start + ROWS], view))
    return out


def settings_embed(row: dict | None, *, next_slot=None) -> discord.Embed:
    """`/discovery show`: channel, schedule, genres, state (with the reason when off)."""
    embed = discord.Embed(title="Discovery posts", colour=discord.Colour.dark_grey())
    if row is None or not row.get("discovery_channel_id"):
        embed.description = "Not set up in this server. Use `/discovery set` to start."
        return embed
    schedule = Schedule.from_row(row)
    state = "on" if row.get("enabled") else f"off — {row.get('disabled_reason') or 'turned off'}"
    embed.add_field(name="State", value=state[:1024], inline=False)
    embed.add_field(name="Channel", value=f"<#{row['discovery_channel_id']}>", inline=True)
    embed.add_field(name="When", value=schedule.describe() if schedule else "—", inline=True)
    buckets = [b for b in (row.get("buckets") or "").split(",") if b]
    embed.add_field(
        name="Genres",
        value=", ".join(display(b) for b in buckets)
        or "a rotation through the genres this server asks for most",
        inline=False,
    )
    if row.get("enabled") and next_slot is not None:
        embed.add_field(name="Next post", value=f"<t:{int(next_slot.timestamp())}:F>", inline=True)
    if row.get("last_post_at"):
        last = int(clock.to_aware(row["last_post_at"]).timestamp())
        embed.add_field(name="Last post", value=f"<t:{last}:R>", inline=True)
    embed.set_footer(text=f"{row.get('posts') or 0} posts so far")
    return embed
