"""/help, /about, /status and /forget."""
from __future__ import annotations

import bot
from bot.app import models_overview
from bot.commands.base import REGISTRY, CommandContext, command
from bot.reply import Reply
from ml.progress import format_duration


@command("help", "List the commands", ephemeral=True)
async def help_(ctx: CommandContext) -> Reply:
    lines = []
    for cmd in REGISTRY.values():
        if ctx.adapter not in cmd.adapters:
            continue
        args = " ".join(f"<{o.name}>" if o.required else f"[{o.name}]" for o in cmd.options)
        lines.append(f"/{cmd.name} {args}".rstrip() + f" - {cmd.description}")
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
    return Reply(title="Status", fields=fields, data={"fields": dict(fields)})


@command("forget", "Delete every stored result of your requests", ephemeral=True)
async def forget(ctx: CommandContext) -> Reply:
    removed = await ctx.app.cache.forget_user(ctx.app.user_key(ctx.adapter, ctx.user_id))
    return Reply(text=f"Deleted {removed} stored result(s) of your requests.", data={"deleted": removed})
