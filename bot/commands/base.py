"""Command definitions: name, options and an async handler that returns a Reply."""
from __future__ import annotations

import enum
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from bot.reply import Reply
from bot.metrics import record_command
from ml.errors import Busy, InputError, ModelNotReady, UserFacingError
from ml.runtime import queue_watcher
from storage.cooldowns import Limit
from storage.db import DatabaseError

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)


class OptionKind(enum.Enum):
    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"  # a decimal number (Discord's float option)
    CHANNEL = "channel"  # a server channel, passed to handlers as its id (a string)
    ATTACHMENT = "attachment"


@dataclass
class Option:
    name: str
    kind: OptionKind
    description: str
    required: bool = True
    min_value: int | float | None = None
    max_value: int | float | None = None
    max_length: int | None = None


@dataclass
class InputFile:
    """An uploaded file, read only when the handler asks (after the size was checked)."""

    filename: str
    size: int
    reader: Callable[[], Awaitable[bytes]]

    async def read(self) -> bytes:
        return await self.reader()


@dataclass
class CommandContext:
    app: "App"
    adapter: str                     # "discord", "console" or "cli"
    user_id: str                     # adapter-specific id; hashed before it is stored
    guild_id: str | None = None      # None in DMs, the console and the CLI
    can_manage_server: bool = False  # Discord's Manage Server permission in this server
    channel_id: str | None = None    # where the command was used (Discord)
    parent_channel_id: str | None = None  # the channel a thread belongs to (service switches follow it)
    bot_owner: bool = False          # Discord: the application's owner, who runs the bot
    user_name: str | None = None     # how the user is called where they speak (the friend uses it)
    # Adapters that can show a command's progress (Discord edits its "thinking" message,
    # the console prints a line) set this; handlers call ctx.report(...) and need not care.
    progress: Callable[[str], Awaitable[None]] | None = None
    # Where a reply can be shown while it is written (Discord edits one message as it grows);
    # None elsewhere: the console and the CLI print the finished reply once.
    reply_stream: Callable[[str], Awaitable[None]] | None = None
    # Discord sets this: can the bot post (with files) in channel (of server)? None if it can, else why not.
    channel_problem: Callable[[str, str | None], Awaitable[str | None]] | None = None
    # Non-zero when the user asked for the same answer again (a Regenerate button): another seed.
    variant: int = 0

    @property
    def is_operator(self) -> bool:
        """Whoever runs the bot: the console and the CLI are theirs, and on Discord the app's owner."""
        return self.bot_owner or self.adapter in ("console", "cli")

    async def report(self, message: str) -> None:
        if self.progress is not None:
            try:
                await self.progress(message)
            except Exception:  # progress is a courtesy: never let it fail the command
                log.debug("progress update failed", exc_info=True)


Handler = Callable[..., Awaitable[Reply]]


@dataclass
class Command:
    name: str                          # "digit", or "config cooldown" for a subcommand
    description: str
    options: list[Option] = field(default_factory=list)
    handler: Handler | None = None
    adapters: tuple[str, ...] = ("discord", "console", "cli")
    rate_limited: bool = False         # model work: per-user (and optional per-server) limits on Discord
    ephemeral: bool = False            # the answer is for the asker only
    manage_server: bool = False        # needs Manage Server, in a server
    operator_anywhere: bool = False    # ...or, outside a server, the bot's operator (bot-wide settings)
    free_text: str | None = None       # typed words all go to this option (chat-like commands)

    @property
    def service(self) -> str | None:
        """The service a model command uses (admins can switch it off; /stats counts it)."""
        return self.name if self.name in SERVICES else None

    @property
    def usable_anywhere(self) -> bool:
        """Installable by a user as well as a server, and offered in DMs, group DMs and servers
        that never added the bot."""
        return self.name in USABLE_ANYWHERE

    @property
    def group(self) -> str | None:
        return self.name.split(" ", 1)[0] if " " in self.name else None

    @property
    def leaf(self) -> str:
        return self.name.rsplit(" ", 1)[-1]


# The services, named as their commands are: what /config services switches and /stats counts.
SERVICES = ("digit", "tone", "essay", "track", "friend")
# Short answers that stand alone; the others post files in channels, keep memory, or change settings.
USABLE_ANYWHERE = ("digit", "tone", "essay")
REGISTRY: dict[str, Command] = {}
GROUP_DESCRIPTIONS: dict[str, str] = {}


def command(name: str, description: str, options: list[Option] | None = None, **flags: Any):
    def register(handler: Handler) -> Handler:
        REGISTRY[name] = Command(name, description, options or [], handler, **flags)
        return handler
    return register


class PermissionDenied(UserFacingError):
    pass


class CoolingDown(UserFacingError):
    pass


class SwitchedOff(UserFacingError):
    pass


async def _check_rate_limits(cmd: Command, ctx: CommandContext) -> tuple[list[Limit], float]:
    """Record this use, or raise CoolingDown; returns what to refund if the command fails.

    What is refused is one member's flood (user_per_minute, across services), not a busy
    server: the service queues bound the work, and say a caller's place in line. A
    per-command cooldown and a server-wide rate exist for admins who want them (off by default)."""
    app = ctx.app
    user = app.user_key(ctx.adapter, ctx.user_id)
    settings = await app.settings.all(ctx.guild_id) if ctx.guild_id else app.settings.defaults
    in_server = ctx.guild_id is not None
    hint = (lambda name: f" (server admins: /config {name})") if in_server else (lambda name: "")
    rules: list[tuple[Limit, str]] = []
    per_user = int(settings["user_per_minute"])
    if per_user > 0:
        rules.append((Limit(f"user:{user}", per_user, 60.0),
                      f"you started {per_user} model commands in the last minute{{wait}}{hint('user-rate')}"))
    cooldown = float(settings["cooldown_seconds"])
    if cooldown > 0:
        rules.append((Limit(f"user:{user}:{cmd.name}", 1, cooldown),
                      f"/{cmd.name} is cooling down for you{{wait}}{hint('cooldown')}"))
    per_server = int(settings["server_per_minute"]) if in_server else 0
    if per_server > 0:
        rules.append((Limit(f"guild:{ctx.guild_id}", per_server, 60.0),
                      f"this server has run its {per_server} model commands for this minute{{wait}}"
                      f"{hint('server-rate')}"))
    limits = [limit for limit, _ in rules]
    now = time.time()
    if not limits:
        return limits, now
    wait, blocking = await app.cooldowns.take(limits, now)
    if wait > 0:
        why = next(text for limit, text in rules if limit == blocking)
        raise CoolingDown("slow down: " + why.format(wait=f", try again in {max(1, round(wait + 0.49))} s"))
    return limits, now


async def _check_switch(cmd: Command, ctx: CommandContext) -> None:
    """Admins switch services off per server, channel (a thread follows its parent) or in DMs."""
    decision = await ctx.app.switches.decide(ctx.guild_id, [ctx.channel_id, ctx.parent_channel_id], cmd.service)
    if not decision.enabled:
        where = {"channel": "in this channel", "server": "in this server", "dm": "in direct messages"}[decision.where]
        raise SwitchedOff(f"an admin turned /{cmd.name} off {where}")


async def _log_command(cmd: Command, ctx: CommandContext, outcome: str, seconds: float, reply: Reply | None) -> None:
    """The row /stats reads (no user id, no input). A failed write never fails the command."""
    cached = reply.data.get("cached") if reply is not None and isinstance(reply.data, dict) else None
    try:
        await ctx.app.command_log.record(ctx.guild_id, cmd.service, outcome, seconds,
                                         cached if isinstance(cached, bool) else None)
    except DatabaseError as exc:
        log.warning("/%s: not logged for /stats: %s", cmd.name, exc)


def check_option_bounds(cmd: Command, arguments: dict[str, Any]) -> None:
    """Discord enforces an option's bounds in its client; the console and CLI do not, so
    every adapter's input is checked here, once."""
    for option in cmd.options:
        value = arguments.get(option.name)
        if value is None:
            continue
        if option.kind in (OptionKind.INTEGER, OptionKind.NUMBER):
            low, high = option.min_value, option.max_value
            if (low is not None and value < low) or (high is not None and value > high):
                raise InputError(f"<{option.name}> must be between {low} and {high}")
        if option.kind is OptionKind.TEXT and option.max_length and len(value) > option.max_length:
            raise InputError(f"<{option.name}> is at most {option.max_length} characters")


async def run_command(name: str, ctx: CommandContext, **arguments: Any) -> Reply:
    """Run a command for any adapter: user errors become one line, crashes are logged."""
    cmd = REGISTRY[name]
    charged: tuple[list[Limit], float] | None = None
    started = time.perf_counter()
    outcome = "ok"
    reply: Reply | None = None

    async def show_place(position: int, seconds: float) -> None:
        await ctx.report(f"queued: position {position}, about {max(1, round(seconds))} s")

    watching = queue_watcher.set(show_place if ctx.progress is not None else None)
    try:
        check_option_bounds(cmd, arguments)
        if cmd.manage_server:
            if ctx.guild_id is None and not (cmd.operator_anywhere and ctx.is_operator):
                raise PermissionDenied(f"/{cmd.name} changes a server's settings: use it in a server")
            if ctx.guild_id is not None and not ctx.can_manage_server:
                raise PermissionDenied(f"/{cmd.name} needs the Manage Server permission")
        if cmd.service and ctx.adapter == "discord":
            await _check_switch(cmd, ctx)
        if cmd.rate_limited and ctx.adapter == "discord":
            charged = await _check_rate_limits(cmd, ctx)
        reply = await cmd.handler(ctx, **arguments)
        if cmd.ephemeral:
            reply.ephemeral = True
        if reply.is_error:
            outcome = "refused"
    except UserFacingError as exc:
        outcome = {Busy: "busy", CoolingDown: "cooling_down", ModelNotReady: "not_ready",
                   SwitchedOff: "switched_off"}.get(type(exc), "refused")
        log.info("/%s refused for a %s user: %s", name, ctx.adapter, exc, exc_info=exc.__cause__ is not None)
        reply = Reply.error(str(exc))
    except DatabaseError as exc:  # e.g. the PostgreSQL server went away: the next command retries
        outcome = "database_error"
        log.warning("/%s: %s", name, exc, exc_info=exc.__cause__)
        reply = Reply.error(str(exc))
    except Exception:
        outcome = "crashed"
        incident = uuid.uuid4().hex[:8]
        log.exception("/%s failed (incident %s)", name, incident)
        reply = Reply.error(f"something went wrong on our side (incident {incident}); it was logged")
    finally:
        queue_watcher.reset(watching)
    if charged is not None and outcome != "ok":
        # A bad image or a busy queue should not cost the user their turn.
        try:
            await ctx.app.cooldowns.refund(*charged)
        except DatabaseError as exc:
            log.warning("/%s: the use could not be refunded: %s", name, exc)
    seconds = time.perf_counter() - started
    record_command(name, ctx.adapter, outcome, seconds)
    if cmd.service:
        await _log_command(cmd, ctx, outcome, seconds, reply)
    return reply
