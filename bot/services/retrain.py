"""One retraining at a time per process, for /retrain and the scheduled job."""

from __future__ import annotations

import asyncio
from datetime import datetime

from bot.services.train import TrainReport, TrainSettings, train
from sql import clock
from sql.database import Database
from sql.errors import TuneclusterError


class TrainingBusy(TuneclusterError):
    """A retraining is already running in this process."""


class Retrainer:
    """Refuses a second run while one is going; the fit itself runs in a worker process.

    `start` checks and starts in one step with no await between, so two requests that
    arrive together cannot both pass the check.
    """

    def __init__(self) -> None:
        self.task: asyncio.Task[TrainReport] | None = None
        self.started_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def start(self, db: Database, config: TrainSettings) -> asyncio.Task[TrainReport]:
        if self.running:
            since = self.started_at.strftime("%H:%M UTC") if self.started_at else "earlier"
            raise TrainingBusy(f"a retraining is already running (since {since}); wait for it")
        self.started_at = clock.aware_now()
        self.task = asyncio.create_task(train(db, config), name="retrain")
        return self.task

    async def run(self, db: Database, config: TrainSettings) -> TrainReport:
        return await self.start(db, config)
