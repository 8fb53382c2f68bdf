"""The digit reader as the bot uses it: cache first, then the model off the loop."""
from __future__ import annotations

from typing import TYPE_CHECKING

from bot.model_slot import ModelSlot
from ml.digits import PIPELINE_VERSION, SERVICE
from ml.home import ModelRef
from storage import cache_key

if TYPE_CHECKING:
    from bot.app import App
    from ml.digits.reader import DigitReader


class DigitService:
    name = SERVICE

    def __init__(self, app: "App"):
        self.app = app
        self.slot: ModelSlot["DigitReader"] = ModelSlot(
            app, SERVICE, _load_reader, "the digit model is not built yet: run `mlbot train digits` (about 4 min)")

    async def read(self, data: bytes, user_key: str | None) -> tuple[dict, bytes | None, bool]:
        """Returns (result JSON, picture of what the model saw, served from cache?)."""
        reader = await self.slot.get()
        key = cache_key(SERVICE, reader.version, data, {"pipeline": PIPELINE_VERSION})
        cached = await self.app.cache.get(key, user_key)
        if cached is not None:
            return cached.result, cached.blob, True
        reading = await self.app.runtime(SERVICE).run(key, reader.read, data)
        result = {**reading.as_json(), "model_version": reader.version}
        await self.app.cache.put(key, SERVICE, reader.version, result, reading.model_input_png, user_key)
        return result, reading.model_input_png, False


def _load_reader(ref: ModelRef) -> "DigitReader":
    from ml.digits.reader import DigitReader

    return DigitReader(ref)

