"""The embedded backend: models loaded in this process, calls on its bounded thread runtime."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Hashable

from bot.from_thread import report_from_thread
from bot.inference.base import InferenceBackend, Progress
from bot.inference.operations import OPERATIONS
from bot.model_slot import ModelSlot

if TYPE_CHECKING:
    from bot.app import App


class LocalBackend(InferenceBackend):
    name = "local"

    def __init__(self, app: "App"):
        self.app = app
        self.slots = {service: ModelSlot(app, service, load, how_to_build)
                      for service, (load, _, how_to_build) in OPERATIONS.items()}

    async def version(self, service: str) -> str:
        return (await self.slots[service].get()).version

    async def call(self, service: str, operation: str, key: Hashable | None, *args: Any,
                   progress: Progress | None = None, affinity: str | None = None) -> Any:
        model = await self.slots[service].get()
        function = OPERATIONS[service][1][operation]
        if progress is not None:
            on_stage = report_from_thread(progress)
            return await self.app.runtime(service).run(key, lambda *a: function(*a, on_stage=on_stage), model, *args)
        return await self.app.runtime(service).run(key, function, model, *args)

    async def health(self) -> str:
        dead = [name for name, runtime in self.app.runtimes().items() if runtime.closed]
        if dead:
            raise RuntimeError(f"the local runtime of {', '.join(dead)} is shut down")
        return "local (threads in this process)"
