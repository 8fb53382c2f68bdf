"""Result cache: one row per (service, model version, input, parameters).

The key is a sha256 over those four parts, so a retrained model (new version) never
sees answers computed by the old one. Rows carry the result as JSON plus an optional
blob (an image or audio the reply attaches). The table is bounded in bytes; the least
recently used rows go first.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from storage.db import Database, Transaction

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
# PostgreSQL's SUM over BIGINT is NUMERIC; the cast keeps it an integer on both backends.
TOTAL_SIZE = "CAST(COALESCE(SUM(size), 0) AS BIGINT)"


def cache_key(service: str, model_version: str, canonical_input: bytes | str, params: dict | None = None) -> str:
    """sha256 over length-prefixed parts, so no two different tuples can collide by concatenation."""
    digest = hashlib.sha256()
    data = canonical_input.encode("utf-8") if isinstance(canonical_input, str) else canonical_input
    parts = [
        service.encode("utf-8"),
        model_version.encode("utf-8"),
        data,
        json.dumps(params or {}, sort_keys=True, separators=(",", ":")).encode("utf-8"),
    ]
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


@dataclass
class CachedResult:
    result: dict[str, Any]
    blob: bytes | None
    hits: int


class ResultCache:
    def __init__(self, db: Database, max_bytes: int = DEFAULT_MAX_BYTES):
        self.db = db
        self.max_bytes = max_bytes
        self.hits = 0    # lookups answered from the cache by this process (for /metrics)
        self.misses = 0

    async def get(self, key: str, user_key: str | None = None) -> CachedResult | None:
        row = await self.db.fetchone("SELECT result, blob, hits FROM cache WHERE key = ?", (key,))
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        async with self.db.transaction() as tx:
            await tx.execute("UPDATE cache SET hits = hits + 1, last_used_at = ? WHERE key = ?", (time.time(), key))
            await self._note_user(tx, key, user_key)
        return CachedResult(result=json.loads(row[0]), blob=row[1], hits=row[2] + 1)

    async def put(
        self, key: str, service: str, model_version: str, result: dict[str, Any], blob: bytes | None = None,
        user_key: str | None = None,
    ) -> None:
        payload = json.dumps(result, sort_keys=True)
        size = len(payload.encode("utf-8")) + (len(blob) if blob else 0) + len(key)
        now = time.time()
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO cache (key, service, model_version, result, blob, size, hits, created_at, last_used_at)"
                " VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET result = excluded.result, blob = excluded.blob,"
                " size = excluded.size, last_used_at = excluded.last_used_at",
                (key, service, model_version, payload, blob, size, now, now),
            )
            await self._note_user(tx, key, user_key)
            await self._evict(tx)

    @staticmethod
    async def _note_user(tx: Transaction, key: str, user_key: str | None) -> None:
        if user_key:
            await tx.execute("INSERT INTO cache_users (key, user_key) VALUES (?, ?) ON CONFLICT DO NOTHING",
                             (key, user_key))

    async def of_user(self, user_key: str, service: str) -> list[CachedResult]:
        """The cached results of one service that this user asked for (no hit is counted)."""
        rows = await self.db.fetchall(
            "SELECT c.result, c.blob, c.hits FROM cache c JOIN cache_users u ON u.key = c.key"
            " WHERE u.user_key = ? AND c.service = ? ORDER BY c.last_used_at DESC", (user_key, service))
        return [CachedResult(json.loads(result), bytes(blob) if blob is not None else None, hits)
                for result, blob, hits in rows]

    async def forget_user(self, user_key: str) -> int:
        """Delete every cached result this user asked for; returns how many."""
        async with self.db.transaction() as tx:
            removed = await tx.execute(
                "DELETE FROM cache WHERE key IN (SELECT key FROM cache_users WHERE user_key = ?)", (user_key,))
            await tx.execute("DELETE FROM cache_users WHERE user_key = ?", (user_key,))
        return removed

    async def _evict(self, tx: Transaction) -> None:
        # One evictor at a time across processes, so two do not both trim the same bytes.
        await tx.lock("cache:evict")
        total = int((await tx.fetchone(f"SELECT {TOTAL_SIZE} FROM cache"))[0])
        if total <= self.max_bytes:
            return
        # Drop to 90% of the bound so a full cache does not evict on every insert.
        target = int(self.max_bytes * 0.9)
        victims = []
        for key, size in await tx.fetchall("SELECT key, size FROM cache ORDER BY last_used_at ASC"):
            if total <= target:
                break
            victims.append((key,))
            total -= size
        await tx.executemany("DELETE FROM cache WHERE key = ?", victims)

    async def stats(self) -> dict[str, Any]:
        row = await self.db.fetchone(f"SELECT COUNT(*), {TOTAL_SIZE}, CAST(COALESCE(SUM(hits), 0) AS BIGINT) FROM cache")
        return {"entries": int(row[0]), "bytes": int(row[1]), "hits": int(row[2]), "max_bytes": self.max_bytes}
