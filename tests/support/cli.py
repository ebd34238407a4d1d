"""`tunecluster` as a user runs it: a child process `python -m bot` whose settings are
only those the test gives (none of this process's TUNECLUSTER_* variables leak in)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.discord_emulator import DiscordEmulator


def settings_env(**settings: Any) -> dict[str, str]:
    """This process's environment without its TUNECLUSTER_* variables, plus `settings`
    as TUNECLUSTER_<NAME> (`database_url=…` is TUNECLUSTER_DATABASE_URL)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNECLUSTER_")}
    env.update({f"TUNECLUSTER_{name.upper()}": str(value) for name, value in settings.items()})
    return env


def loopback_settings(emu: DiscordEmulator) -> dict[str, str]:
    """The settings (for `settings_env`) that point a `tunecluster` process at the loopback
    Discord `emu`, and its ReccoBeats client nowhere: nothing leaves the machine."""
    return {
        "discord_token": emu.token,
        "discord_api_url": emu.api_url,
        "discord_gateway_url": emu.gateway_url,
        "reccobeats_url": "http://127.0.0.1:9",
        "http_max_attempts": "1",
    }


def run_cli(
    *args: str | bytes,
    env: dict[str, str],
    cwd: Path | None = None,
    timeout: float = 120,
    text: bool = True,
) -> subprocess.CompletedProcess:
    """`tunecluster *args` to completion; its output captured (bytes with `text=False`)."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=text,
        env=env,
        cwd=cwd,
        timeout=timeout,
    )


async def run_cli_async(
    *args: str,
    env: dict[str, str],
    cwd: Path | None = None,
    timeout: float = 120,  # noqa: ASYNC109
) -> tuple[int, str, str]:
    """`tunecluster *args` without blocking the loop: (exit status, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args,
        env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    return process.returncode or 0, out.decode(), err.decode()
