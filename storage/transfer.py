"""`mlbot db copy`: every row of one database into another, any backend to any backend.

Safe to run again: a row whose key the destination already holds is left alone, and rows of
the two tables without a key (cooldown events, the tone watch log) are copied only as many
times as the destination lacks them. The source is opened read-only (SQLite) and only read.
Afterwards each table's rows are counted on both sides.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from storage.db import Database

log = logging.getLogger(__name__)

# Each table's primary key, or None where rows have none (then the whole row is the identity).
KEYS: dict[str, tuple[str, ...] | None] = {
    "cache": ("key",),
    "cache_users": ("key", "user_key"),
    "cooldown_events": None,
    "guild_settings": ("guild_id", "key"),
    "bot_state": ("key",),
    "tone_watch_log": None,
    "daily_track_schedules": ("guild_id",),
    "daily_track_posts": ("guild_id", "day"),
    "friend_turns": ("id",),
    "friend_summaries": ("user_key", "conversation"),
    "friend_facts": ("user_key", "conversation", "key"),
    "friend_personas": ("scope",),
    "friend_threads": ("channel_id",),
    "service_switches": ("guild_id", "channel_id", "service"),
    "command_events": None,
    "feedback": ("user_key", "service", "input_hash"),
}
BATCH = 200  # rows read at a time: cache rows carry blobs, so not the whole table at once


@dataclass
class TableCopy:
    table: str
    source: int
    before: int
    copied: int
    after: int

    @property
    def complete(self) -> bool:
        """Every source row is there and nothing else changed under the copy."""
        return self.after == self.before + self.copied and self.after >= self.source


async def copy_database(source: Database, destination: Database,
                        on_table: Callable[[TableCopy], None] | None = None) -> list[TableCopy]:
    reports = []
    source_tables = set(await source.tables())
    for table in KEYS:
        if table not in source_tables:
            continue
        report = await _copy_table(source, destination, table)
        reports.append(report)
        if on_table:
            on_table(report)
    await destination.after_copy()
    return reports


async def _copy_table(source: Database, destination: Database, table: str) -> TableCopy:
    wanted = await source.columns(table)
    present = set(await destination.columns(table))
    columns = [c for c in wanted if c in present]
    key = KEYS[table]
    order = ", ".join(key or columns)
    names = ", ".join(columns)
    source_count = int((await source.fetchone(f"SELECT COUNT(*) FROM {table}"))[0])
    before = int((await destination.fetchone(f"SELECT COUNT(*) FROM {table}"))[0])
    placeholders = ", ".join("?" for _ in columns)
    copied = 0
    if key:
        positions = [columns.index(k) for k in key]
        have = {tuple(row) for row in await destination.fetchall(f"SELECT {', '.join(key)} FROM {table}")}
        insert = (f"INSERT INTO {table} ({names}) VALUES ({placeholders})"
                  f" ON CONFLICT ({', '.join(key)}) DO NOTHING")
        async for rows in _batches(source, f"SELECT {names} FROM {table} ORDER BY {order}"):
            missing = [row for row in rows if tuple(row[i] for i in positions) not in have]
            if missing:
                async with destination.transaction() as tx:
                    for row in missing:
                        copied += await tx.execute(insert, tuple(row))
    else:
        # Keyless rows are counted, so duplicates in the source survive and a rerun adds none.
        have = Counter(tuple(row) for row in await destination.fetchall(f"SELECT {names} FROM {table}"))
        wanted_rows: Counter = Counter()
        async for rows in _batches(source, f"SELECT {names} FROM {table} ORDER BY {order}"):
            wanted_rows.update(tuple(row) for row in rows)
        missing = [row for row, n in wanted_rows.items() for _ in range(n - have.get(row, 0))]
        insert = f"INSERT INTO {table} ({names}) VALUES ({placeholders})"
        for start in range(0, len(missing), BATCH):
            async with destination.transaction() as tx:
                await tx.executemany(insert, missing[start:start + BATCH])
            copied += len(missing[start:start + BATCH])
    after = int((await destination.fetchone(f"SELECT COUNT(*) FROM {table}"))[0])
    return TableCopy(table, source_count, before, copied, after)


async def _batches(db: Database, select: str):
    offset = 0
    while True:
        rows = await db.fetchall(f"{select} LIMIT ? OFFSET ?", (BATCH, offset))
        if not rows:
            return
        yield rows
        offset += len(rows)
