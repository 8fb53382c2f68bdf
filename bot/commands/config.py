"""/config ...: per-server settings, for members with the Manage Server permission."""
from __future__ import annotations

from bot.commands.base import GROUP_DESCRIPTIONS, CommandContext, Option, OptionKind, command
from bot.reply import Reply
from ml.errors import InputError

GROUP_DESCRIPTIONS["config"] = "Server settings (Manage Server permission)"

# A busy server is not refused: the service queues bound the work and tell each caller its
# place. What is refused by default is one member's flood (more than user_per_minute).
SETTING_DEFAULTS = {
    "user_per_minute": "30",     # model commands one member may start per minute (0: no limit)
    "cooldown_seconds": "0",     # per user, per model command (0: off)
    "server_per_minute": "0",    # model commands per minute in the whole server (0: no limit)
    "prefix": "!",               # prefix commands, where Message Content is granted
}


def _per_minute(value: str) -> str:
    return f"{value} a minute" if int(value) > 0 else "no limit"



@command("config show", "Show this server's settings", ephemeral=True, manage_server=True)
async def config_show(ctx: CommandContext) -> Reply:
    from bot.commands.services import describe_switches

    settings = await ctx.app.settings.all(ctx.guild_id)
    fields = [("model commands per member", _per_minute(settings["user_per_minute"]) + " (/config user-rate)"),
              ("cooldown per member and command", f"{settings['cooldown_seconds']} s" if
               float(settings["cooldown_seconds"]) > 0 else "off (/config cooldown)"),
              ("model commands in the whole server", _per_minute(settings["server_per_minute"]) +
               " (/config server-rate)"),
              ("prefix", settings["prefix"])]
    switches = await describe_switches(ctx.app, ctx.guild_id)
    fields.append(("services", switches["text"]))
    from storage.daily_tracks import DailyTrackStore

    schedule = await DailyTrackStore(ctx.app.db).schedule(ctx.guild_id)
    fields.append(("daily track", f"{schedule.post_time} {schedule.timezone} in <#{schedule.channel_id}>"
                   if schedule else "off"))
    return Reply(title="Server settings", fields=fields, data={**settings, "services": switches["data"]})


@command("config cooldown", "Seconds each member waits between model commands (0 turns it off)",
         [Option("seconds", OptionKind.INTEGER, "0 to 3600", min_value=0, max_value=3600)],
         ephemeral=True, manage_server=True)
async def config_cooldown(ctx: CommandContext, seconds: int) -> Reply:
    await ctx.app.settings.set(ctx.guild_id, "cooldown_seconds", str(seconds))
    return Reply(text=f"Members now wait {seconds} s between model commands.")


@command("config user-rate", "Model commands each member may start per minute (0: no limit)",
         [Option("per_minute", OptionKind.INTEGER, "0 to 1000 (default 30)", min_value=0, max_value=1000)],
         ephemeral=True, manage_server=True)
async def config_user_rate(ctx: CommandContext, per_minute: int) -> Reply:
    await ctx.app.settings.set(ctx.guild_id, "user_per_minute", str(per_minute))
    if per_minute == 0:
        return Reply(text="Members may start any number of model commands; the queues still bound the work.")
    return Reply(text=f"Each member may now start {per_minute} model commands per minute.")


@command("config server-rate", "Model commands the whole server may run per minute (0: no limit, the default)",
         [Option("per_minute", OptionKind.INTEGER, "0 to 1000", min_value=0, max_value=1000)],
         ephemeral=True, manage_server=True)
async def config_server_rate(ctx: CommandContext, per_minute: int) -> Reply:
    await ctx.app.settings.set(ctx.guild_id, "server_per_minute", str(per_minute))
    if per_minute == 0:
        return Reply(text="No server-wide limit: commands past the queues' room are told when to try again.")
    return Reply(text=f"This server may now run {per_minute} model commands per minute.")


@command("config prefix", "The prefix for typed commands, like ! in !digit",
         [Option("prefix", OptionKind.TEXT, "1 to 3 characters, no spaces", max_length=3)],
         ephemeral=True, manage_server=True)
async def config_prefix(ctx: CommandContext, prefix: str) -> Reply:
    prefix = prefix.strip()
    if not 1 <= len(prefix) <= 3 or " " in prefix:
        raise InputError("a prefix is 1 to 3 characters without spaces")
    await ctx.app.settings.set(ctx.guild_id, "prefix", prefix)
    return Reply(text=f"Typed commands now start with {prefix} (for example {prefix}digit).")


def watch_key(channel_id: str) -> str:
    return f"tone_watch:{channel_id}"


@command("config tone-watch", "Watch this channel for passive aggression and react to flagged messages",
         [Option("state", OptionKind.TEXT, "on or off"),
          Option("threshold", OptionKind.INTEGER, "Flag at this passive-aggression % (50-99, default 80)",
                 required=False, min_value=50, max_value=99)],
         ephemeral=True, manage_server=True)
async def config_tone_watch(ctx: CommandContext, state: str, threshold: int | None = None) -> Reply:
    if ctx.channel_id is None:
        raise InputError("use this in the channel to watch")
    state = state.strip().lower()
    if state not in ("on", "off"):
        raise InputError("state is on or off")
    if state == "off":
        await ctx.app.settings.set_extra(ctx.guild_id, watch_key(ctx.channel_id), None)
        return Reply(text="Tone watch is off in this channel.")
    threshold = 80 if threshold is None else threshold
    await ctx.app.settings.set_extra(ctx.guild_id, watch_key(ctx.channel_id), str(threshold))
    return Reply(text=f"Tone watch is on in this channel: messages that read at least {threshold}% "
                      "passive-aggressive get a reaction. Message text is never stored, only a hash and the score.")


@command("config daily-track", "Post a GAN-composed track every day at a set time (time: off stops it)",
         [Option("time", OptionKind.TEXT, "HH:MM in 24-hour time, or off", max_length=5),
          Option("channel", OptionKind.CHANNEL, "Where to post (default: this channel)", required=False),
          Option("timezone", OptionKind.TEXT, "An IANA time zone such as Europe/Paris (default UTC)",
                 required=False, max_length=64)],
         ephemeral=True, manage_server=True)
async def config_daily_track(ctx: CommandContext, time: str, channel: str | None = None,
                             timezone: str = "UTC") -> Reply:
    from storage.daily_tracks import DailyTrackStore

    store = DailyTrackStore(ctx.app.db)
    if time.strip().lower() == "off":
        removed = await store.remove_schedule(ctx.guild_id)
        return Reply(text="The daily track is off." if removed else "There was no daily track to turn off.")
    post_time = parse_clock_time(time)
    zone = parse_timezone(timezone)
    channel_id = channel or ctx.channel_id
    if channel_id is None:
        raise InputError("name a channel for the daily track")
    if ctx.channel_problem is not None:
        problem = await ctx.channel_problem(channel_id, ctx.guild_id)  # a channel of this server only
        if problem:
            raise InputError(problem)
    await store.set_schedule(ctx.guild_id, channel_id, post_time, zone)
    return Reply(text=f"Every day at {post_time} ({zone}) I will post a new track in <#{channel_id}>. "
                      "`/config daily-track time:off` stops it.")


def parse_clock_time(text: str) -> str:
    import re

    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", text)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise InputError(f"time must be HH:MM in 24-hour time, such as 09:30 or 18:00 (not {text.strip()[:20]!r})")
    return f"{int(match[1]):02d}:{match[2]}"


def parse_timezone(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = name.strip()
    try:
        if not name or name.startswith(("/", ".")):
            raise ValueError
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"unknown time zone {name[:64]!r}: use an IANA name such as Europe/Paris or "
                         "America/New_York") from None
    return name
