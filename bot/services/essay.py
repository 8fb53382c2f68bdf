"""The essay writer as the bot uses it: essays cached by (topic, length, style, seed,
sampling options, model version), written off the loop with progress reported back to the
command. The default style goes through the inference backend (a Serve deployment with
MLBOT_RAY_ADDRESS); other styles are the user's own folders and stay in this process."""
from __future__ import annotations

from typing import TYPE_CHECKING

from bot.from_thread import report_from_thread
from bot.inference.base import Progress
from bot.inference.operations import load_essay_writer, write_essay
from bot.model_slot import ModelSlot
from ml.essay import DEFAULT_STYLE, PIPELINE_VERSION, SERVICE
from ml.essay.styles import known_styles, service_for_style, unknown_style
from storage import cache_key

if TYPE_CHECKING:
    from bot.app import App
    from ml.essay.generate import EssayWriter
    from ml.essay.request import EssayRequest


class EssayService:
    name = SERVICE

    def __init__(self, app: "App"):
        self.app = app
        self._style_slots: dict[str, ModelSlot["EssayWriter"]] = {}

    def styles(self) -> list[str]:
        return known_styles(self.app.home)

    def _style_slot(self, style: str) -> ModelSlot["EssayWriter"]:
        if self.app.home.current(service_for_style(style)) is None:
            raise unknown_style(self.app.home, style)
        if style not in self._style_slots:
            self._style_slots[style] = ModelSlot(self.app, service_for_style(style), load_essay_writer,
                                                 f"style {style!r} has no model")
        return self._style_slots[style]

    async def write(self, request: "EssayRequest", style: str, user_key: str | None,
                    progress: Progress | None = None) -> tuple[dict, bool]:
        """(result, served from cache?)."""
        request = request.validate()  # one-line errors before any model is loaded
        if style == DEFAULT_STYLE:
            version = await self.app.inference.version(SERVICE)
        else:
            writer = await self._style_slot(style).get()
            version = writer.published.version
        options = {"words": request.words, "seed": request.seed, "temperature": request.temperature,
                   "top_p": request.top_p, "style": style, "pipeline": PIPELINE_VERSION}
        if request.ceremony:  # only when asked, so keys of plain essays stay as they were
            options["ceremony"] = True
        key = cache_key(SERVICE, version, request.topic, options)
        cached = await self.app.cache.get(key, user_key)
        if cached is not None:
            return cached.result, True
        on_stage = None
        if progress is not None:
            async def on_stage(stage: str) -> None:
                await progress(f"Essay: {stage}...")
        if style == DEFAULT_STYLE:
            written = await self.app.inference.call(SERVICE, "write", key, request, progress=on_stage)
        else:
            report = report_from_thread(on_stage) if on_stage else None
            written = await self.app.runtime(SERVICE).run(key, write_essay, writer, request, report)
        result = {**written, "style": style}
        await self.app.cache.put(key, SERVICE, version, result, None, user_key)
        return result, False
