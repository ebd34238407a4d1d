"""/discovery set|off|now|show: scheduled discovery posts, for members with Manage Server.

Thin: parse, defer, call `bot.services.discovery`, update the scheduler, format.
"""

from __future__ import annotations

import logging
from datetime import datetime

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import TuneclusterBot
from bot.checks import manage_server
from bot.discovery_messages import deliverer, settings_embed
from bot.scheduler import to_log_channel
from bot.services import discovery as service
from recommender import taxonomy
from recommender.taxonomy import display
from sql import clock
from sql.errors import TuneclusterError

log = logging.getLogger("tunecluster.bot")

EVERY = [app_commands.Choice(name=name, value=name) for name in service.EVERY]
WEEKDAYS = [app_commands.Choice(name=name, value=i) for i, name in enumerate(service.WEEKDAYS)]
CHOICE_LENGTH = 100


def known_buckets(bot: TuneclusterBot) -> tuple[str, ...]:
    """The buckets of the configured taxonomy (the default one if the override is broken)."""
    try:
        return taxonomy.load(bot.settings.genre_map_file).all_buckets
    except TuneclusterError as error:
        log.warning("genre rules unusable, offering the default buckets: %s", error)
        return taxonomy.load(None).all_buckets


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Discovery(
    commands.GroupCog,
    group_name="discovery",
    group_description="Scheduled discovery posts: one new track per genre in a channel",
):
    def __init__(self, bot: TuneclusterBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name="set", description="Post new tracks in a channel on a schedule")
    @app_commands.describe(
        channel="Where to post",
        every="How often",
        at="Local time of day, HH:MM on a 24-hour clock",
        timezone="IANA timezone such as Europe/Paris (default UTC)",
        buckets="Genres, comma-separated (default: what this server asks for most)",
        weekday="Day of weekly posts (default: today)",
    )
    @app_commands.choices(every=EVERY, weekday=WEEKDAYS)
    @manage_server()
    async def set_schedule(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        every: app_commands.Choice[str],
        at: app_commands.Range[str, 4, 8],
        timezone: app_commands.Range[str, 1, 64] | None = None,
        buckets: app_commands.Range[str, 1, 200] | None = None,
        weekday: app_commands.Choice[int] | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        me = channel.guild.me
        if me is not None:
            allowed = channel.permissions_for(me)
            if not (allowed.send_messages and allowed.embed_links):
                raise service.DiscoveryError(
                    f"I can't post embeds in {channel.mention}: give me Send Messages and"
                    " Embed Links there first"
                )
        app = self.bot.context
        row = await service.configure(
            app.db,
            channel.guild.id,
            channel_id=channel.id,
            every=every.value,
            at=at,
            timezone=timezone,
            buckets=buckets,
            weekday=weekday.value if weekday else None,
            known_buckets=known_buckets(self.bot),
        )
        next_post = self._reschedule(row)
        note = "" if self.bot.scheduler else " (this bot runs no scheduler: cron posts them)"
        missing = await service.unmodelled(app.db, row.get("buckets"))
        if missing:
            names = ", ".join(display(b) for b in missing)
            note += (
                f". Note: the bot has no music model for {names} yet, so posts skip"
                " it until one is trained"
            )
        await interaction.followup.send(
            f"Discovery posts set{note}.", embed=settings_embed(row, next_slot=next_post)
        )

    @set_schedule.autocomplete("timezone")
    async def _timezones(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=n, value=n) for n in service.timezone_choices(current)]

    @set_schedule.autocomplete("buckets")
    async def _buckets(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Completes the genre being typed after the last comma."""
        head, _, typed = current.rpartition(",")
        chosen = {part.strip().casefold() for part in head.split(",") if part.strip()}
        prefix = f"{head}, " if head else ""
        choices = []
        for bucket in known_buckets(self.bot):
            name = display(bucket)
            if name.casefold() in chosen or not name.casefold().startswith(
                typed.strip().casefold()
            ):
                continue
            value = f"{prefix}{name}"
            if len(value) <= CHOICE_LENGTH:
                choices.append(app_commands.Choice(name=value, value=value))
        return choices[:25]

    @app_commands.command(name="off", description="Stop the scheduled discovery posts")
    @manage_server()
    async def off(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None
        when = f"{clock.aware_now():%Y-%m-%d %H:%M} UTC"
        was_on = await service.turn_off(
            self.bot.context.db,
            interaction.guild_id,
            f"turned off by {interaction.user} with /discovery off ({when})",
        )
        if self.bot.scheduler is not None:
            self.bot.scheduler.unschedule_guild(interaction.guild_id)
        await interaction.followup.send(
            "Discovery posts are off." if was_on else "Discovery posts were not on.",
            ephemeral=True,
        )

    @app_commands.command(name="now", description="Post a discovery right now")
    @manage_server()
    async def now(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None
        app = self.bot.context
        try:
            post = await service.post_now(
                app.db,
                interaction.guild_id,
                deliverer(self.bot, app.db, app.settings),
                no_repeat_days=app.settings.no_repeat_days,
            )
        except service.ChannelLost as lost:
            if self.bot.scheduler is not None:
                self.bot.scheduler.unschedule_guild(interaction.guild_id)
            await to_log_channel(
                self.bot, app.settings.log_channel_id, f"Discovery posts off: {lost}"
            )
            raise service.DiscoveryError(
                f"I could not post: {lost}. Discovery posts are off; run /discovery set once"
                " the channel is fixed"
            ) from None
        names = ", ".join(f"{p.name} ({display(p.bucket)})" for p in post.picks)
        missing = (
            f" Nothing new left in {', '.join(display(b) for b in post.missing)}."
            if post.missing
            else ""
        )
        await interaction.followup.send(
            f"Posted in <#{post.channel_id}>: {names}.{missing}"[:2000], ephemeral=True
        )

    @app_commands.command(name="show", description="Show this server's discovery schedule")
    @manage_server()
    async def show(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None
        row = await service.settings_of(self.bot.context.db, interaction.guild_id)
        next_post = None
        if row and row.get("enabled"):
            scheduler = self.bot.scheduler
            next_post = scheduler.next_post(interaction.guild_id) if scheduler else None
            schedule = service.Schedule.from_row(row)
            if next_post is None and schedule is not None:
                next_post = schedule.next_slot(clock.aware_now())
        await interaction.followup.send(
            embed=settings_embed(row, next_slot=next_post), ephemeral=True
        )

    def _reschedule(self, row: dict) -> datetime | None:
        if self.bot.scheduler is not None:
            return self.bot.scheduler.schedule_guild(row)
        schedule = service.Schedule.from_row(row)
        return schedule.next_slot(clock.aware_now()) if schedule else None


async def setup(bot: TuneclusterBot) -> None:
    await bot.add_cog(Discovery(bot))
