"""Every command is defined once here and served by Discord, the console and the CLI."""
from bot.commands.base import (
    REGISTRY, Command, CommandContext, InputFile, Option, OptionKind, run_command,
)
from bot.commands import digit as _digit  # noqa: F401  (registers /digit)
from bot.commands import general as _general  # noqa: F401  (registers /help, /about, /status, /forget)

__all__ = ["REGISTRY", "Command", "CommandContext", "InputFile", "Option", "OptionKind", "run_command"]
