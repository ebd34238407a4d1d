"""The pieces an end-to-end run of the bot needs: a trained demo catalogue and the real
bot logged into the loopback Discord emulator. Shared by the end-to-end tests and by
benchmarks/bot_interactions.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.app import TuneclusterBot, create_bot
from bot.services.train import TrainSettings, train
from bot.settings import load_settings
from recommender import demo_catalogue
from sql.database import Database
from sql.migrate import init_schema
from tests.fakes.discord_emulator import DiscordEmulator


async def trained_demo(url: str, models_dir: Path, *, tracks: int, seed: int) -> list[str]:
    """A migrated database holding a generated catalogue and an active model; the track
    ids in catalogue order."""
    db = Database(url)
    try:
        await init_schema(db)
        demo = demo_catalogue.generate(tracks=tracks, seed=seed)
        await demo_catalogue.write(db, demo)
        config = TrainSettings.from_settings(load_settings(models_dir=models_dir, k_max=8))
        with ThreadPoolExecutor(1) as pool:  # the bot's own /retrain uses a process pool
            await train(db, config, executor=pool)
        return [row["track_id"] for row in demo.tracks]
    finally:
        await db.dispose()


@asynccontextmanager
async def running_bot(emu: DiscordEmulator, **settings: Any) -> AsyncIterator[TuneclusterBot]:
    """tunecluster's bot connected to `emu`, ready; closed cleanly on exit."""
    settings = {"reccobeats_url": "http://127.0.0.1:9/v1", **settings}  # never the real one
    config = load_settings(
        discord_token=emu.token,
        discord_api_url=emu.api_url,
        discord_gateway_url=emu.gateway_url,
        **settings,
    )
    with emu.installed():
        bot = create_bot(config, guild_ready_timeout=0.2)
        runner = asyncio.create_task(bot.start(emu.token))
        try:
            await asyncio.wait_for(bot.wait_until_ready(), 20)
            yield bot
        finally:
            await bot.close()
            await runner
