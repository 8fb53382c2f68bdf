"""Per-server settings and the bot's own small state, as key/value rows."""
from __future__ import annotations

from storage.db import Database


class GuildSettings:
    def __init__(self, db: Database, defaults: dict[str, str]):
        self.db = db
        self.defaults = defaults

    async def get(self, guild_id: str, key: str) -> str:
        row = await self.db.fetchone("SELECT value FROM guild_settings WHERE guild_id = ? AND key = ?", (guild_id, key))
        return row[0] if row else self.defaults[key]

    async def all(self, guild_id: str) -> dict[str, str]:
        rows = await self.db.fetchall("SELECT key, value FROM guild_settings WHERE guild_id = ?", (guild_id,))
        return {**self.defaults, **{k: v for k, v in rows if k in self.defaults}}

    async def set(self, guild_id: str, key: str, value: str) -> None:
        if key not in self.defaults:
            raise KeyError(key)
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO guild_settings (guild_id, key, value) VALUES (?, ?, ?)"
                " ON CONFLICT(guild_id, key) DO UPDATE SET value = excluded.value",
                (guild_id, key, value),
            )

    async def get_extra(self, guild_id: str, key: str) -> str | None:
        """A per-server value with no default (e.g. per-channel switches)."""
        row = await self.db.fetchone("SELECT value FROM guild_settings WHERE guild_id = ? AND key = ?", (guild_id, key))
        return row[0] if row else None

    async def set_extra(self, guild_id: str, key: str, value: str | None) -> None:
        async with self.db.transaction() as tx:
            if value is None:
                await tx.execute("DELETE FROM guild_settings WHERE guild_id = ? AND key = ?", (guild_id, key))
            else:
                await tx.execute(
                    "INSERT INTO guild_settings (guild_id, key, value) VALUES (?, ?, ?)"
                    " ON CONFLICT(guild_id, key) DO UPDATE SET value = excluded.value",
                    (guild_id, key, value),
                )


class BotState:
    def __init__(self, db: Database):
        self.db = db

    async def get(self, key: str) -> str | None:
        row = await self.db.fetchone("SELECT value FROM bot_state WHERE key = ?", (key,))
        return row[0] if row else None

    async def set(self, key: str, value: str) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO bot_state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    async def get_or_set(self, key: str, value: str) -> str:
        """The stored value, storing `value` first when there is none (the first process wins)."""
        async with self.db.transaction() as tx:
            await tx.execute("INSERT INTO bot_state (key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING",
                             (key, value))
            return (await tx.fetchone("SELECT value FROM bot_state WHERE key = ?", (key,)))[0]
