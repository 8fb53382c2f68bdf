"""The digit reader as the bot uses it: cache first, then the model through the inference backend."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ml.digits import PIPELINE_VERSION, SERVICE
from storage import cache_key

if TYPE_CHECKING:
    from bot.app import App


class DigitService:
    name = SERVICE

    def __init__(self, app: "App"):
        self.app = app

    async def read(self, data: bytes, user_key: str | None) -> tuple[dict, bytes | None, bool]:
        """Returns (result JSON, picture of what the model saw, served from cache?)."""
        version = await self.app.inference.version(SERVICE)
        key = cache_key(SERVICE, version, data, {"pipeline": PIPELINE_VERSION})
        cached = await self.app.cache.get(key, user_key)
        if cached is not None:
            return cached.result, cached.blob, True
        reading, picture = await self.app.inference.call(SERVICE, "read", key, data)
        result = {**reading, "model_version": version}
        await self.app.cache.put(key, SERVICE, version, result, picture, user_key)
        return result, picture, False
