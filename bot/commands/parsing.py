"""Turning typed words into a command and its option values (console and prefix commands)."""
from __future__ import annotations

from bot.commands.base import REGISTRY, Command, InputFile, OptionKind
from bot.inputs import input_file_from_path
from ml.errors import InputError


def resolve_command_name(words: list[str]) -> tuple[str, list[str]]:
    """["/config", "cooldown", "10"] -> ("config cooldown", ["10"])."""
    name = words[0].lstrip("/!")
    if len(words) > 1 and f"{name} {words[1]}" in REGISTRY:
        return f"{name} {words[1]}", words[2:]
    return name, words[1:]


def bind_arguments(cmd: Command, words: list[str], attachments: list[InputFile] | None = None) -> list[dict]:
    """Positional words -> option values, one dict per call.

    Attachments come from `attachments` (files sent with a chat message) or, when that is
    None, from the words as local paths (the console). A command whose only option is an
    attachment runs once per file.
    """
    options = cmd.options
    if cmd.free_text:
        return [{cmd.free_text: " ".join(words)}] if words else [{}]
    if not options:
        if words:
            raise InputError(f"/{cmd.name} takes no arguments")
        return [{}]
    if len(options) == 1 and options[0].kind is OptionKind.ATTACHMENT:
        files = attachments if attachments is not None else [input_file_from_path(w) for w in words]
        if not files:
            raise InputError(f"/{cmd.name} needs an image: attach one" if attachments is not None
                             else f"usage: /{cmd.name} PATH [PATH ...]")
        return [{options[0].name: f} for f in files]
    pending_files = list(attachments or [])
    values: dict = {}
    words = list(words)
    for option in [o for o in options if o.kind is OptionKind.ATTACHMENT and attachments is not None]:
        if not pending_files:
            if option.required:
                raise InputError(f"/{cmd.name} needs <{option.name}>: attach a file")
            continue
        values[option.name] = pending_files.pop(0)
    options = [o for o in options if not (o.kind is OptionKind.ATTACHMENT and attachments is not None)]
    for index, option in enumerate(options):
        last = index == len(options) - 1
        if index >= len(words):
            if option.required:
                raise InputError(f"/{cmd.name} needs <{option.name}>")
            continue
        raw = " ".join(words[index:]) if last and option.kind is OptionKind.TEXT else words[index]
        if option.kind is OptionKind.ATTACHMENT:
            values[option.name] = input_file_from_path(raw)
        elif option.kind is OptionKind.INTEGER:
            try:
                values[option.name] = int(raw)
            except ValueError:
                raise InputError(f"<{option.name}> must be a whole number") from None
        elif option.kind is OptionKind.CHANNEL:
            channel_id = raw.removeprefix("<#").removesuffix(">")
            if not channel_id.isdigit():
                raise InputError(f"<{option.name}> must be a channel, such as #general")
            values[option.name] = channel_id
        elif option.kind is OptionKind.NUMBER:
            try:
                values[option.name] = float(raw)
            except ValueError:
                raise InputError(f"<{option.name}> must be a number, such as 0.8") from None
        else:
            values[option.name] = raw
    return [values]
