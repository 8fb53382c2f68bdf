"""Daily track schedules and their posts: at most one post per server per local day.

A post goes through states, each written in its own transaction:
  claimed  -> the day is taken (written before any work, so a second worker cannot take it);
              nothing was sent yet, so after a crash another process takes it over once the
              claim's lease has run out
  sending  -> written just before the message is sent; after a crash in this state nobody
              knows whether Discord got it, so it is never retried (at most once)
  posted   -> Discord answered with the message id
  failed / skipped -> with a reason in `detail`
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from storage.db import Database

CLAIMED, SENDING, POSTED, FAILED, SKIPPED = "claimed", "sending", "posted", "failed", "skipped"
# Composing a track takes seconds; a claim this old belongs to a process that died.
CLAIM_LEASE_SECONDS = 300.0


@dataclass(frozen=True)
class Schedule:
    guild_id: str
    channel_id: str
    post_time: str  # "HH:MM", local to timezone
    timezone: str   # IANA name
    created_at: float


@dataclass(frozen=True)
class Post:
    guild_id: str
    day: str
    state: str
    seed: int
    claimed_at: float
    message_id: str | None
    detail: str | None


class DailyTrackStore:
    def __init__(self, db: Database):
        self.db = db

    async def set_schedule(self, guild_id: str, channel_id: str, post_time: str, timezone: str,
                           now: float | None = None) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO daily_track_schedules (guild_id, channel_id, post_time, timezone, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT(guild_id) DO UPDATE SET channel_id = excluded.channel_id,"
                " post_time = excluded.post_time, timezone = excluded.timezone, created_at = excluded.created_at",
                (guild_id, channel_id, post_time, timezone, now if now is not None else time.time()))

    async def remove_schedule(self, guild_id: str) -> bool:
        async with self.db.transaction() as tx:
            return await tx.execute("DELETE FROM daily_track_schedules WHERE guild_id = ?", (guild_id,)) > 0

    async def schedule(self, guild_id: str) -> Schedule | None:
        row = await self.db.fetchone("SELECT guild_id, channel_id, post_time, timezone, created_at"
                                     " FROM daily_track_schedules WHERE guild_id = ?", (guild_id,))
        return Schedule(*row) if row else None

    async def schedules(self) -> list[Schedule]:
        rows = await self.db.fetchall("SELECT guild_id, channel_id, post_time, timezone, created_at"
                                      " FROM daily_track_schedules ORDER BY guild_id")
        return [Schedule(*row) for row in rows]

    async def post(self, guild_id: str, day: str) -> Post | None:
        row = await self.db.fetchone("SELECT guild_id, day, state, seed, claimed_at, message_id, detail"
                                     " FROM daily_track_posts WHERE guild_id = ? AND day = ?", (guild_id, day))
        return Post(*row) if row else None

    async def posts(self, guild_id: str) -> list[Post]:
        rows = await self.db.fetchall("SELECT guild_id, day, state, seed, claimed_at, message_id, detail"
                                      " FROM daily_track_posts WHERE guild_id = ? ORDER BY day", (guild_id,))
        return [Post(*row) for row in rows]

    async def claim(self, guild_id: str, day: str, seed: int, owner: str, now: float | None = None,
                    lease: float = CLAIM_LEASE_SECONDS) -> bool:
        """Take the day for this server; False when it is taken. A claim that never reached
        `sending` is taken over by its owner at once (a retry) and by anyone else once it is
        older than `lease` (its owner died before sending anything).

        Both steps are single statements whose WHERE is checked against the row as it is at
        that moment, so of any number of processes exactly one wins, on either backend."""
        now = now if now is not None else time.time()
        async with self.db.transaction() as tx:
            if await tx.execute("INSERT INTO daily_track_posts (guild_id, day, state, seed, claimed_at, claimed_by)"
                                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, day) DO NOTHING",
                                (guild_id, day, CLAIMED, seed, now, owner)):
                return True
            return await tx.execute(
                "UPDATE daily_track_posts SET claimed_at = ?, claimed_by = ? WHERE guild_id = ? AND day = ?"
                " AND state = ? AND (claimed_by = ? OR claimed_at < ?)",
                (now, owner, guild_id, day, CLAIMED, owner, now - lease)) > 0

    async def mark(self, guild_id: str, day: str, state: str, *, message_id: str | None = None,
                   detail: str | None = None, seed: int = 0, now: float | None = None) -> None:
        """Move a day's post to `state` (inserting the row for `skipped` days)."""
        now = now if now is not None else time.time()
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO daily_track_posts (guild_id, day, state, seed, claimed_at, completed_at, message_id,"
                " detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(guild_id, day) DO UPDATE SET"
                " state = excluded.state, completed_at = excluded.completed_at,"
                " message_id = COALESCE(excluded.message_id, daily_track_posts.message_id), detail = excluded.detail",
                (guild_id, day, state, seed, now, now if state != SENDING else None, message_id, detail))
