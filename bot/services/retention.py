"""The retention setting: user data untouched for MLBOT_RETENTION_DAYS (default 90) expires.

A sweep runs when the Discord client is ready and then every hour; each process sharing a
database may sweep, since deleting what is already gone changes nothing.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import TYPE_CHECKING, Callable

from storage.db import DatabaseError
from storage.user_data import expire_user_data

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

DEFAULT_DAYS = 90
SWEEP_INTERVAL = 3600.0


def retention_days() -> float:
    """MLBOT_RETENTION_DAYS; 0 keeps data until /forget. A bad value is logged and the default used."""
    raw = os.environ.get("MLBOT_RETENTION_DAYS", "").strip()
    if not raw:
        return DEFAULT_DAYS
    try:
        days = float(raw)
        if days < 0:
            raise ValueError
        return days
    except ValueError:
        log.warning("MLBOT_RETENTION_DAYS=%r is not a number of days >= 0: using %d", raw, DEFAULT_DAYS)
        return DEFAULT_DAYS


class RetentionSweeper:
    def __init__(self, app: "App", days: float | None = None, interval: float = SWEEP_INTERVAL,
                 clock: Callable[[], float] = time.time):
        self.app = app
        self.days = retention_days() if days is None else days
        self.interval = interval
        self.clock = clock

    async def sweep_once(self) -> dict[str, int]:
        if self.days <= 0:
            return {}
        removed = await expire_user_data(self.app.db, self.clock() - self.days * 86400)
        if any(removed.values()):
            log.info("retention (%g days): expired %s", self.days,
                     ", ".join(f"{count} {table}" for table, count in removed.items() if count))
        return removed

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sweep_once()
            except DatabaseError as exc:  # the next sweep tries again
                log.warning("retention sweep failed: %s", exc)
            try:
                await asyncio.wait_for(stop.wait(), self.interval)
            except asyncio.TimeoutError:
                pass
