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
    user_name: str | None = None     # how the user is called where they speak (the friend uses it)
    # Adapters that can show a command's progress (Discord edits its "thinking" message,
    # the console prints a line) set this; handlers call ctx.report(...) and need not care.
    progress: Callable[[str], Awaitable[None]] | None = None
    # Where a reply can be shown while it is written (Discord edits one message as it grows);
    # None elsewhere: the console and the CLI print the finished reply once.
    reply_stream: Callable[[str], Awaitable[None]] | None = None
    # Discord sets this: can the bot post (with files) in channel (of server)? None if it can, else why not.
    channel_problem: Callable[[str, str | None], Awaitable[str | None]] | None = None

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
    rate_limited: bool = False         # model work: per-user and per-server cooldowns on Discord
    ephemeral: bool = False            # the answer is for the asker only
    manage_server: bool = False        # needs Manage Server, in a server
    free_text: str | None = None       # typed words all go to this option (chat-like commands)

    @property
    def group(self) -> str | None:
        return self.name.split(" ", 1)[0] if " " in self.name else None

    @property
    def leaf(self) -> str:
        return self.name.rsplit(" ", 1)[-1]


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


async def _check_rate_limits(cmd: Command, ctx: CommandContext) -> tuple[list[Limit], float]:
    """Record this use, or raise CoolingDown; returns what to refund if the command fails."""
    app = ctx.app
    user = app.user_key(ctx.adapter, ctx.user_id)
    scope = ctx.guild_id or "dm"
    per_user = float(await app.settings.get(scope, "cooldown_seconds")) if ctx.guild_id else \
        float(app.settings.defaults["cooldown_seconds"])
    limits = []
    if per_user > 0:
        limits.append(Limit(f"user:{user}:{cmd.name}", 1, per_user))
    if ctx.guild_id:
        per_minute = int(await app.settings.get(ctx.guild_id, "server_per_minute"))
        limits.append(Limit(f"guild:{ctx.guild_id}", per_minute, 60.0))
    now = time.time()
    wait = await app.cooldowns.try_use(limits, now) if limits else 0
    if wait > 0:
        raise CoolingDown(f"slow down: /{cmd.name} is cooling down, try again in {max(1, round(wait + 0.49))} s")
    return limits, now


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
    try:
        check_option_bounds(cmd, arguments)
        if cmd.manage_server:
            if ctx.guild_id is None:
                raise PermissionDenied(f"/{cmd.name} changes a server's settings: use it in a server")
            if not ctx.can_manage_server:
                raise PermissionDenied(f"/{cmd.name} needs the Manage Server permission")
        if cmd.rate_limited and ctx.adapter == "discord":
            charged = await _check_rate_limits(cmd, ctx)
        reply = await cmd.handler(ctx, **arguments)
        if cmd.ephemeral:
            reply.ephemeral = True
        if reply.is_error:
            outcome = "refused"
        record_command(name, ctx.adapter, outcome, time.perf_counter() - started)
        return reply
    except UserFacingError as exc:
        outcome = {Busy: "busy", CoolingDown: "cooling_down", ModelNotReady: "not_ready"}.get(type(exc), "refused")
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
    if charged is not None:
        # A bad image or a busy queue should not cost the user their turn.
        try:
            await ctx.app.cooldowns.refund(*charged)
        except DatabaseError as exc:
            log.warning("/%s: the use could not be refunded: %s", name, exc)
    record_command(name, ctx.adapter, outcome, time.perf_counter() - started)
    return reply
