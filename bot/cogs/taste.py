"""/taste show and /taste reset: a member sees and clears what their buttons taught.

Loading this extension also registers the feedback buttons (`bot.views.FeedbackButton`)
with the bot, which is what keeps buttons on old messages working after a restart.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import TuneclusterBot
from bot.embeds import BRAND, plain_list
from bot.services import feedback
from bot.views import FeedbackButton

SHOWN = 10


def taste_embed(taste: feedback.Taste) -> discord.Embed:
    embed = discord.Embed(title="Your taste in this server", colour=BRAND)
    if taste.empty:
        embed.description = (
            "Nothing yet: press 👍 or 👎 under the picks of /recommend and discovery posts."
        )
        return embed

    def listed(ids: list[str]) -> str:
        names = [taste.names.get(t, t) for t in ids[:SHOWN]]
        more = f"\n… and {len(ids) - SHOWN} more" if len(ids) > SHOWN else ""
        return (plain_list(names) + more)[:1024] or "—"

    embed.add_field(name=f"👍 Liked ({len(taste.liked)})", value=listed(taste.liked), inline=False)
    embed.add_field(
        name=f"👎 Not for you ({len(taste.disliked)})", value=listed(taste.disliked), inline=False
    )
    if taste.disliked_artists:
        embed.add_field(
            name=f"Artists you no longer get, after repeated 👎 ({len(taste.disliked_artists)})",
            value=listed(taste.disliked_artists),
            inline=False,
        )
    embed.set_footer(text="/recommend without a track picks from your 👍 · /taste reset clears it")
    return embed


class Taste(commands.Cog):
    taste = app_commands.Group(name="taste", description="What your 👍 and 👎 taught the bot")

    def __init__(self, bot: TuneclusterBot) -> None:
        self.bot = bot

    @taste.command(name="show", description="Your 👍 and 👎 in this server (only you see it)")
    async def show(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        app = self.bot.context
        taste = await feedback.taste_of(
            app.db, interaction.guild_id, interaction.user.id, app.settings.dislike_artist_after
        )
        await interaction.followup.send(embed=taste_embed(taste), ephemeral=True)

    @taste.command(name="reset", description="Forget your 👍 and 👎 in this server")
    async def reset(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        app = self.bot.context
        removed = await feedback.reset_taste(app.db, interaction.guild_id, interaction.user.id)
        text = (
            f"Forgotten: {removed} reaction{'s' if removed != 1 else ''}. Nothing you pressed here is kept."
            if removed
            else "There was nothing to forget."
        )
        await interaction.followup.send(text, ephemeral=True)


async def setup(bot: TuneclusterBot) -> None:
    bot.add_dynamic_items(FeedbackButton)
    await bot.add_cog(Taste(bot))
