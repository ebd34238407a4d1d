"""`tunecluster run` and `tunecluster sync-commands` as an operator uses them."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.discord_emulator import DiscordEmulator, GuildSpec
from tests.support.cli import run_cli_async, settings_env


async def test_run_without_token_fails_in_one_line(tmp_path: Path) -> None:
    code, _, err = await run_cli_async("run", env=settings_env(), cwd=tmp_path)
    assert code == 1
    assert err.strip().splitlines() == [
        "error: TUNECLUSTER_DISCORD_TOKEN is not set (it is needed to run the bot)"
    ]


async def test_sync_commands_is_a_deliberate_global_sync(tmp_path: Path) -> None:
    guild = GuildSpec("Music")
    async with DiscordEmulator(guilds=[guild]) as emu:
        env = settings_env(
            discord_token=emu.token,
            discord_api_url=emu.api_url,
            discord_gateway_url=emu.gateway_url,
        )
        code, out, err = await run_cli_async("sync-commands", "--json", env=env, cwd=tmp_path)
        assert code == 0, err
        assert {c["name"] for c in emu.synced_commands(None)} >= {"recommend", "genres", "retrain"}
        assert emu.sessions == [] or not emu.sessions  # REST only: no gateway connection
        code, out, err = await run_cli_async(
            "sync-commands", "--guild", str(guild.id), env=env, cwd=tmp_path
        )
        assert code == 0, err
        assert f"to guild {guild.id}" in out
        assert emu.synced_commands(guild.id)
