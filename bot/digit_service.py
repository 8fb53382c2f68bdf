"""The digit reader as the bot uses it: cache first, then the model off the loop."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ml.digits import SERVICE
from ml.digits.imageio import MAX_BYTES
from ml.errors import InputError, ModelNotReady
from storage import cache_key

if TYPE_CHECKING:
    from bot.app import App
    from ml.digits.reader import DigitReader

log = logging.getLogger(__name__)


class DigitService:
    name = SERVICE
    max_bytes = MAX_BYTES

    def __init__(self, app: "App"):
        self.app = app
        self._reader: "DigitReader | None" = None

    def reader(self) -> "DigitReader":
        ref = self.app.home.current(SERVICE)
        if ref is None:
            why = self.app.trainer.describe(SERVICE) if self.app.trainer else None
            raise ModelNotReady(why or "the digit model is not built yet: run `mlbot train digits` (about 4 min)")
        if self._reader is None or self._reader.version != ref.version:
            from ml.digits.reader import DigitReader  # torch loads on first use, not at start

            self._reader = DigitReader(ref)
        return self._reader

    async def read(self, data: bytes, user_key: str | None) -> tuple[dict, bytes | None, bool]:
        """Returns (result JSON, picture of what the model saw, served from cache?)."""
        if len(data) > self.max_bytes:
            raise InputError(f"the file is {len(data) / 2**20:.1f} MiB; images up to {self.max_bytes // 2**20} MiB are read")
        reader = self.reader()
        key = cache_key(SERVICE, reader.version, data, {})
        cached = await self.app.cache.get(key, user_key)
        if cached is not None:
            return cached.result, cached.blob, True
        reading = await self.app.runtime(SERVICE).run(key, reader.read, data)
        result = {**reading.as_json(), "model_version": reader.version}
        await self.app.cache.put(key, SERVICE, reader.version, result, reading.model_input_png, user_key)
        return result, reading.model_input_png, False
