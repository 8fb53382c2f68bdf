"""One aiosqlite connection in WAL mode, with migrations and explicit transactions."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from pathlib import Path
from typing import AsyncIterator

import aiosqlite

from storage.backends.sqlite_migrations import MIGRATIONS

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000


class DatabaseError(RuntimeError):
    """The database cannot be used; the message names the file and is safe to show."""


class Database:
    """Owns the connection. Writes go through `transaction()` so they are atomic and serialized."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._conn: aiosqlite.Connection | None = None
        # aiosqlite runs every statement on one thread, but two coroutines could still
        # interleave statements inside one transaction; this lock keeps them apart.
        self._write_lock = asyncio.Lock()

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise DatabaseError(f"database {self.path} is not open")
        return self._conn

    async def open(self) -> "Database":
        self._refuse_unusable_path()
        try:
            self._conn = await aiosqlite.connect(str(self.path), isolation_level=None)
            await self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await self._check_integrity()
            mode = await self._scalar("PRAGMA journal_mode = WAL")
            if str(mode).lower() != "wal":
                log.warning("database %s: journal mode is %s, not WAL", self.path, mode)
            await self._conn.execute("PRAGMA synchronous = NORMAL")
            await self._conn.execute("PRAGMA foreign_keys = ON")
            await self.migrate()
        except sqlite3.DatabaseError as exc:
            await self._close_quietly()
            raise DatabaseError(
                f"database {self.path} is damaged or unreadable ({exc}); "
                "it was left untouched: move it aside or restore a backup"
            ) from exc
        except DatabaseError:
            await self._close_quietly()
            raise
        return self

    def _refuse_unusable_path(self) -> None:
        if self.path.exists() and not self.path.is_file():
            raise DatabaseError(f"database {self.path} is not a regular file")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(f"cannot create the folder for database {self.path}: {exc}") from exc
        if self.path.exists():
            try:
                with open(self.path, "rb") as handle:
                    handle.read(16)
            except OSError as exc:
                raise DatabaseError(f"database {self.path} cannot be read: {exc}") from exc

    async def _check_integrity(self) -> None:
        # quick_check reads every page, so a damaged file is found at start rather than
        # in the middle of a user's request.
        rows = await (await self.conn.execute("PRAGMA quick_check")).fetchall()
        verdict = "; ".join(str(row[0]) for row in rows)
        if verdict != "ok":
            raise DatabaseError(
                f"database {self.path} failed its integrity check ({verdict[:200]}); "
                "it was left untouched: move it aside or restore a backup"
            )

    async def _scalar(self, sql: str, params: tuple = ()):
        async with self.conn.execute(sql, params) as cursor:
            row = await cursor.fetchone()
        return row[0] if row else None

    async def migrate(self) -> list[int]:
        """Apply the migrations this file lacks; safe to call any number of times."""
        async with self.transaction() as conn:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
            )
        applied: list[int] = []
        for version, name, sql in MIGRATIONS:
            async with self.transaction() as conn:
                async with conn.execute(
                    "SELECT 1 FROM schema_migrations WHERE version = ?", (version,)
                ) as cursor:
                    if await cursor.fetchone():
                        continue
                for statement in _split_statements(sql):
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, time.time()),
                )
            applied.append(version)
            log.info("database %s: applied migration %d (%s)", self.path, version, name)
        return applied

    async def schema_version(self) -> int:
        return int(await self._scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error."""
        async with self._write_lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            else:
                await self.conn.execute("COMMIT")

    async def fetchone(self, sql: str, params: tuple = ()):
        async with self.conn.execute(sql, params) as cursor:
            return await cursor.fetchone()

    async def fetchall(self, sql: str, params: tuple = ()):
        async with self.conn.execute(sql, params) as cursor:
            return await cursor.fetchall()

    async def _close_quietly(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    async def close(self) -> None:
        if self._conn is None:
            return
        with contextlib.suppress(sqlite3.Error):
            # Fold the WAL back into the main file so a copied database is complete.
            await self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        await self._conn.close()
        self._conn = None

    async def __aenter__(self) -> "Database":
        return await self.open()

    async def __aexit__(self, *exc) -> None:
        await self.close()


def _split_statements(sql: str) -> list[str]:
    return [part.strip() for part in sql.split(";") if part.strip()]
