"""`tunecluster run` and `tunecluster sync-commands` as an operator uses them."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.fakes.discord_emulator import DiscordEmulator, GuildSpec


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNECLUSTER_")}
    env.update({f"TUNECLUSTER_{k.upper()}": v for k, v in values.items()})
    return env


async def _tunecluster(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args,
        env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, out.decode(), err.decode()


async def test_run_without_token_fails_in_one_line(tmp_path: Path) -> None:
    code, _, err = await _tunecluster("run", env=_env(), cwd=tmp_path)
    assert code == 1
    assert err.strip().splitlines() == [
        "error: TUNECLUSTER_DISCORD_TOKEN is not set (it is needed to run the bot)"
    ]


async def test_sync_commands_is_a_deliberate_global_sync(tmp_path: Path) -> None:
    guild = GuildSpec("Music")
    async with DiscordEmulator(guilds=[guild]) as emu:
        env = _env(
            discord_token=emu.token,
            discord_api_url=emu.api_url,
            discord_gateway_url=emu.gateway_url,
        )
        code, out, err = await _tunecluster("sync-commands", "--json", env=env, cwd=tmp_path)
        assert code == 0, err
        assert {c["name"] for c in emu.synced_commands(None)} >= {"recommend", "genres", "retrain"}
        assert emu.sessions == [] or not emu.sessions  # REST only: no gateway connection
        code, out, err = await _tunecluster(
            "sync-commands", "--guild", str(guild.id), env=env, cwd=tmp_path
        )
        assert code == 0, err
        assert f"to guild {guild.id}" in out
        assert emu.synced_commands(guild.id)
