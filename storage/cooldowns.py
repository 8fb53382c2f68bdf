"""Sliding-window rate limits kept in the database, so a restart does not reset them and every
process sharing the database counts the same uses."""
from __future__ import annotations

import time
from dataclasses import dataclass

from storage.db import Database


@dataclass(frozen=True)
class Limit:
    bucket: str      # e.g. "user:<hash>:digit" or "guild:<id>"
    uses: int        # at most this many...
    window: float    # ...in this many seconds


class CooldownStore:
    def __init__(self, db: Database):
        self.db = db

    async def try_use(self, limits: list[Limit], now: float | None = None) -> float:
        """Record one use in every bucket and return 0, or record nothing and return the
        seconds until every bucket has room again. `refund(limits, now)` takes a use back."""
        return (await self.take(limits, now))[0]

    async def take(self, limits: list[Limit], now: float | None = None) -> tuple[float, Limit | None]:
        """As try_use, and which limit made the caller wait longest (None when it did not wait),
        so the answer can say which rule it was."""
        now = time.time() if now is None else now
        async with self.db.transaction() as tx:
            # Count-then-insert must not interleave with another process's on the same bucket.
            await tx.lock(*(f"cooldown:{limit.bucket}" for limit in limits))
            wait, blocking = 0.0, None
            for limit in limits:
                await tx.execute("DELETE FROM cooldown_events WHERE bucket = ? AND at <= ?",
                                 (limit.bucket, now - limit.window))
                recent = [row[0] for row in await tx.fetchall(
                    "SELECT at FROM cooldown_events WHERE bucket = ? ORDER BY at DESC LIMIT ?",
                    (limit.bucket, limit.uses))]
                # The oldest of the last `uses` events must leave the window first.
                if len(recent) >= limit.uses and recent[-1] + limit.window - now > wait:
                    wait, blocking = recent[-1] + limit.window - now, limit
            if wait > 0:
                return wait, blocking
            await tx.executemany("INSERT INTO cooldown_events (bucket, at) VALUES (?, ?)",
                                 [(limit.bucket, now) for limit in limits])
        return 0.0, None

    async def refund(self, limits: list[Limit], at: float) -> None:
        """Take back a use recorded at `at` (the command failed, so it should not count)."""
        row_id = self.db.row_id
        async with self.db.transaction() as tx:
            await tx.executemany(
                f"DELETE FROM cooldown_events WHERE {row_id} IN"
                f" (SELECT {row_id} FROM cooldown_events WHERE bucket = ? AND at = ? LIMIT 1)",
                [(limit.bucket, at) for limit in limits],
            )
