"""/retrain, /status and /sync: for the bot's owners and administrators.

`default_permissions` hides them from members by default; the checks enforce it.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import TuneclusterBot
from bot.checks import administrator, owner_only, owner_or_listed_admin
from bot.embeds import status_embed, train_embed
from bot.replies import message_for
from bot.services import feedback
from bot.services.retrain import TrainReport
from bot.services.status import status
from bot.services.train import TrainSettings

log = logging.getLogger("tunecluster.bot")


class Admin(commands.Cog):
    def __init__(self, bot: TuneclusterBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="retrain", description="Retrain the genre models from the current catalogue"
    )
    @app_commands.default_permissions(administrator=True)
    @owner_or_listed_admin()
    async def retrain(self, interaction: discord.Interaction) -> None:
        app = self.bot.context
        task = app.retrainer.start(app.db, TrainSettings.from_settings(app.settings))
        await interaction.response.send_message(
            "Retraining started. The current model keeps serving; I'll post the result here."
        )
        task.add_done_callback(
            lambda done: self.bot.loop.create_task(self._report(interaction, done))
        )

    async def _report(self, interaction: discord.Interaction, done) -> None:
        """Tell whoever asked: the summary, or why it failed (the old model still serves)."""
        if done.cancelled():
            text, embed = "Retraining was cancelled; the previous model keeps serving.", None
        elif done.exception() is not None:
            error = done.exception()
            log.error("retraining failed", exc_info=error)
            text = f"Retraining failed: {message_for(error)} The previous model keeps serving."
            embed = None
        else:
            report: TrainReport = done.result()
            text, embed = None, train_embed(report.to_dict())
        try:
            await interaction.followup.send(content=text, embed=embed)
        except discord.HTTPException:  # the 15-minute interaction token ran out
            if isinstance(interaction.channel, discord.abc.Messageable):
                await interaction.channel.send(content=text, embed=embed)

    @app_commands.command(
        name="status", description="Catalogue, model, background jobs and Spotify access"
    )
    @app_commands.default_permissions(administrator=True)
    @administrator()
    async def status(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        app = self.bot.context
        report = await status(app.db, spotify_configured=app.spotify is not None)
        report.feedback = feedback.summary_lines(await feedback.report(app.db))
        if app.retrainer.running:
            report.jobs.insert(
                0, {"job": "retrain", "outcome": "running", "started_at": app.retrainer.started_at}
            )
        await interaction.followup.send(embed=status_embed(report.to_dict()), ephemeral=True)

    @app_commands.command(
        name="sync", description="Register the bot's commands with Discord everywhere (owners)"
    )
    @app_commands.default_permissions(administrator=True)
    @owner_only()
    async def sync(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        synced = await self.bot.tree.sync()
        await interaction.followup.send(
            f"Synced {len(synced)} commands globally; Discord may take up to an hour to show them.",
            ephemeral=True,
        )


async def setup(bot: TuneclusterBot) -> None:
    await bot.add_cog(Admin(bot))
