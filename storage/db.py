"""The storage API every part uses, whichever database holds the rows.

A backend (storage/backends/) gives:
  * `fetchone` / `fetchall` for reads outside a transaction,
  * `transaction()`, an atomic unit of writes whose `Transaction` runs statements and can
    `lock(name)` for the rest of the transaction (a no-op where the backend already
    serialises writers),
  * `exclusive(name)`, a lock held across processes while a piece of work runs, or refused.
SQL is written once, with `?` placeholders, in the subset both SQLite and PostgreSQL speak;
the PostgreSQL backend rewrites the placeholders.

`open_database(url, sqlite_path)` picks the backend: MLBOT_DATABASE_URL when set
(postgresql://...), else the SQLite file under MLBOT_HOME.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Sequence

Row = Sequence[Any]


class DatabaseError(RuntimeError):
    """The database cannot be used; the message names it (never a password) and is safe to show."""


class DatabaseUnavailable(DatabaseError):
    """The connection went away in the middle of a command; the next command tries again."""


class Transaction:
    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the rows it changed."""
        raise NotImplementedError

    async def executemany(self, sql: str, rows: list[Sequence[Any]]) -> None:
        raise NotImplementedError

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        raise NotImplementedError

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        raise NotImplementedError

    async def lock(self, *names: str) -> None:
        """Hold these named locks until the transaction ends (other processes wait)."""


class Database:
    """What storage modules see. `dialect` is "sqlite" or "postgresql"; `row_id` names the
    hidden row identifier for the few statements that need one."""

    dialect = ""
    row_id = ""

    async def open(self) -> "Database":
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        """Where the rows live, for logs and `mlbot db status` (no password)."""
        raise NotImplementedError

    @property
    def shared(self) -> bool:
        """True when other machines' processes can use the same rows."""
        return False

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        raise NotImplementedError

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        raise NotImplementedError

    def transaction(self) -> contextlib.AbstractAsyncContextManager[Transaction]:
        raise NotImplementedError

    def exclusive(self, name: str) -> contextlib.AbstractAsyncContextManager[bool]:
        """`async with db.exclusive(name) as mine:` mine is False when someone else holds it."""
        raise NotImplementedError

    async def migrate(self) -> list[int]:
        raise NotImplementedError

    async def schema_version(self) -> int:
        return int((await self.fetchone("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))[0])

    async def tables(self) -> list[str]:
        """The application's tables (not the migrations' own), in the order they were created."""
        raise NotImplementedError

    async def columns(self, table: str) -> list[str]:
        """A table's columns in their order."""
        raise NotImplementedError

    async def after_copy(self) -> None:
        """Called by `mlbot db copy` once rows were written with their own ids."""

    async def row_counts(self) -> dict[str, int]:
        return {table: int((await self.fetchone(f"SELECT COUNT(*) FROM {table}"))[0])
                for table in await self.tables()}

    async def __aenter__(self) -> "Database":
        return await self.open()

    async def __aexit__(self, *exc) -> None:
        await self.close()


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and url.split(":", 1)[0] in ("postgres", "postgresql")


def sqlite_path_of(url: str) -> Path:
    """sqlite:///srv/mlbot.sqlite3 and sqlite:////srv/mlbot.sqlite3 both name /srv/mlbot.sqlite3."""
    return Path("/" + url[len("sqlite://"):].lstrip("/"))


def open_database(url: str | None = None, sqlite_path: Path | str | None = None) -> Database:
    """The backend for `url` (default MLBOT_DATABASE_URL), not yet opened."""
    url = (url if url is not None else os.environ.get("MLBOT_DATABASE_URL", "")).strip()
    if is_postgres_url(url):
        from storage.backends.postgres import PostgresDatabase

        return PostgresDatabase(url)
    from storage.backends.sqlite import SqliteDatabase

    if url.startswith("sqlite:///"):
        return SqliteDatabase(sqlite_path_of(url))
    if url:
        raise DatabaseError(f"MLBOT_DATABASE_URL must start with postgresql:// or sqlite:/// (got {url.split(':', 1)[0]}:...)")
    if sqlite_path is None:
        raise DatabaseError("no database: set MLBOT_DATABASE_URL or give an SQLite path")
    return SqliteDatabase(sqlite_path)

