"""The tone checker as the bot uses it: cache by text hash, model off the loop, rewrite on demand."""
from __future__ import annotations

from typing import TYPE_CHECKING

from bot.model_slot import ModelSlot
from ml.home import ModelRef
from ml.tone import PIPELINE_VERSION, SERVICE
from ml.tone.text import clean_message
from storage import cache_key

if TYPE_CHECKING:
    from bot.app import App
    from ml.tone.predictor import TonePredictor


class ToneService:
    name = SERVICE

    def __init__(self, app: "App"):
        self.app = app
        self.slot: ModelSlot["TonePredictor"] = ModelSlot(
            app, SERVICE, _load_predictor, "the tone model is not built yet: run `mlbot train tone` (about 6 min)")

    def _check(self, predictor: "TonePredictor", text: str, rewrite: bool) -> dict:
        from ml.tone.rewrite import kinder_rewrite

        verdict = predictor.check(text, explain=True)
        result = verdict.as_json()
        result["rewrite"] = None
        if rewrite and verdict.label == "passive_aggressive":
            def judge(candidate: str) -> tuple[float, float]:
                other = predictor.check(candidate, explain=False)
                return other.passive_aggression, other.hostility
            result["rewrite"] = kinder_rewrite(verdict.text, judge)
        return result

    async def check(self, text: str, user_key: str | None, rewrite: bool = True) -> tuple[dict, bool]:
        """(result, served from cache?). The cache key is a hash of the cleaned text."""
        cleaned = clean_message(text)  # raises a one-line InputError for empty input
        predictor = await self.slot.get()
        key = cache_key(SERVICE, predictor.version, cleaned.text, {"rewrite": rewrite, "pipeline": PIPELINE_VERSION})
        cached = await self.app.cache.get(key, user_key)
        if cached is not None:
            return cached.result, True
        result = await self.app.runtime(SERVICE).run(key, self._check, predictor, text, rewrite)
        result["model_version"] = predictor.version
        await self.app.cache.put(key, SERVICE, predictor.version, result, None, user_key)
        return result, False


def _load_predictor(ref: ModelRef) -> "TonePredictor":
    from ml.tone.predictor import TonePredictor

    return TonePredictor(ref)
