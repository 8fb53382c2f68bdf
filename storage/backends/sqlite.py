"""The embedded backend: one aiosqlite connection in WAL mode, migrations, explicit transactions.

Writers are serialised by BEGIN IMMEDIATE (across processes on this machine too), so
`Transaction.lock` has nothing to add here.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any, AsyncIterator, Sequence

import aiosqlite
import filelock

from storage.backends.sqlite_migrations import MIGRATIONS
from storage.db import Database, DatabaseError, Row, Transaction

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
LOCK_STRIPES = 64


class SqliteTransaction(Transaction):
    def __init__(self, conn: aiosqlite.Connection):
        self.conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self.conn.execute(sql, tuple(params)) as cursor:
            return cursor.rowcount

    async def executemany(self, sql: str, rows: list[Sequence[Any]]) -> None:
        await self.conn.executemany(sql, [tuple(row) for row in rows])

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        async with self.conn.execute(sql, tuple(params)) as cursor:
            return await cursor.fetchone()

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async with self.conn.execute(sql, tuple(params)) as cursor:
            return list(await cursor.fetchall())


class SqliteDatabase(Database):
    """Owns the connection. Writes go through `transaction()` so they are atomic and serialized."""

    dialect = "sqlite"
    row_id = "rowid"

    def __init__(self, path: Path | str, read_only: bool = False):
        self.path = Path(path)
        self.read_only = read_only  # `mlbot db copy` reads a source without touching it
        self._conn: aiosqlite.Connection | None = None
        # aiosqlite runs every statement on one thread, but two coroutines could still
        # interleave statements inside one transaction; this lock keeps them apart.
        self._write_lock = asyncio.Lock()

    def describe(self) -> str:
        return f"sqlite://{self.path}" if self.path.is_absolute() else f"sqlite:///{self.path}"

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise DatabaseError(f"database {self.path} is not open")
        return self._conn

    async def open(self) -> "SqliteDatabase":
        if self.read_only:
            return await self._open_read_only()
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

    async def _open_read_only(self) -> "SqliteDatabase":
        if not self.path.is_file():
            raise DatabaseError(f"database {self.path} does not exist")
        try:
            self._conn = await aiosqlite.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                                 isolation_level=None)
            await self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await self._check_integrity()
        except sqlite3.DatabaseError as exc:
            await self._close_quietly()
            raise DatabaseError(f"database {self.path} cannot be read ({exc})") from exc
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
        # Each migration checks and applies inside one BEGIN IMMEDIATE, so a second process
        # starting at the same moment waits, then finds it applied.
        async with self.transaction() as tx:
            await tx.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
            )
        applied: list[int] = []
        for version, name, sql in MIGRATIONS:
            async with self.transaction() as tx:
                if await tx.fetchone("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)):
                    continue
                for statement in _split_statements(sql):
                    await tx.execute(statement)
                await tx.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, time.time()),
                )
            applied.append(version)
            log.info("database %s: applied migration %d (%s)", self.path, version, name)
        return applied

    async def tables(self) -> list[str]:
        rows = await self.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'"
                                   " AND name NOT LIKE 'sqlite_%' AND name != 'schema_migrations' ORDER BY rowid")
        return [row[0] for row in rows]

    async def columns(self, table: str) -> list[str]:
        return [row[1] for row in await self.fetchall(f"PRAGMA table_info({table})")]

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteTransaction]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error."""
        if self.read_only:
            raise DatabaseError(f"database {self.path} was opened read-only")
        async with self._write_lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteTransaction(self.conn)
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            else:
                await self.conn.execute("COMMIT")

    @contextlib.asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        # A console and a `mlbot run` may share one file: a lock file next to it covers both.
        # Names hash onto a few stripes so lock files do not pile up; two names sharing a
        # stripe only means one of them waits for its next turn.
        stripe = int(hashlib.sha1(name.encode()).hexdigest(), 16) % LOCK_STRIPES
        lock = filelock.FileLock(self.path.parent / "locks" / f"{self.path.stem}-{stripe:02d}.lock", timeout=0)
        try:
            lock.acquire()
        except filelock.Timeout:
            yield False
            return
        try:
            yield True
        finally:
            lock.release()

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        # a read outside a transaction is the same statement on the same connection
        return await SqliteTransaction(self.conn).fetchone(sql, params)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return await SqliteTransaction(self.conn).fetchall(sql, params)

    async def _close_quietly(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    async def close(self) -> None:
        if self._conn is None:
            return
        if self.read_only:
            await self._close_quietly()
            return
        with contextlib.suppress(sqlite3.Error):
            # Fold the WAL back into the main file so a copied database is complete.
            await self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        await self._conn.close()
        self._conn = None



def _split_statements(sql: str) -> list[str]:
    return [part.strip() for part in sql.split(";") if part.strip()]
