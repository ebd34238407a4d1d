"""CPU work in a worker process, off the bot's event loop (training, fingerprints).

A one-off worker must never hold the loop up: the loop does not wait for it to finish
(`with ProcessPoolExecutor()` would, on every exit path, for as long as a fit takes), a
cancelled call stops it (its result is unwanted, and it could still write a bundle
after the caller cleaned up), and a bot killed outright takes its worker with it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

from pipeline.processes import exit_with_parent


async def in_worker(executor: Executor | None, function: Callable[..., Any], *args: Any) -> Any:
    """`function(*args)` in `executor`, or in a fresh one-process pool when None."""
    loop = asyncio.get_running_loop()
    if executor is not None:
        return await loop.run_in_executor(executor, function, *args)
    pool = ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=exit_with_parent,
        initargs=(os.getpid(),),
    )
    try:
        return await loop.run_in_executor(pool, function, *args)
    except asyncio.CancelledError:
        _stop_workers(pool)
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Terminate a pool's processes; public only from Python 3.14 (`terminate_workers`)."""
    terminate = getattr(pool, "terminate_workers", None)
    if terminate is not None:
        terminate()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()
