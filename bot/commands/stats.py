"""/stats: what the services did over the last day, from the command log in the database
(every process's commands, across restarts; Prometheus' counters are per process)."""
from __future__ import annotations

import time

from bot.commands.base import CommandContext, command
from bot.reply import Reply

DAY = 24 * 3600.0
OTHER_OUTCOMES = {"cooling_down": "slowed down", "switched_off": "switched off", "not_ready": "model not ready",
                  "refused": "bad input", "crashed": "crashed", "database_error": "database errors"}


@command("stats", "The last day per service: commands, cache hit rate, median latency, busy answers (admins)",
         ephemeral=True, manage_server=True, operator_anywhere=True)
async def stats(ctx: CommandContext) -> Reply:
    # In a server, that server's figures; the operator's console and CLI see every server and DM.
    services = await ctx.app.command_log.summary(ctx.guild_id, since=time.time() - DAY)
    scope = "this server" if ctx.guild_id else "every server and DM"
    if not services:
        return Reply(title="Stats, last 24 h", text=f"No model commands in {scope} in the last day.",
                     data={"scope": scope, "services": {}})
    fields, data = [], {}
    for entry in services:
        parts = [f"{entry.commands} command{'s' if entry.commands != 1 else ''}"]
        if entry.hit_rate is not None:
            parts.append(f"cache hits {entry.hit_rate:.0%} of {entry.cache_lookups}")
        if entry.median_seconds is not None:
            parts.append(f"median {entry.median_seconds:.2f} s")
        parts.append(f"busy {entry.busy}")
        parts += [f"{label} {entry.outcomes[outcome]}" for outcome, label in OTHER_OUTCOMES.items()
                  if entry.outcomes.get(outcome)]
        fields.append((f"/{entry.service}", ", ".join(parts)))
        data[entry.service] = {"commands": entry.commands, "cache_hits": entry.cache_hits,
                               "cache_lookups": entry.cache_lookups, "hit_rate": entry.hit_rate,
                               "median_seconds": entry.median_seconds, "busy": entry.busy,
                               "outcomes": entry.outcomes}
    return Reply(title="Stats, last 24 h", text=f"Model commands in {scope}; the median is of answered commands, "
                 "from the moment each arrived (waiting in a queue included).", fields=fields,
                 data={"scope": scope, "services": data})
