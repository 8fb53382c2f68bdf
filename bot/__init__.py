"""mlbot's adapters (Discord, console, CLI) and the command layer they share."""

__version__ = "0.1.0"
