"""/help, /about, /status and /forget."""
from __future__ import annotations

import os

import bot
from bot.app import models_overview
from bot.commands.base import REGISTRY, CommandContext, command
from bot.reply import Reply
from bot.shards import shard_of
from ml.progress import format_duration


@command("help", "List the commands", ephemeral=True)
async def help_(ctx: CommandContext) -> Reply:
    lines = []
    for cmd in REGISTRY.values():
        if ctx.adapter not in cmd.adapters:
            continue
        args = " ".join(f"<{o.name}>" if o.required else f"[{o.name}]" for o in cmd.options)
        line = f"/{cmd.name} {args}".rstrip() + f" - {cmd.description}"
        if cmd.service and ctx.adapter == "discord" and not (await ctx.app.switches.decide(
                ctx.guild_id, [ctx.channel_id, ctx.parent_channel_id], cmd.service)).enabled:
            line += " (an admin turned it off here)"
        lines.append(line)
    lines.append("Waiting commands show their place in the queue. Server admins: /config show lists the "
                 "settings (services on and off, rate limits), /stats the last day's figures.")
    if ctx.adapter == "discord":
        lines.append("Buttons under answers, for whoever asked: Regenerate (/essay, /track, the friend's replies) "
                     "tries again with a new seed; \"Was this right?\" (/tone, /digit, Check tone) sends your "
                     "correction, with the text or picture only if you tick share (see /privacy).")
    return Reply(text="\n".join(lines), title="Commands")


@command("about", "Version, models and their figures, uptime")
async def about(ctx: CommandContext) -> Reply:
    fields = [("version", bot.__version__), ("uptime", format_duration(ctx.app.uptime_seconds))]
    fields += [(f"model: {name}", line) for name, line in models_overview(ctx.app.home)]
    return Reply(title="mlbot", text="Machine-learning toys, each model trained on this machine.", fields=fields,
                 data=dict(fields))


@command("status", "What is training, and the cache", ephemeral=True)
async def status(ctx: CommandContext) -> Reply:
    fields = []
    for name, line in models_overview(ctx.app.home):
        fields.append((name, ctx.app.trainer.describe(name) or line))
    stats = await ctx.app.cache.stats()
    fields.append(("cache", f"{stats['entries']} results, {stats['bytes'] / 2**20:.1f} of "
                            f"{stats['max_bytes'] / 2**20:.0f} MiB, {stats['hits']} hits"))
    fields.append(("storage", ctx.app.db.dialect))
    plan = ctx.app.shards
    if plan is not None:
        here = f"; this server is on shard {shard_of(ctx.guild_id, plan.count)}" if ctx.guild_id else ""
        fields.append(("gateway", f"process {os.getpid()} holds {plan.describe()}{here}"))
    return Reply(title="Status", fields=fields, data={"fields": dict(fields)})


@command("forget", "Delete everything stored about you: results, conversations, facts, persona, feedback",
         ephemeral=True)
async def forget(ctx: CommandContext) -> Reply:
    user_key = ctx.app.user_key(ctx.adapter, ctx.user_id)
    results = await ctx.app.cache.forget_user(user_key)
    friend_rows = await ctx.app.friend.forget(user_key)
    feedback = await ctx.app.feedback.forget_user(user_key)
    deleted = results + friend_rows + feedback
    return Reply(text=f"Deleted {deleted} row(s): {results} stored result(s) of your requests, "
                      f"{friend_rows} from your conversations with the friend (turns, summaries, facts, persona) "
                      f"and {feedback} answer correction(s) you sent.",
                 data={"deleted": deleted, "results": results, "friend": friend_rows, "feedback": feedback})
