"""Reply -> Discord message arguments, within Discord's limits.

Limits (Discord's documentation): 2000 characters of content; an embed description of
4096, 25 fields of 256/1024, 6000 characters over all embeds; files up to the
interaction's attachment_size_limit (10 MiB by default), 25 MiB per request.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

import discord

from bot.reply import Reply, ReplyFile

CONTENT_LIMIT = 2000
DESCRIPTION_LIMIT = 4096
EMBED_TOTAL_LIMIT = 6000
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
DEFAULT_FILE_LIMIT = 10 * 1024 * 1024
REQUEST_LIMIT = 25 * 1024 * 1024
MAX_SPLIT_MESSAGES = 3


@dataclass
class Outgoing:
    """One or more messages; the first answers, the rest follow."""
    messages: list[dict] = field(default_factory=list)


def split_text(text: str, limit: int = CONTENT_LIMIT) -> list[str]:
    """Split at paragraph, then line, then word boundaries; never inside a word unless it is huge."""
    chunks: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), 0)
        if cut < limit // 2:
            cut = max(window.rfind("\n"), 0)
        if cut < limit // 2:
            cut = max(window.rfind(" "), 0)
        if cut < limit // 2:
            cut = limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks


def _file(reply_file: ReplyFile) -> discord.File:
    return discord.File(io.BytesIO(reply_file.data), filename=reply_file.filename,
                        description=(reply_file.description or None) and reply_file.description[:1024])


def _fit_files(files: list[ReplyFile], file_limit: int) -> tuple[list[ReplyFile], list[str]]:
    kept, dropped, total = [], [], 0
    for f in files[:10]:
        if len(f.data) > file_limit or total + len(f.data) > REQUEST_LIMIT - 1024 * 1024:
            dropped.append(f.filename)
            continue
        kept.append(f)
        total += len(f.data)
    dropped += [f.filename for f in files[10:]]
    return kept, dropped


def render(reply: Reply, file_limit: int = DEFAULT_FILE_LIMIT) -> Outgoing:
    files = list(reply.files)
    if reply.is_error or (not reply.title and not reply.fields):
        return _render_plain(reply.text, files, file_limit)

    description = reply.text or ""
    fields = [(name[:FIELD_NAME_LIMIT], (value or "-")[:FIELD_VALUE_LIMIT]) for name, value in reply.fields[:25]]
    title = (reply.title or "")[:256]
    budget = EMBED_TOTAL_LIMIT - len(title) - sum(len(n) + len(v) for n, v in fields) - 100
    if len(description) > min(DESCRIPTION_LIMIT, budget):
        files.append(ReplyFile("reply.md", reply.text.encode(), "the whole answer"))
        keep = max(0, min(DESCRIPTION_LIMIT, budget) - 60)
        description = description[:keep].rstrip() + "\n\n... (the whole answer is in reply.md)"
    kept, dropped = _fit_files(files, file_limit)
    embed = discord.Embed(title=title or None, description=description or None)
    for name, value in fields:
        embed.add_field(name=name, value=value, inline=False)
    images = [f for f in kept if f.filename.lower().endswith((".png", ".jpg", ".jpeg", ".gif", ".webp"))]
    if images:
        embed.set_image(url=f"attachment://{images[0].filename}")
    if dropped:
        embed.set_footer(text=f"left out (over the upload limit): {', '.join(dropped)}"[:2048])
    return Outgoing([{"embed": embed, "files": [_file(f) for f in kept]}])


def _render_plain(text: str, files: list[ReplyFile], file_limit: int) -> Outgoing:
    chunks = split_text(text) or [""]
    if len(chunks) > MAX_SPLIT_MESSAGES:
        files = files + [ReplyFile("reply.md", text.encode(), "the whole answer")]
        chunks = [split_text(text, CONTENT_LIMIT - 60)[0] + "\n... (the whole answer is in reply.md)"]
    kept, dropped = _fit_files(files, file_limit)
    if dropped:
        note = f"\n(left out, over the upload limit: {', '.join(dropped)})"
        if len(chunks[-1]) + len(note) <= CONTENT_LIMIT:
            chunks[-1] += note
    messages = [{"content": chunk} for chunk in chunks]
    messages[-1]["files"] = [_file(f) for f in kept]
    if not messages[-1]["content"] and not kept:
        messages[-1]["content"] = "(no answer)"
    return Outgoing(messages)
