"""The tone checker as the bot uses it: cache by text hash, the model through the inference backend."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ml.tone import PIPELINE_VERSION, SERVICE
from ml.tone.text import clean_message
from storage import cache_key

if TYPE_CHECKING:
    from bot.app import App


class ToneService:
    name = SERVICE

    def __init__(self, app: "App"):
        self.app = app
        # The in-process model, for the friend's kindness judge (which needs the predictor itself).
        self.slot = app.local_inference.slots[SERVICE]

    async def check(self, text: str, user_key: str | None, rewrite: bool = True) -> tuple[dict, bool]:
        """(result, served from cache?). The cache key is a hash of the cleaned text."""
        cleaned = clean_message(text)  # raises a one-line InputError for empty input
        version = await self.app.inference.version(SERVICE)
        key = cache_key(SERVICE, version, cleaned.text, {"rewrite": rewrite, "pipeline": PIPELINE_VERSION})
        cached = await self.app.cache.get(key, user_key)
        if cached is not None:
            return cached.result, True
        result = await self.app.inference.call(SERVICE, "check", key, text, rewrite)
        result["model_version"] = version
        await self.app.cache.put(key, SERVICE, version, result, None, user_key)
        return result, False

    async def score(self, text: str) -> dict:
        """passive_aggression and hostility only (the channel watch)."""
        clean_message(text)
        return await self.app.inference.call(SERVICE, "score", None, text)
