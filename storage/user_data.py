"""Everything stored about one user, gathered for /mydata.

Rows are found by the user's keyed hash, the same way `/forget` deletes them: the cached
results of their requests, the friend's memory of them, their rate-limit events and their
corrections of answers (feedback).
The channel watch log and the command log hold no user key, so nothing there is theirs.
"""
from __future__ import annotations

import base64
import json
from typing import Any

from storage.db import Database
from storage.feedback import FeedbackStore

INLINE_BLOB_BYTES = 64 * 1024  # digit pictures go in whole; a track's audio only by size


async def export_user(db: Database, user_key: str) -> dict[str, Any]:
    results = []
    for key, service, version, result, blob, created, used, hits in await db.fetchall(
            "SELECT c.key, c.service, c.model_version, c.result, c.blob, c.created_at, c.last_used_at, c.hits"
            " FROM cache c JOIN cache_users u ON u.key = c.key WHERE u.user_key = ? ORDER BY c.created_at",
            (user_key,)):
        entry = {"key": key, "service": service, "model_version": version, "result": json.loads(result),
                 "created_at": created, "last_used_at": used, "hits": hits,
                 "file_bytes": len(blob) if blob else 0}
        if blob and len(blob) <= INLINE_BLOB_BYTES:
            entry["file_base64"] = base64.b64encode(bytes(blob)).decode("ascii")
        results.append(entry)

    async def rows(sql: str, names: tuple[str, ...], *params: Any) -> list[dict[str, Any]]:
        return [dict(zip(names, row)) for row in await db.fetchall(sql, params)]

    friend = {
        "turns": await rows("SELECT conversation, role, speaker, content, at FROM friend_turns WHERE user_key = ?"
                            " ORDER BY id", ("conversation", "role", "speaker", "content", "at"), user_key),
        "summaries": await rows("SELECT conversation, summary, updated_at FROM friend_summaries WHERE user_key = ?"
                                " ORDER BY conversation", ("conversation", "summary", "updated_at"), user_key),
        "facts": await rows("SELECT conversation, key, text, value, at FROM friend_facts WHERE user_key = ?"
                            " ORDER BY at", ("conversation", "key", "text", "value", "at"), user_key),
        "persona": await rows("SELECT persona, set_at FROM friend_personas WHERE scope = ?", ("persona", "set_at"),
                              f"user:{user_key}"),
        "threads": await rows("SELECT channel_id, opened_at FROM friend_threads WHERE user_key = ? ORDER BY opened_at",
                              ("channel_id", "opened_at"), user_key),
    }
    # Rate-limit buckets are "user:<key>" and "user:<key>:<command>" (bot/commands/base.py).
    rate_limit_events = await rows("SELECT bucket, at FROM cooldown_events WHERE bucket = ? OR bucket LIKE ?"
                                   " ORDER BY at", ("bucket", "at"), f"user:{user_key}", f"user:{user_key}:%")
    feedback = [entry.as_json() for entry in await FeedbackStore(db).of_user(user_key)]
    return {"user_key": user_key, "results": results, "friend": friend, "rate_limit_events": rate_limit_events,
            "feedback": feedback}


def count_rows(export: dict[str, Any]) -> int:
    return len(export["results"]) + sum(len(v) for v in export["friend"].values()) + \
        len(export["rate_limit_events"]) + len(export["feedback"])


async def expire_user_data(db: Database, before: float) -> dict[str, int]:
    """Delete what is tied to a user and untouched since `before` (the retention setting):
    the friend's memory, the cached results of users' requests and their feedback. Returns rows per table."""
    removed: dict[str, int] = {}
    async with db.transaction() as tx:
        # A result someone asked for goes once nobody has used it since the cutoff; results tied
        # to no user are left to the cache's size bound.
        removed["cache"] = await tx.execute(
            "DELETE FROM cache WHERE last_used_at < ? AND key IN (SELECT key FROM cache_users)", (before,))
        await tx.execute("DELETE FROM cache_users WHERE key NOT IN (SELECT key FROM cache)")
        for table, column, extra in (("friend_turns", "at", ""), ("friend_summaries", "updated_at", ""),
                                     ("friend_facts", "at", ""), ("friend_threads", "opened_at", ""),
                                     ("friend_personas", "set_at", " AND scope LIKE 'user:%'"),
                                     ("feedback", "at", "")):
            removed[table] = await tx.execute(f"DELETE FROM {table} WHERE {column} < ?{extra}", (before,))
    return removed
