"""One row per model command, for /stats: when, which server, which service, how it ended,
how long it took, whether the cache answered. No user ids and no inputs are stored.

Prometheus counters live in one process and reset on restart; these rows are shared by every
process on the database and survive restarts. Rows older than KEEP_SECONDS are pruned.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from storage.db import Database

KEEP_SECONDS = 8 * 24 * 3600   # a week and a day: /stats reads the last day
PRUNE_EVERY = 3600.0           # seconds between prunes, per process
BUSY_OUTCOMES = ("busy",)          # run_command's outcome for "busy, try again in N s"


@dataclass
class ServiceStats:
    service: str
    commands: int = 0
    cache_hits: int = 0
    cache_lookups: int = 0     # commands that could have been served from the cache
    median_seconds: float | None = None
    busy: int = 0              # answered "busy, try again"
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def hit_rate(self) -> float | None:
        return self.cache_hits / self.cache_lookups if self.cache_lookups else None


class CommandLog:
    def __init__(self, db: Database):
        self.db = db
        self._last_prune = float("-inf")

    async def record(self, guild_id: str | None, service: str, outcome: str, seconds: float,
                     cached: bool | None, now: float | None = None) -> None:
        now = time.time() if now is None else now
        async with self.db.transaction() as tx:
            await tx.execute("INSERT INTO command_events (at, guild_id, service, outcome, seconds, cached)"
                             " VALUES (?, ?, ?, ?, ?, ?)",
                             (now, guild_id or "", service, outcome, seconds, None if cached is None else int(cached)))
            if now - self._last_prune >= PRUNE_EVERY:
                self._last_prune = now
                await tx.execute("DELETE FROM command_events WHERE at < ?", (now - KEEP_SECONDS,))

    async def summary(self, guild_id: str | None, since: float) -> list[ServiceStats]:
        """Per service since `since`: for one server, or every server and DM when guild_id is None."""
        where, params = ("at >= ? AND guild_id = ?", (since, guild_id)) if guild_id is not None else ("at >= ?", (since,))
        rows = await self.db.fetchall(
            f"SELECT service, outcome, COUNT(*), SUM(CASE WHEN cached = 1 THEN 1 ELSE 0 END),"
            f" SUM(CASE WHEN cached IS NULL THEN 0 ELSE 1 END) FROM command_events WHERE {where}"
            f" GROUP BY service, outcome ORDER BY service, outcome", params)
        stats: dict[str, ServiceStats] = {}
        for service, outcome, count, hits, lookups in rows:
            entry = stats.setdefault(service, ServiceStats(service))
            entry.commands += int(count)
            entry.cache_hits += int(hits or 0)
            entry.cache_lookups += int(lookups or 0)
            entry.outcomes[outcome] = int(count)
            if outcome in BUSY_OUTCOMES:
                entry.busy += int(count)
        for entry in stats.values():
            entry.median_seconds = await self._median(where, params, entry.service)
        return list(stats.values())

    async def _median(self, where: str, params: tuple, service: str) -> float | None:
        """The median time of the service's answered commands (ok), read in the database:
        the middle row by time, so a busy day's rows never come to Python."""
        condition = f"{where} AND service = ? AND outcome = 'ok'"
        count = int((await self.db.fetchone(f"SELECT COUNT(*) FROM command_events WHERE {condition}",
                                            (*params, service)))[0])
        if count == 0:
            return None
        middle = await self.db.fetchall(f"SELECT seconds FROM command_events WHERE {condition}"
                                        f" ORDER BY seconds LIMIT ? OFFSET ?",
                                        (*params, service, 2 - count % 2, (count - 1) // 2))
        return sum(float(r[0]) for r in middle) / len(middle)
