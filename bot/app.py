"""The Discord bot: discord.py wiring around the plain async services.

The bot owns the long-lived resources (database pool, Spotify clients, the process pool
for training, the scheduler) and hands them to thin cogs. Discord's REST base and
gateway come from the settings, so an API proxy or the test emulator can stand in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pkgutil
import signal
import time
from collections.abc import Iterator

import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot import cogs, metrics
from bot.monitoring import Monitor
from bot.replies import outcome_of, send_error
from bot.scheduler import BotScheduler, build_scheduler
from bot.services.context import AppContext
from bot.settings import Settings
from pipeline import search
from sql.errors import TuneclusterError

log = logging.getLogger("tunecluster.bot")

# What the bot needs and why (docs/discord.md): View Channel and Send Messages to post
# discovery messages in the channel a server picks, Embed Links because every answer is
# an embed. Slash-command answers need no channel permission; no privileged intents.
PERMISSIONS = discord.Permissions(view_channel=True, send_messages=True, embed_links=True)
SCOPES = ("bot", "applications.commands")


def invite_url(application_id: int) -> str:
    """The link a server owner opens to add the bot, with exactly the permissions above."""
    return discord.utils.oauth_url(application_id, permissions=PERMISSIONS, scopes=SCOPES)


def cog_extensions() -> list[str]:
    """Every module of `bot/cogs/`, as a discord.py extension (each has `setup(bot)`), in
    name order: a new command is a new module there and nothing else."""
    return [info.name for info in pkgutil.iter_modules(cogs.__path__, f"{cogs.__name__}.")]


def point_discord_at(api_url: str, gateway_url: str) -> None:
    """Send discord.py's REST calls and gateway connection to the configured URLs."""
    discord.http.Route.BASE = api_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


class TuneclusterTree(app_commands.CommandTree):
    """Every failure a command does not handle itself ends here, as one ephemeral line.
    Every command is counted and timed here too (`bot.metrics`)."""

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        interaction.extras["started"] = time.perf_counter()
        return True

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await send_error(interaction, error)
        count_interaction(interaction, outcome_of(error))


def count_interaction(interaction: discord.Interaction, outcome: str) -> None:
    started = interaction.extras.get("started")
    if started is None or interaction.command is None:
        return
    name = interaction.command.qualified_name
    metrics.interaction_done(name, outcome, time.perf_counter() - started)


class TuneclusterBot(commands.Bot):
    """A slash-command bot; it needs no privileged intents."""

    def __init__(self, settings: Settings, *, serving: bool = True, **options) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            tree_cls=TuneclusterTree,
            help_command=None,
            **options,
        )
        self.settings = settings
        self.serving = serving  # False: only log in over REST to register the commands
        self.app: AppContext | None = None
        self.scheduler: BotScheduler | None = None
        self.monitor: Monitor | None = None

    @property
    def context(self) -> AppContext:
        if self.app is None:
            raise RuntimeError("the bot has not been set up yet")
        return self.app

    async def setup_hook(self) -> None:
        """Runs at login, before the gateway connects."""
        for name in cog_extensions():
            await self.load_extension(name)
        if self.serving:
            self.app = await AppContext.open(self.settings)
            search.cache_for(self.app.db).warm(self.app.db)  # autocomplete's word index
            if self.application_id is not None:
                log.info("invite link: %s", invite_url(self.application_id))
            await self.sync_dev_guild()
            await self.register_if_unregistered()
            self.scheduler = build_scheduler(self, self.app)
            if self.scheduler is not None:
                await self.scheduler.start()
            if self.settings.metrics_port is not None:
                self.monitor = Monitor(self, self.settings.metrics_host, self.settings.metrics_port)
                await self.monitor.start()

    async def sync_dev_guild(self) -> None:
        """Copy the commands to the development guild, where they show at once."""
        guild_id = self.settings.dev_guild_id
        if guild_id is None:
            return
        guild = discord.Object(id=guild_id)
        self.tree.copy_global_to(guild=guild)
        synced = await self.tree.sync(guild=guild)
        log.info("synced %d commands to the development guild %s", len(synced), guild_id)

    async def register_if_unregistered(self) -> None:
        """Without a development guild, a first start would leave every server with no
        commands: when Discord holds none for this application, register them globally
        once (later changes stay a deliberate `tunecluster sync-commands`)."""
        if self.settings.dev_guild_id is not None:
            return
        try:
            registered = await self.tree.fetch_commands()
            if registered:
                return
            synced = await self.tree.sync()
        except discord.HTTPException as error:
            log.warning(
                "could not check or register the slash commands (%s): run "
                "`tunecluster sync-commands` once, or set TUNECLUSTER_DEV_GUILD_ID",
                error,
            )
            return
        log.warning(
            "Discord held no slash commands for this bot: registered %d globally. They can "
            "take up to an hour to show in servers; set TUNECLUSTER_DEV_GUILD_ID to a "
            "server's id to have them there at once (docs/discord.md)",
            len(synced),
        )

    async def on_ready(self) -> None:
        log.info("connected as %s to %d guilds", self.user, len(self.guilds))

    async def on_app_command_completion(
        self, interaction: discord.Interaction, _command: app_commands.Command
    ) -> None:
        count_interaction(interaction, "ok")

    async def close(self) -> None:
        if self.monitor is not None:
            await self.monitor.stop()
            self.monitor = None
        if self.scheduler is not None:
            await self.scheduler.shutdown()
            self.scheduler = None
        if self.app is not None:
            await self.app.close()
            self.app = None
        await super().close()


class ShardedTuneclusterBot(TuneclusterBot, commands.AutoShardedBot):
    """The same bot, sharded (advised from about 1,000 guilds)."""


def create_bot(settings: Settings, *, serving: bool = True, **options) -> TuneclusterBot:
    """The bot the settings ask for: one connection, automatic sharding, or exactly the
    shards `TUNECLUSTER_SHARD_IDS` of `TUNECLUSTER_SHARD_COUNT` (one host's share)."""
    point_discord_at(settings.discord_api_url, settings.discord_gateway_url)
    if settings.shard_count is not None:
        options.setdefault("shard_count", settings.shard_count)
        options.setdefault("shard_ids", settings.shard_range)
        return ShardedTuneclusterBot(settings, serving=serving, **options)
    cls = ShardedTuneclusterBot if settings.sharded else TuneclusterBot
    return cls(settings, serving=serving, **options)


@contextlib.contextmanager
def reaching_discord(settings: Settings) -> Iterator[None]:
    """Logging in can fail for two reasons people can act on: say which, in one line."""
    try:
        yield
    except discord.LoginFailure:
        raise TuneclusterError("Discord refused the token (TUNECLUSTER_DISCORD_TOKEN)") from None
    except (discord.GatewayNotFound, discord.HTTPException, OSError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise TuneclusterError(
            f"cannot reach Discord at {settings.discord_api_url}: {reason}"
        ) from None


async def run_bot(settings: Settings) -> None:
    """Log in and serve until stopped; a missing token fails in one line before anything."""
    token = settings.require_discord_token()
    with reaching_discord(settings):
        async with create_bot(settings) as bot:
            close_on_signals(bot)
            await bot.start(token)


def close_on_signals(bot: TuneclusterBot) -> None:
    """SIGINT and SIGTERM close the bot (gateway, scheduler, monitor, pool), and `start`
    then returns. Cancelling the main task, asyncio's default for SIGINT, can be lost:
    after 10,000 answers a bot was still in `start` a minute after SIGINT, its task
    dump showing nothing else pending. SIGTERM (systemd's stop) had no handler at all."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bot.close()))


async def sync_global_commands(settings: Settings, guild_id: int | None = None) -> list[str]:
    """Register the commands with Discord (globally, or in one guild): a deliberate act,
    because global changes take up to an hour to show and count against a daily quota."""
    token = settings.require_discord_token()
    bot = create_bot(settings, serving=False)
    try:
        with reaching_discord(settings):
            await bot.login(token)  # REST only; setup_hook loads the cogs
        guild = discord.Object(id=guild_id) if guild_id else None
        if guild is not None:
            bot.tree.copy_global_to(guild=guild)
        synced = await bot.tree.sync(guild=guild)
        return [command.name for command in synced]
    finally:
        await bot.close()
