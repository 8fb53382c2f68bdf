"""`mlbot db status` and `mlbot db copy`: look at the database and move an install to another."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from ml.home import ModelHome
from storage import DatabaseError, open_database
from storage.db import is_postgres_url, sqlite_path_of


def add_db_parser(sub) -> None:
    db = sub.add_parser("db", help="the database: status, or copy an install to PostgreSQL",
                        description="The rows live in SQLite under MLBOT_HOME, or in PostgreSQL when "
                                    "MLBOT_DATABASE_URL=postgresql://user@host:5432/name is set.")
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="backend, schema version and rows per table")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    copy = actions.add_parser("copy", help="copy every row from one database to another",
                              description="Copy settings, cooldowns, the cache with its blobs, the friend's memory "
                                          "and the schedules. Running it again copies only what is missing; the "
                                          "source is only read.")
    copy.add_argument("--from", dest="source", required=True, metavar="URL",
                      help="sqlite:///path/mlbot.sqlite3 or postgresql://...")
    copy.add_argument("--to", dest="destination", required=True, metavar="URL",
                      help="postgresql://user@host:5432/name (or sqlite:///path)")
    copy.add_argument("--json", action="store_true", help="print one JSON object")


def run_db(args: argparse.Namespace, home: ModelHome) -> int:
    try:
        if args.db_command == "status":
            return asyncio.run(_status(home, args.json))
        return asyncio.run(_copy(args.source, args.destination, args.json))
    except DatabaseError as exc:
        print(f"mlbot: {exc}", file=sys.stderr)
        return 2


async def _status(home: ModelHome, as_json: bool) -> int:
    from storage.backends.postgres_migrations import MIGRATIONS

    db = open_database(sqlite_path=home.db_path)
    async with db:
        report = {"backend": db.dialect, "database": db.describe(), "schema_version": await db.schema_version(),
                  "latest_schema_version": MIGRATIONS[-1][0], "rows": await db.row_counts()}
        size = await db.fetchone("SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM cache")
        report["cache_bytes"] = int(size[0])
    if as_json:
        print(json.dumps(report))
        return 0
    print(f"backend: {report['backend']} ({report['database']})")
    print(f"schema version: {report['schema_version']} (this mlbot knows {report['latest_schema_version']})")
    print(f"cache: {report['cache_bytes'] / 2**20:.1f} MiB")
    for table, count in report["rows"].items():
        print(f"  {table:<24} {count:>10}")
    return 0


async def _copy(source_url: str, destination_url: str, as_json: bool) -> int:
    from bot.app import SECRET_STATE_KEY
    from storage.backends.sqlite import SqliteDatabase
    from storage.settings import BotState
    from storage.transfer import copy_database

    if not source_url.startswith("sqlite:///") and not is_postgres_url(source_url):
        raise DatabaseError("--from must be sqlite:///path/to/mlbot.sqlite3 or postgresql://...")
    source = (SqliteDatabase(sqlite_path_of(source_url), read_only=True)
              if source_url.startswith("sqlite:///") else open_database(source_url))
    destination = open_database(destination_url)
    if source.describe() == destination.describe():
        raise DatabaseError("--from and --to are the same database")

    def show(report) -> None:
        if not as_json:
            print(f"  {report.table:<24} source {report.source:>8}  destination {report.after:>8}"
                  f"  (copied {report.copied}{'' if report.complete else ', COUNTS DO NOT MATCH'})", flush=True)

    async with source, destination:
        if not as_json:
            print(f"copying {source.describe()} -> {destination.describe()}")
        reports = await copy_database(source, destination, on_table=show)
        held_users = any(r.before for r in reports if r.table in USER_TABLES)
        secret_note = await _carry_secret(source, destination, BotState(destination), SECRET_STATE_KEY, held_users)
    complete = all(r.complete for r in reports)
    if as_json:
        print(json.dumps({"complete": complete, "secret": secret_note,
                          "tables": {r.table: {"source": r.source, "destination": r.after, "copied": r.copied,
                                               "before": r.before, "complete": r.complete} for r in reports}}))
    else:
        print(f"user keys: {secret_note}")
        print("row counts match: every source row is in the destination" if complete else
              "row counts DO NOT match: see the tables marked above", flush=True)
    return 0 if complete else 1


# Tables whose rows are found by a user's keyed hash.
USER_TABLES = {"cache_users", "friend_turns", "friend_summaries", "friend_facts", "friend_personas", "friend_threads"}


async def _carry_secret(source, destination, state, key: str, held_users: bool) -> str:
    """Users are stored by a keyed hash; the destination must hash with the source's key, or
    nobody's memory, settings or /forget would find their rows after the move. A destination
    that made its own key but holds nobody's rows yet takes the source's."""
    from storage.backends.sqlite import SqliteDatabase

    if not destination.shared:
        return "the destination keeps its key in its MLBOT_HOME/secret.key: copy the source's secret.key there"
    if isinstance(source, SqliteDatabase):
        secret_file = source.path.parent / "secret.key"
        if not secret_file.is_file():
            return f"no {secret_file} next to the source: users start afresh"
        wanted = secret_file.read_text().strip()
    else:
        row = await source.fetchone("SELECT value FROM bot_state WHERE key = ?", (key,))
        if row is None:
            return "the source has no shared key: users start afresh"
        wanted = row[0]
    kept = await state.get_or_set(key, wanted)
    if kept != wanted and not held_users:
        await state.set(key, wanted)
        kept = wanted
    if kept != wanted:
        return ("WARNING: the destination already holds users hashed with another key; the copied users "
                "will not be recognised there")
    return "carried over (the destination hashes user ids as the source did)"
