"""Identify turns shared by every gateway process: Discord accepts `max_concurrency`
identifies per 5 seconds, one per bucket (shard_id % max_concurrency), for the whole bot.

A process takes a bucket's turn in a transaction holding that bucket's lock, waits until the
bucket's last identify is `spacing` seconds old, and records its own. (discord.py spaces the
shards of one process itself; across processes it leaves this to `before_identify_hook`.)
"""
from __future__ import annotations

import asyncio
import time

from storage.db import Database


# The turn is recorded just before the identify is sent; this covers the sending.
MARGIN_SECONDS = 0.5


class IdentifyTurns:
    def __init__(self, db: Database, spacing: float = 5.0):
        self.db = db
        self.spacing = spacing + MARGIN_SECONDS

    async def wait_turn(self, bucket: int) -> float:
        """Returns the seconds waited."""
        key = f"identify-at:{bucket}"
        async with self.db.transaction() as tx:
            await tx.lock(f"identify:{bucket}")
            row = await tx.fetchone("SELECT value FROM bot_state WHERE key = ?", (key,))
            wait = (float(row[0]) + self.spacing - time.time()) if row else 0.0
            if wait > 0:
                await asyncio.sleep(wait)
            await tx.execute("INSERT INTO bot_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                             "value = excluded.value", (key, repr(time.time())))
        return max(0.0, wait)
