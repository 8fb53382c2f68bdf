"""InputFile from a local path, for the console and the CLI (size known before reading)."""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

from bot.commands.base import InputFile
from ml.errors import InputError


def input_file_from_path(path: str) -> InputFile:
    target = Path(path).expanduser()
    try:
        stat = target.stat()
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except OSError as exc:
        raise InputError(f"cannot open {path}: {exc.strerror or exc}") from exc
    if not target.is_file():
        raise InputError(f"not a file: {path}")

    async def read() -> bytes:
        try:
            return await asyncio.to_thread(target.read_bytes)
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc

    return InputFile(filename=os.path.basename(path), size=stat.st_size, reader=read)
