"""/recommend: tracks that sound like the one given, from the same genre clusters."""

from __future__ import annotations

import asyncio
import io
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import TuneclusterBot
from bot.autocomplete import catalogue_tracks
from bot.services.cards import track_cards
from bot.services.feedback import FeedbackSettings, arm_of, strategy_for, taste_seed
from bot.services.recommend import (
    DEFAULT_PICKS,
    MAX_TEXT,
    MEMBER_MAX_PICKS,
    RecommendSettings,
    check_options,
    recommend,
)
from bot.views import send_recommendation
from pipeline import extras
from recommender import taxonomy

log = logging.getLogger("tunecluster.bot")


def _label(bucket: str) -> str:
    shown = taxonomy.display(bucket)
    return shown if shown != bucket else bucket.title()


BUCKET_CHOICES = [
    app_commands.Choice(name=_label(bucket), value=bucket)
    for bucket in taxonomy.load(None).all_buckets
]


def _cooldown(interaction: discord.Interaction) -> app_commands.Cooldown | None:
    """Per member; the length is a setting (0 turns it off)."""
    seconds = interaction.client.settings.recommend_cooldown_seconds  # type: ignore[attr-defined]
    return app_commands.Cooldown(1, seconds) if seconds > 0 else None


class Recommend(commands.Cog):
    def __init__(self, bot: TuneclusterBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="recommend", description="Tracks that sound like this one, from the same genres"
    )
    @app_commands.describe(
        track="A Spotify track link, or a track or artist name (empty: something for you)",
        count=f"How many picks (1–{MEMBER_MAX_PICKS})",
        bucket="Only pick from this genre",
    )
    @app_commands.choices(bucket=BUCKET_CHOICES)
    @app_commands.autocomplete(track=catalogue_tracks)
    @app_commands.checks.dynamic_cooldown(_cooldown, key=lambda i: i.user.id)
    async def recommend(
        self,
        interaction: discord.Interaction,
        track: app_commands.Range[str, 1, MAX_TEXT] | None = None,
        count: app_commands.Range[int, 1, MEMBER_MAX_PICKS] = DEFAULT_PICKS,
        bucket: app_commands.Choice[str] | None = None,
    ) -> None:
        check_options(track, count, MEMBER_MAX_PICKS)  # before the public "thinking…"
        await interaction.response.defer(thinking=True)
        app = self.bot.context
        config = RecommendSettings.from_settings(app.settings)
        taste = FeedbackSettings.from_settings(app.settings)
        arm = arm_of(interaction.guild_id, taste.arms, taste.shares)
        if track is None:  # something for me: a seed among the member's 👍
            track = await taste_seed(
                app.db, interaction.guild_id, interaction.user.id, config.dislike_artist_after
            )
        result = await recommend(
            app.db,
            app.recommender,
            track,
            config,
            n=count,
            strategy=strategy_for(arm, taste),
            bucket=bucket.value if bucket else None,
            guild_id=interaction.guild_id,
            user_id=interaction.user.id,
            spotify=app.spotify,
            reccobeats=app.reccobeats,
        )
        cards = await track_cards(
            app.db, [result.track.track_id, *(p.track_id for p in result.picks)]
        )
        files = []
        if app.settings.profile_image and result.picks and result.track.track_id in cards:
            png = await _profile_png(cards[result.track.track_id], result, cards)
            if png is not None:
                files.append(discord.File(io.BytesIO(png), filename="profile.png"))
        await send_recommendation(interaction, app.db, result, arm=arm, files=files, cards=cards)


async def _profile_png(seed, result, cards) -> bytes | None:
    """The profile image, or None (logged) when the optional `plot` extra is missing."""
    try:
        render_profile = extras.load("bot.profile_image").render_profile
    except extras.MissingExtra as missing:
        log.warning("no profile image: %s", missing)
        return None
    picks = [cards[p.track_id] for p in result.picks if p.track_id in cards]
    return await asyncio.to_thread(render_profile, seed, picks)


async def setup(bot: TuneclusterBot) -> None:
    await bot.add_cog(Recommend(bot))
