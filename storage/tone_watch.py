"""What the tone watch keeps: keyed hashes and scores, never message text."""
from __future__ import annotations

import time

from storage.db import Database


async def record_watch(db: Database, message_hash: str, channel_hash: str, score: float, flagged: bool) -> None:
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO tone_watch_log (message_hash, channel_hash, score, flagged, at) VALUES (?, ?, ?, ?, ?)",
            (message_hash, channel_hash, round(score, 4), int(flagged), time.time()),
        )
