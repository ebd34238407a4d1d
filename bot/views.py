"""The feedback buttons under every pick: 👍, 👎 "not for me", "More like this".

They are discord.py `DynamicItem`s: the custom_id (`tc:<action>:<answer>:<position>:<track>`,
see `bot.services.feedback`) carries what a click needs, and the class is registered when
the bot starts, so a button on a week-old message still works after any number of
restarts. A click is acknowledged at once (an ephemeral defer, well inside Discord's 3 s),
then stored; "More like this" answers with picks for the clicked track, ephemeral or in
the channel (`TUNECLUSTER_MORE_LIKE_THIS_PUBLIC`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import discord

from bot.embeds import recommendation_message
from bot.replies import send_error
from bot.services import feedback
from bot.services.cards import TrackCard, track_cards
from bot.services.recommend import RecommendSettings, recommend
from recommender.serving import Recommendation
from sql.database import Database

if TYPE_CHECKING:
    from bot.app import TuneclusterBot

log = logging.getLogger("tunecluster.feedback")

ROWS = 5  # Discord: five action rows per message, so five picks with buttons
MORE_PICKS = 3
AT_ONCE = 4  # clicks doing their database work and answer at the same time
LABEL = 80


class FeedbackButton(discord.ui.DynamicItem[discord.ui.Button], template=r"(?P<rest>.*)"):
    """Any button with a custom_id (the bot sends no other kind: its other buttons are
    links), so a malformed or forged id, `tc:` or not, still gets its one-line answer."""

    def __init__(
        self,
        custom_id: str,
        *,
        label: str | None = None,
        emoji: str | discord.PartialEmoji | None = None,
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
        row: int | None = None,
    ) -> None:
        super().__init__(
            discord.ui.Button(custom_id=custom_id, label=label, emoji=emoji, style=style, row=row)
        )
        self.raw = custom_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> FeedbackButton:
        # Never raises: discord.py would drop the click silently.
        return cls(item.custom_id or "", label=item.label, emoji=item.emoji, style=item.style)

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        await on_click(interaction, self.raw)


def buttons_for(answer_id: int, position: int, track_id: str, row: int) -> list[FeedbackButton]:
    def make(action: str, **look) -> FeedbackButton:
        return FeedbackButton(
            feedback.custom_id(action, answer_id, position, track_id), row=row, **look
        )

    return [
        make("like", emoji="👍", style=discord.ButtonStyle.success),
        make("dislike", emoji="👎", label="Not for me"),
        make("more", label="More like this", style=discord.ButtonStyle.primary),
    ]


def feedback_view(
    links: discord.ui.View | None, shown: feedback.Shown, urls: dict[str, str | None]
) -> discord.ui.View:
    """One row per pick: its ▶ link button (taken from `links` by URL) and the feedback
    buttons. At most five picks fit a message."""
    view = discord.ui.View(timeout=None)
    by_url = {
        item.url: item
        for item in (links.children if links else [])
        if isinstance(item, discord.ui.Button) and item.url
    }
    for position, track_id in enumerate(shown.track_ids[:ROWS]):
        link = by_url.get(urls.get(track_id) or "")
        if link is not None:
            view.add_item(discord.ui.Button(label=link.label, url=link.url, row=position))
        for button in buttons_for(shown.answer_id, position, track_id, position):
            view.add_item(button)
    return view


# --- a click ------------------------------------------------------------------------------------------


_WORKING: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}


def _after_ack() -> asyncio.Semaphore:
    """Bounds the clicks doing their work (database, answer) at once. Under a burst the
    waiting ones cost nothing, so the event loop stays free to acknowledge new clicks
    within Discord's 3 s; the work itself is bounded by the database anyway. One per
    event loop (a semaphore belongs to the loop it first waited on)."""
    loop = asyncio.get_running_loop()
    if loop not in _WORKING:
        _WORKING[loop] = asyncio.Semaphore(AT_ONCE)
    return _WORKING[loop]


def _said(reacted: feedback.Reacted) -> str:
    name = f"“{reacted.track_name}”"
    verdict = reacted.click.action
    if reacted.previous == verdict:
        return f"Already noted: {'👍' if verdict == 'like' else '👎'} {name}."
    changed = " (changed)" if reacted.previous else ""
    if verdict == "like":
        return f"👍 Noted{changed}: {name} joins your taste (see /taste)."
    return f"👎 Noted{changed}: you won't be offered {name} again."


async def on_click(interaction: discord.Interaction, raw: str) -> None:
    """Acknowledge first (Discord's 3 s), then store; every refusal is one ephemeral line."""
    bot: TuneclusterBot = interaction.client  # type: ignore[assignment]
    try:
        click = feedback.parse_custom_id(raw)
        app = bot.context
        config = feedback.FeedbackSettings.from_settings(app.settings)
        public = click.action == "more" and config.more_public
        await interaction.response.defer(ephemeral=not public, thinking=True)
        async with _after_ack():  # a burst of clicks: the acknowledgements go first
            reacted = await feedback.react(
                app.db, click, guild_id=interaction.guild_id, user_id=interaction.user.id
            )
            if click.action == "more":
                await _more_like_this(interaction, bot, reacted, config, public)
            else:
                await interaction.followup.send(_said(reacted), ephemeral=True)
    except Exception as error:  # one line for the member; the unexpected go to the log
        await send_error(interaction, error)


async def _more_like_this(
    interaction: discord.Interaction,
    bot: TuneclusterBot,
    reacted: feedback.Reacted,
    config: feedback.FeedbackSettings,
    public: bool,
) -> None:
    app = bot.context
    arm = feedback.arm_of(interaction.guild_id, config.arms, config.shares)
    result = await recommend(
        app.db,
        app.recommender,
        reacted.click.track_id,
        RecommendSettings.from_settings(app.settings),
        n=MORE_PICKS,
        strategy=feedback.strategy_for(arm, config),
        guild_id=interaction.guild_id,
        user_id=interaction.user.id,
    )
    await send_recommendation(
        interaction, app.db, result, arm=arm, source="more", ephemeral=not public
    )


async def send_recommendation(
    interaction: discord.Interaction,
    db: Database,
    result: Recommendation,
    *,
    arm: str,
    source: str = "recommend",
    ephemeral: bool = False,
    files: Sequence[discord.File] = (),
    cards: dict[str, TrackCard] | None = None,
) -> None:
    """A recommendation as a follow-up: embeds, and a row of buttons per pick."""
    cards = cards or await track_cards(
        db, [result.track.track_id, *(p.track_id for p in result.picks)]
    )
    embeds, links = recommendation_message(result, cards)
    view = discord.utils.MISSING
    if result.picks:
        shown = await feedback.record_recommendation(
            db, result, guild_id=interaction.guild_id, user_id=interaction.user.id, arm=arm,
            source=source,
        )  # fmt: skip
        urls = {t: (cards[t].url if t in cards else None) for t in shown.track_ids}
        view = feedback_view(links, shown, urls)
    await interaction.followup.send(
        embeds=embeds, view=view, files=list(files), ephemeral=ephemeral
    )
