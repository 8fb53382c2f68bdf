"""Turning typed words into a command and its option values (console and prefix commands)."""
from __future__ import annotations

import shlex

from bot.commands.base import REGISTRY, Command, InputFile, Option, OptionKind
from bot.inputs import input_file_from_path
from ml.errors import InputError


def typed_words(text: str) -> list[str]:
    """Words of a typed command, quotes grouping words; a line with an unbalanced quote
    (an apostrophe: "I'm tired") is split at spaces instead of refused."""
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def resolve_command_name(words: list[str]) -> tuple[str, list[str]]:
    """["/config", "cooldown", "10"] -> ("config cooldown", ["10"])."""
    name = words[0].lstrip("/!")
    if len(words) > 1 and f"{name} {words[1]}" in REGISTRY:
        return f"{name} {words[1]}", words[2:]
    return name, words[1:]


def bind_arguments(cmd: Command, words: list[str], attachments: list[InputFile] | None = None) -> list[dict]:
    """Typed words -> option values, one dict per call. A `name:value` word sets that option
    (the form Discord shows for slash commands); other words fill the remaining options in order.

    Attachments come from `attachments` (files sent with a chat message) or, when that is
    None, from the words as local paths (the console). A command whose only option is an
    attachment runs once per file.
    """
    options = cmd.options
    if cmd.free_text and not (words and _named_option(words[0], options)):
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
    named, words = _split_named(words, options)
    for option in options:
        if named.get(option.name):
            values[option.name] = _convert(option, named[option.name])
    options = [o for o in options if o.name not in named]
    for index, option in enumerate(options):
        last = index == len(options) - 1
        if index >= len(words):
            if option.required:
                raise InputError(f"/{cmd.name} needs <{option.name}>")
            continue
        raw = " ".join(words[index:]) if last and option.kind is OptionKind.TEXT else words[index]
        values[option.name] = _convert(option, raw)
    return [values]


def _named_option(word: str, options: list[Option]) -> Option | None:
    """The option a `name:value` word names (a TEXT option may take its value from the next
    words: `topic: the sea`), or None."""
    name, colon, raw = word.partition(":")
    option = next((o for o in options if o.name.lower() == name.lower()), None) if colon else None
    return option if option and (raw or option.kind is OptionKind.TEXT) else None


def _split_named(words: list[str], options: list[Option]) -> tuple[dict[str, str], list[str]]:
    """({option name: raw value}, the other words). As in Discord's slash syntax, a TEXT
    option's value runs on to the next `name:` word: `topic:the future of farming words:300`."""
    named: dict[str, list[str]] = {}
    positional: list[str] = []
    current = None
    for word in words:
        option = _named_option(word, options)
        if option is not None:
            raw = word.partition(":")[2]
            named[option.name] = [raw] if raw else []
            current = option.name if option.kind is OptionKind.TEXT else None
        elif current is not None:
            named[current].append(word)
        else:
            positional.append(word)
    return {name: " ".join(parts) for name, parts in named.items()}, positional


def _convert(option: Option, raw: str):
    """One typed value as its option's kind, or an InputError saying what is expected."""
    if option.kind is OptionKind.ATTACHMENT:
        return input_file_from_path(raw)
    if option.kind is OptionKind.INTEGER:
        try:
            return int(raw)
        except ValueError:
            raise InputError(f"<{option.name}> must be a whole number") from None
    if option.kind is OptionKind.CHANNEL:
        channel_id = raw.removeprefix("<#").removesuffix(">")
        if not channel_id.isdigit():
            raise InputError(f"<{option.name}> must be a channel, such as #general")
        return channel_id
    if option.kind is OptionKind.NUMBER:
        try:
            return float(raw)
        except ValueError:
            raise InputError(f"<{option.name}> must be a number, such as 0.8") from None
    return raw
