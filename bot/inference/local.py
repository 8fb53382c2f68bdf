"""The embedded backend: models loaded in this process, calls on its bounded thread runtime."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Hashable

from bot.inference.base import InferenceBackend
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

    async def call(self, service: str, operation: str, key: Hashable | None, *args: Any) -> Any:
        model = await self.slots[service].get()
        return await self.app.runtime(service).run(key, OPERATIONS[service][1][operation], model, *args)

    async def health(self) -> str:
        dead = [name for name, runtime in self.app.runtimes().items() if runtime.closed]
        if dead:
            raise RuntimeError(f"the local runtime of {', '.join(dead)} is shut down")
        return "local (threads in this process)"
