"""One-off worker processes: the result comes back, and a cancelled call stops its
worker instead of leaving it to finish (and write) after the caller cleaned up."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from bot.services.workers import in_worker


def _square(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def _slow(folder: str) -> None:
    Path(folder, "pid").write_text(str(os.getpid()))
    time.sleep(60)
    Path(folder, "finished").write_text("the caller had given up on this")


def _alive(pid: int) -> bool:
    """Running, not merely a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):  # gone, possibly while being read (ESRCH)
        return False
    return state != "Z"


async def _until(condition, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def test_a_fresh_worker_process_returns_the_result() -> None:
    value, pid = await in_worker(None, _square, 12)
    assert value == 144 and pid != os.getpid()


async def test_a_cancelled_call_stops_its_worker(tmp_path: Path) -> None:
    task = asyncio.create_task(in_worker(None, _slow, str(tmp_path)))
    assert await _until((tmp_path / "pid").exists)
    pid = int((tmp_path / "pid").read_text())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _until(lambda: not _alive(pid))
    assert not (tmp_path / "finished").exists()
