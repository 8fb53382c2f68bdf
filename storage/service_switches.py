"""Which services are switched on, per server, per channel, and in DMs.

A row is an explicit choice; no row means "as the level above" (a channel follows its
server, a server and DMs are on). The most specific row wins, so an admin can turn a
service off for the server and back on in one channel.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import NamedTuple

from storage.db import Database

DMS = "dm"          # guild_id of the DM switches (Discord's server ids are numbers: no clash)
WHOLE_SERVER = ""   # channel_id of a server-wide switch


@dataclass(frozen=True)
class Switch:
    guild_id: str
    channel_id: str     # WHOLE_SERVER, or the channel it applies to
    service: str
    enabled: bool


class Decision(NamedTuple):
    enabled: bool
    where: str          # "channel", "server", "dm" or "default": which level decided


class ServiceSwitches:
    def __init__(self, db: Database):
        self.db = db

    async def set(self, guild_id: str, channel_id: str, service: str, enabled: bool | None) -> None:
        """Record a choice; None removes it (the level above decides again)."""
        async with self.db.transaction() as tx:
            if enabled is None:
                await tx.execute("DELETE FROM service_switches WHERE guild_id = ? AND channel_id = ? AND service = ?",
                                 (guild_id, channel_id, service))
                return
            await tx.execute(
                "INSERT INTO service_switches (guild_id, channel_id, service, enabled, changed_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT(guild_id, channel_id, service)"
                " DO UPDATE SET enabled = excluded.enabled, changed_at = excluded.changed_at",
                (guild_id, channel_id, service, int(enabled), time.time()),
            )

    async def decide(self, guild_id: str | None, channels: list[str], service: str) -> Decision:
        """Is `service` on here? `channels` lists the place from the most specific (a thread,
        then its parent channel); guild_id None means a DM."""
        if guild_id is None:
            row = await self.db.fetchone("SELECT enabled FROM service_switches WHERE guild_id = ? AND channel_id = ?"
                                         " AND service = ?", (DMS, WHOLE_SERVER, service))
            return Decision(bool(row[0]), "dm") if row else Decision(True, "default")
        places = [c for c in channels if c] + [WHOLE_SERVER]
        marks = ", ".join("?" for _ in places)
        rows = dict(await self.db.fetchall(
            f"SELECT channel_id, enabled FROM service_switches WHERE guild_id = ? AND service = ?"
            f" AND channel_id IN ({marks})", (guild_id, service, *places)))
        for place in places:
            if place in rows:
                return Decision(bool(rows[place]), "server" if place == WHOLE_SERVER else "channel")
        return Decision(True, "default")

    async def listing(self, guild_id: str) -> list[Switch]:
        """Every explicit choice of a server (or of DMs: guild_id DMS), server-wide ones first."""
        rows = await self.db.fetchall("SELECT channel_id, service, enabled FROM service_switches WHERE guild_id = ?"
                                      " ORDER BY channel_id, service", (guild_id,))
        return [Switch(guild_id, channel, service, bool(enabled)) for channel, service, enabled in rows]
