"""/genres: how a track is filed — its genres (own or artists'), buckets, clusters, sound."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import TuneclusterBot
from bot.autocomplete import catalogue_tracks
from bot.embeds import genres_embed
from bot.services.cards import track_cards
from bot.services.genres import genres
from bot.services.recommend import MAX_TEXT, check_text


class Genres(commands.Cog):
    def __init__(self, bot: TuneclusterBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="genres", description="How a track is filed: its genres, buckets and clusters"
    )
    @app_commands.describe(track="A Spotify track link, or a track or artist name")
    @app_commands.autocomplete(track=catalogue_tracks)
    async def genres(
        self, interaction: discord.Interaction, track: app_commands.Range[str, 1, MAX_TEXT]
    ) -> None:
        check_text(track)  # a forged request skips the declared length: one line, no "thinking…"
        await interaction.response.defer(thinking=True)
        app = self.bot.context
        filing = await genres(
            app.db,
            app.recommender,
            track,
            genre_map_file=app.settings.genre_map_file,
            spotify=app.spotify,
            reccobeats=app.reccobeats,
        )
        track_id = filing.track.track_id
        card = (await track_cards(app.db, [track_id])).get(track_id)
        await interaction.followup.send(embed=genres_embed(filing.to_dict(), card))


async def setup(bot: TuneclusterBot) -> None:
    await bot.add_cog(Genres(bot))
