"""The neutral reply every command returns; each adapter renders it its own way."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ReplyFile:
    filename: str
    data: bytes
    description: str = ""


@dataclass
class Reply:
    text: str = ""
    title: str | None = None
    fields: list[tuple[str, str]] = field(default_factory=list)
    files: list[ReplyFile] = field(default_factory=list)
    data: dict[str, Any] | None = None   # the machine-readable result (`--json`)
    ephemeral: bool = False              # on Discord, only the asker sees it
    is_error: bool = False

    @classmethod
    def error(cls, message: str) -> "Reply":
        return cls(text=message, ephemeral=True, is_error=True, data={"error": message})

    def as_text(self) -> str:
        """Plain-text rendering, shared by the console and the CLI."""
        lines = []
        if self.title:
            lines.append(self.title)
        if self.text:
            lines.append(self.text)
        for name, value in self.fields:
            lines.append(f"  {name}: {value}")
        return "\n".join(lines)
