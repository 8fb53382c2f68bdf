"""Command definitions: name, options and an async handler that returns a Reply."""
from __future__ import annotations

import enum
import logging
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from bot.reply import Reply
from ml.errors import UserFacingError

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)


class OptionKind(enum.Enum):
    TEXT = "text"
    INTEGER = "integer"
    ATTACHMENT = "attachment"


@dataclass
class Option:
    name: str
    kind: OptionKind
    description: str
    required: bool = True
    min_value: int | None = None
    max_value: int | None = None


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
    adapter: str                 # "discord", "console" or "cli"
    user_id: str                 # adapter-specific id; hashed before it is stored
    guild_id: str | None = None


Handler = Callable[..., Awaitable[Reply]]


@dataclass
class Command:
    name: str
    description: str
    options: list[Option] = field(default_factory=list)
    handler: Handler | None = None
    adapters: tuple[str, ...] = ("discord", "console", "cli")


REGISTRY: dict[str, Command] = {}


def command(name: str, description: str, options: list[Option] | None = None,
            adapters: tuple[str, ...] = ("discord", "console", "cli")):
    def register(handler: Handler) -> Handler:
        REGISTRY[name] = Command(name, description, options or [], handler, adapters)
        return handler
    return register


async def run_command(name: str, ctx: CommandContext, **arguments: Any) -> Reply:
    """Run a command for any adapter: user errors become one line, crashes are logged."""
    cmd = REGISTRY[name]
    try:
        return await cmd.handler(ctx, **arguments)
    except UserFacingError as exc:
        log.info("/%s refused for a %s user: %s", name, ctx.adapter, exc, exc_info=exc.__cause__ is not None)
        return Reply.error(str(exc))
    except Exception:
        incident = uuid.uuid4().hex[:8]
        log.exception("/%s failed (incident %s)", name, incident)
        return Reply.error(f"something went wrong on our side (incident {incident}); it was logged")
