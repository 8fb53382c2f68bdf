"""The essay writer as the bot uses it: one loaded model per style, essays cached by
(topic, length, style, seed, sampling options, model version), writing off the loop with
progress reported back to the command."""
from __future__ import annotations

from typing import TYPE_CHECKING, Awaitable, Callable

from bot.from_thread import report_from_thread
from bot.model_slot import ModelSlot
from ml.essay import DEFAULT_STYLE, PIPELINE_VERSION, SERVICE
from ml.essay.styles import known_styles, service_for_style, unknown_style
from ml.home import ModelRef
from storage import cache_key

if TYPE_CHECKING:
    from bot.app import App
    from ml.essay.generate import EssayWriter
    from ml.essay.request import EssayRequest

Progress = Callable[[str], Awaitable[None]]


class EssayService:
    name = SERVICE

    def __init__(self, app: "App"):
        self.app = app
        self._slots: dict[str, ModelSlot["EssayWriter"]] = {}

    def styles(self) -> list[str]:
        return known_styles(self.app.home)

    def _slot(self, style: str) -> ModelSlot["EssayWriter"]:
        if style != DEFAULT_STYLE and self.app.home.current(service_for_style(style)) is None:
            raise unknown_style(self.app.home, style)
        if style not in self._slots:
            how = ("the essay model is not built yet: run `mlbot train essay` (about 50 min)"
                   if style == DEFAULT_STYLE else f"style {style!r} has no model")
            self._slots[style] = ModelSlot(self.app, service_for_style(style), _load_writer, how)
        return self._slots[style]

    async def write(self, request: "EssayRequest", style: str, user_key: str | None,
                    progress: Progress | None = None) -> tuple[dict, bool]:
        """(result, served from cache?)."""
        request = request.validate()  # one-line errors before any model is loaded
        writer = await self._slot(style).get()
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
            report = report_from_thread(progress)
            on_stage = lambda stage: report(f"Essay: {stage}...")  # noqa: E731
        essay = await self.app.runtime(SERVICE).run(key, writer.write, request, on_stage)
        result = {**essay.as_json(), "style": style, "markdown": essay.markdown()}
        await self.app.cache.put(key, SERVICE, version, result, None, user_key)
        return result, False


def _load_writer(ref: ModelRef) -> "EssayWriter":
    from ml.essay.generate import EssayWriter
    from ml.essay.store import PublishedEssayModel

    return EssayWriter(PublishedEssayModel(ref))
