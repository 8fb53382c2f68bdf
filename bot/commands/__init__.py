"""Every command is defined once here and served by Discord, the console and the CLI."""
from bot.commands.base import (
    GROUP_DESCRIPTIONS, REGISTRY, Command, CommandContext, InputFile, Option, OptionKind, run_command,
)
from bot.commands import digit as _digit  # noqa: F401  (registers /digit)
from bot.commands import general as _general  # noqa: F401  (registers /help, /about, /status, /forget)
from bot.commands import config as _config  # noqa: F401  (registers /config ...)
from bot.commands import tone as _tone  # noqa: F401  (registers /tone)
from bot.commands import essay as _essay  # noqa: F401  (registers /essay)
from bot.commands import track as _track  # noqa: F401  (registers /track)
from bot.commands import friend as _friend  # noqa: F401  (registers /friend, /config friend-persona)
from bot.commands import services as _services  # noqa: F401  (registers /config services)
from bot.commands import stats as _stats  # noqa: F401  (registers /stats)
from bot.commands import privacy as _privacy  # noqa: F401  (registers /privacy, /mydata)
from bot.commands import feedback as _feedback  # noqa: F401  (registers feedback export: console and CLI)

__all__ = ["GROUP_DESCRIPTIONS", "REGISTRY", "Command", "CommandContext", "InputFile", "Option", "OptionKind", "run_command"]
