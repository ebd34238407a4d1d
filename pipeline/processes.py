"""Worker processes that never outlive the process that started them.

A parent killed outright (`kill -9`, the OOM killer) runs no clean-up, so each worker
watches for itself: once its parent is gone it exits at once. With the workers gone,
multiprocessing's resource tracker (which lives while any of them holds its pipe) sees
the end of its pipe and exits too.
"""

from __future__ import annotations

import os
import threading
import time

POLL_SECONDS = 0.5


def exit_with_parent(parent: int) -> None:
    """Call in the worker (a pool initializer): exit as soon as `parent` is gone."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
