"""What the friend remembers, per user and conversation (a DM, a channel, a thread, the CLI).

Users are keyed by a keyed hash (bot/users.py), conversations by a keyed hash of where they
happen. The text itself is stored, since remembering it is the point; `forget_user` removes
every row that holds it. Each exchange is written in one transaction, so a crash never keeps a
user's message without the reply or the other way round.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from storage.db import Database

MAX_FACTS = 20  # per conversation; the oldest go first


@dataclass(frozen=True)
class StoredTurn:
    id: int
    role: str
    speaker: str
    content: str


@dataclass(frozen=True)
class StoredFact:
    key: str
    text: str
    value: str | None  # None for facts kept before values were (migration 7)


@dataclass
class StoredMemory:
    summary: str
    facts: list[StoredFact]
    turns: list[StoredTurn]


class FriendMemory:
    def __init__(self, db: Database):
        self.db = db

    async def summary(self, user_key: str, conversation: str) -> str:
        row = await self.db.fetchone("SELECT summary FROM friend_summaries WHERE user_key = ? AND conversation = ?",
                                     (user_key, conversation))
        return row[0] if row else ""

    async def load(self, user_key: str, conversation: str, recent: int) -> StoredMemory:
        summary = await self.summary(user_key, conversation)
        facts = await self.db.fetchall(
            "SELECT key, text, value FROM friend_facts WHERE user_key = ? AND conversation = ? ORDER BY at",
            (user_key, conversation))
        turns = await self.db.fetchall(
            "SELECT id, role, speaker, content FROM friend_turns WHERE user_key = ? AND conversation = ? "
            "ORDER BY id DESC LIMIT ?", (user_key, conversation, recent))
        return StoredMemory(summary, [StoredFact(*f) for f in facts],
                            [StoredTurn(*t) for t in reversed(turns)])

    async def conversations(self, user_key: str) -> list[str]:
        """The conversations a user has said something in."""
        rows = await self.db.fetchall("SELECT DISTINCT conversation FROM friend_turns WHERE user_key = ?", (user_key,))
        return [row[0] for row in rows]

    async def user_messages(self, user_key: str, conversation: str, count: int) -> list[str]:
        """The user's last `count` messages in a conversation, oldest first."""
        rows = await self.db.fetchall(
            "SELECT content FROM friend_turns WHERE user_key = ? AND conversation = ? AND role = 'user' "
            "ORDER BY id DESC LIMIT ?", (user_key, conversation, count))
        return [r[0] for r in reversed(rows)]

    async def add_exchange(self, user_key: str, conversation: str, speaker: str, message: str, reply: str,
                           facts: list[tuple[str, str, str]]) -> None:
        """`facts` are (key, text, value); a newer fact with the same key replaces the older."""
        now = time.time()
        async with self.db.transaction() as tx:
            await tx.executemany(
                "INSERT INTO friend_turns (user_key, conversation, role, speaker, content, at) VALUES (?, ?, ?, ?, ?, ?)",
                [(user_key, conversation, "user", speaker, message, now),
                 (user_key, conversation, "assistant", "friend", reply, now)])
            await tx.executemany(
                "INSERT INTO friend_facts (user_key, conversation, key, text, value, at) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (user_key, conversation, key) DO UPDATE SET text = excluded.text, value = excluded.value, "
                "at = excluded.at",
                [(user_key, conversation, key, text, value, now) for key, text, value in facts])
            await tx.execute(
                "DELETE FROM friend_facts WHERE user_key = ? AND conversation = ? AND key NOT IN "
                "(SELECT key FROM friend_facts WHERE user_key = ? AND conversation = ? ORDER BY at DESC LIMIT ?)",
                (user_key, conversation, user_key, conversation, MAX_FACTS))

    async def last_exchange(self, user_key: str, conversation: str) -> tuple[StoredTurn, StoredTurn] | None:
        """The latest (user's message, friend's reply) of a conversation, or None."""
        rows = await self.db.fetchall(
            "SELECT id, role, speaker, content FROM friend_turns WHERE user_key = ? AND conversation = ? "
            "ORDER BY id DESC LIMIT 2", (user_key, conversation))
        if len(rows) < 2 or rows[1][1] != "user" or rows[0][1] != "assistant":
            return None
        return StoredTurn(*rows[1]), StoredTurn(*rows[0])

    async def take_back(self, user_key: str, turn_ids: list[int]) -> int:
        """Remove turns (an exchange whose reply is asked again); returns how many went."""
        marks = ", ".join("?" for _ in turn_ids)
        async with self.db.transaction() as tx:
            return await tx.execute(f"DELETE FROM friend_turns WHERE user_key = ? AND id IN ({marks})",
                                    (user_key, *turn_ids))

    async def unsummarised_before_recent(self, user_key: str, conversation: str, recent: int) -> list[StoredTurn]:
        """Turns older than the `recent` ones that the summary does not cover yet."""
        rows = await self.db.fetchall(
            "SELECT id, role, speaker, content FROM friend_turns WHERE user_key = ? AND conversation = ? "
            "AND summarised = 0 AND id < COALESCE((SELECT MIN(id) FROM (SELECT id FROM friend_turns "
            "WHERE user_key = ? AND conversation = ? ORDER BY id DESC LIMIT ?) AS recent), 0) ORDER BY id",
            (user_key, conversation, user_key, conversation, recent))
        return [StoredTurn(*r) for r in rows]

    async def save_summary(self, user_key: str, conversation: str, summary: str, through_id: int) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO friend_summaries (user_key, conversation, summary, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (user_key, conversation) DO UPDATE SET summary = excluded.summary, "
                "updated_at = excluded.updated_at", (user_key, conversation, summary, time.time()))
            await tx.execute("UPDATE friend_turns SET summarised = 1 WHERE user_key = ? AND conversation = ? "
                               "AND id <= ?", (user_key, conversation, through_id))

    # ----- personas ----------------------------------------------------------------------
    async def persona(self, user_key: str, guild_id: str | None) -> str | None:
        """The user's own persona, else the server's default, else None (the built-in one)."""
        for scope in (f"user:{user_key}", f"guild:{guild_id}" if guild_id else None):
            if scope is None:
                continue
            row = await self.db.fetchone("SELECT persona FROM friend_personas WHERE scope = ?", (scope,))
            if row:
                return row[0]
        return None

    async def set_persona(self, scope: str, persona: str | None) -> None:
        """scope is "user:<key>" or "guild:<id>"; None goes back to the default."""
        async with self.db.transaction() as tx:
            if persona is None:
                await tx.execute("DELETE FROM friend_personas WHERE scope = ?", (scope,))
            else:
                await tx.execute(
                    "INSERT INTO friend_personas (scope, persona, set_at) VALUES (?, ?, ?) ON CONFLICT (scope) "
                    "DO UPDATE SET persona = excluded.persona, set_at = excluded.set_at", (scope, persona, time.time()))

    # ----- threads the friend opened -----------------------------------------------------
    async def remember_thread(self, channel_id: str, user_key: str) -> None:
        async with self.db.transaction() as tx:
            await tx.execute("INSERT INTO friend_threads (channel_id, user_key, opened_at) VALUES (?, ?, ?) "
                             "ON CONFLICT (channel_id) DO UPDATE SET user_key = excluded.user_key, "
                             "opened_at = excluded.opened_at", (channel_id, user_key, time.time()))

    async def is_friend_thread(self, channel_id: str) -> bool:
        return await self.db.fetchone("SELECT 1 FROM friend_threads WHERE channel_id = ?", (channel_id,)) is not None

    # ----- forgetting --------------------------------------------------------------------
    async def forget_user(self, user_key: str) -> int:
        """Delete everything stored about a user; returns the number of rows."""
        removed = 0
        async with self.db.transaction() as tx:
            for sql, params in (
                ("DELETE FROM friend_turns WHERE user_key = ?", (user_key,)),
                ("DELETE FROM friend_summaries WHERE user_key = ?", (user_key,)),
                ("DELETE FROM friend_facts WHERE user_key = ?", (user_key,)),
                ("DELETE FROM friend_personas WHERE scope = ?", (f"user:{user_key}",)),
                ("DELETE FROM friend_threads WHERE user_key = ?", (user_key,)),
            ):
                removed += await tx.execute(sql, params)
        return removed
