"""The loaded model of one service: the current published version, loaded once per version."""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Callable, Generic, TypeVar

from ml.errors import ModelNotReady
from ml.home import ModelRef

if TYPE_CHECKING:
    from bot.app import App

Loaded = TypeVar("Loaded")


class ModelSlot(Generic[Loaded]):
    """`get()` returns the loader's object for the current version, or raises ModelNotReady
    with the background trainer's progress. The loader runs on a thread (it imports torch
    and friends), and a newly published version replaces the old one on the next call."""

    def __init__(self, app: "App", service: str, load: Callable[[ModelRef], Loaded], how_to_build: str):
        self.app = app
        self.service = service
        self.load = load
        self.how_to_build = how_to_build
        self._loaded: tuple[str, Loaded] | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> Loaded:
        ref = self.app.home.current(self.service)
        if ref is None:
            raise ModelNotReady(self.app.trainer.describe(self.service) or self.how_to_build)
        async with self._lock:
            if self._loaded is None or self._loaded[0] != ref.version:
                self._loaded = (ref.version, await asyncio.to_thread(self.load, ref))
            return self._loaded[1]

    @property
    def loaded(self) -> Loaded | None:
        """The loaded object, if one was loaded (no loading, no waiting)."""
        return self._loaded[1] if self._loaded else None
