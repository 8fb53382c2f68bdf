"""The shared backend: PostgreSQL through an asyncpg connection pool.

Several mlbot processes, on any number of machines, use one server:
  * writes run in transactions on pooled connections (READ COMMITTED); where a read decides
    a write (cooldowns, the daily-post claim) the storage module takes `tx.lock(name)`, a
    transaction-scoped advisory lock, so two processes take turns on the same name;
  * `exclusive(name)` is a session advisory lock (pg_try_advisory_lock) held on its own
    connection while the work runs; the server frees it if the process dies;
  * migrations run under a session advisory lock, so processes starting together migrate once;
  * a connection that breaks is replaced: reads are retried, a transaction is retried while
    nothing in it has run yet, and otherwise the command gets DatabaseUnavailable (one line).
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from typing import Any, AsyncIterator, Sequence
from urllib.parse import urlsplit

import asyncpg

from storage.backends.postgres_migrations import MIGRATIONS, TABLES
from storage.db import Database, DatabaseError, DatabaseUnavailable, Row, Transaction

log = logging.getLogger(__name__)

DEFAULT_POOL_SIZE = 5
CONNECT_TIMEOUT = 10.0
RETRIES = 3
RETRY_PAUSE = 0.3
MIGRATION_LOCK = "mlbot:migrations"

# The server went away or the socket broke: worth another connection.
CONNECTION_ERRORS = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # includes ConnectionDoesNotExistError
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
)


@functools.lru_cache(maxsize=512)
def to_dollar_placeholders(sql: str) -> str:
    """`?` -> `$1, $2, ...`, leaving quoted literals alone (storage SQL is written for both backends)."""
    out, number, quoted = [], 0, False
    for char in sql:
        if char == "'":
            quoted = not quoted
        if char == "?" and not quoted:
            number += 1
            out.append(f"${number}")
        else:
            out.append(char)
    return "".join(out)


def rows_changed(status: str) -> int:
    """asyncpg answers 'DELETE 3', 'UPDATE 1', 'INSERT 0 1'; the last number is the row count."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


def safe_url(url: str) -> str:
    """The URL without its password, for logs and messages."""
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{user}{parts.hostname or 'localhost'}{port}{parts.path}"


class PostgresTransaction(Transaction):
    def __init__(self, conn: asyncpg.Connection):
        self.conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return rows_changed(await self.conn.execute(to_dollar_placeholders(sql), *params))

    async def executemany(self, sql: str, rows: list[Sequence[Any]]) -> None:
        if rows:
            await self.conn.executemany(to_dollar_placeholders(sql), [tuple(row) for row in rows])

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return await self.conn.fetchrow(to_dollar_placeholders(sql), *params)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(await self.conn.fetch(to_dollar_placeholders(sql), *params))

    async def lock(self, *names: str) -> None:
        # Sorted, so two transactions locking the same names cannot deadlock each other.
        for name in sorted(set(names)):
            await self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", name)


class PostgresDatabase(Database):
    dialect = "postgresql"
    row_id = "ctid"

    def __init__(self, url: str, pool_size: int | None = None):
        self.url = url
        self.pool_size = pool_size or int(os.environ.get("MLBOT_DATABASE_POOL_SIZE", DEFAULT_POOL_SIZE))
        self._pool: asyncpg.Pool | None = None

    def describe(self) -> str:
        return safe_url(self.url)

    @property
    def shared(self) -> bool:
        return True

    @property
    def where(self) -> str:
        parts = urlsplit(self.url)
        return f"PostgreSQL at {parts.hostname or 'localhost'}:{parts.port or 5432}"

    async def open(self) -> "PostgresDatabase":
        try:
            self._pool = await asyncpg.create_pool(self.url, min_size=1, max_size=max(1, self.pool_size),
                                                   timeout=CONNECT_TIMEOUT, command_timeout=60)
        except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
            raise DatabaseError(f"{self.where} refused the login as {urlsplit(self.url).username or 'the default user'}"
                                f" ({type(exc).__name__})") from None
        except asyncpg.InvalidCatalogNameError:
            raise DatabaseError(f"{self.where} has no database {urlsplit(self.url).path.lstrip('/')!r}:"
                                " create it first (createdb)") from None
        except CONNECTION_ERRORS as exc:
            raise DatabaseError(f"cannot reach {self.where} ({_reason(exc)})") from None
        except (ValueError, asyncpg.PostgresError) as exc:
            raise DatabaseError(f"cannot use {self.where}: {_reason(exc)}") from None
        try:
            await self.migrate()
        except BaseException:
            await self.close()
            raise
        return self

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise DatabaseError(f"database {self.describe()} is not open")
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pool.close(), timeout=10)

    # ----- reads: idempotent, so retried on a fresh connection -------------------------
    async def _read(self, method: str, sql: str, params: Sequence[Any]):
        sql = to_dollar_placeholders(sql)
        for attempt in range(RETRIES):
            try:
                return await getattr(self.pool, method)(sql, *params)
            except CONNECTION_ERRORS as exc:
                if attempt == RETRIES - 1:
                    raise self._unavailable(exc) from exc
                log.warning("%s: connection lost (%s); retrying", self.where, _reason(exc))
                await asyncio.sleep(RETRY_PAUSE * (attempt + 1))

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return await self._read("fetchrow", sql, params)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(await self._read("fetch", sql, params))

    # ----- writes ----------------------------------------------------------------------
    async def _begin(self):
        """A pooled connection inside BEGIN; a dead connection is swapped before any work runs."""
        for attempt in range(RETRIES):
            conn = None
            try:
                conn = await self.pool.acquire()
                tx = conn.transaction()
                await tx.start()
                return conn, tx
            except CONNECTION_ERRORS as exc:
                if conn is not None:
                    await self._release(conn)
                if attempt == RETRIES - 1:
                    raise self._unavailable(exc) from exc
                log.warning("%s: connection lost (%s); retrying", self.where, _reason(exc))
                await asyncio.sleep(RETRY_PAUSE * (attempt + 1))

    async def _release(self, conn: asyncpg.Connection) -> None:
        with contextlib.suppress(Exception):
            await self.pool.release(conn)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresTransaction]:
        conn, tx = await self._begin()
        try:
            yield PostgresTransaction(conn)
        except BaseException as exc:
            with contextlib.suppress(Exception):
                await tx.rollback()
            await self._release(conn)
            if isinstance(exc, CONNECTION_ERRORS):
                raise self._unavailable(exc) from exc
            raise
        try:
            await tx.commit()
        except CONNECTION_ERRORS as exc:
            raise self._unavailable(exc) from exc
        finally:
            await self._release(conn)

    @contextlib.asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        async with self.pool.acquire() as conn:
            mine = await conn.fetchval("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", name)
            try:
                yield bool(mine)
            finally:
                if mine:
                    with contextlib.suppress(*CONNECTION_ERRORS):
                        await conn.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", name)

    def _unavailable(self, exc: BaseException) -> DatabaseUnavailable:
        return DatabaseUnavailable(f"the database ({self.where}) did not answer ({_reason(exc)}); try again in a moment")

    # ----- schema ----------------------------------------------------------------------
    async def migrate(self) -> list[int]:
        applied: list[int] = []
        async with self.pool.acquire() as conn:
            # Held for the whole run: a second process starting now waits here, then finds
            # every migration applied.
            await conn.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", MIGRATION_LOCK)
            try:
                await conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                                   " name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)")
                done = {row[0] for row in await conn.fetch("SELECT version FROM schema_migrations")}
                for version, name, sql in MIGRATIONS:
                    if version in done:
                        continue
                    async with conn.transaction():
                        await conn.execute(sql)
                        await conn.execute("INSERT INTO schema_migrations (version, name, applied_at)"
                                           " VALUES ($1, $2, $3)", version, name, time.time())
                    applied.append(version)
                    log.info("database %s: applied migration %d (%s)", self.describe(), version, name)
            finally:
                await conn.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", MIGRATION_LOCK)
        return applied

    async def tables(self) -> list[str]:
        return list(TABLES)

    async def columns(self, table: str) -> list[str]:
        rows = await self.fetchall("SELECT column_name FROM information_schema.columns WHERE table_name = ?"
                                   " AND table_schema = current_schema() ORDER BY ordinal_position", (table,))
        return [row[0] for row in rows]

    async def after_copy(self) -> None:
        """Rows copied with their own ids: move the id sequence past them."""
        async with self.transaction() as tx:
            await tx.execute("SELECT setval(pg_get_serial_sequence('friend_turns', 'id'),"
                             " COALESCE((SELECT MAX(id) FROM friend_turns), 0) + 1, false)")


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
