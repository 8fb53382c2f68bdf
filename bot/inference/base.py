"""The interface every service calls its model through."""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Hashable

Progress = Callable[[str], Awaitable[None]]


class InferenceBackend:
    name = ""

    async def version(self, service: str) -> str:
        """The model version that answers for `service` (part of every cache key); raises
        ModelNotReady with a one-line reason when there is none."""
        raise NotImplementedError

    async def call(self, service: str, operation: str, key: Hashable | None, *args: Any,
                   progress: Progress | None = None, affinity: str | None = None) -> Any:
        """Run operations.OPERATIONS[service][operation] on the model; Busy when overloaded.
        With `progress`, the operation's stages are awaited through it as they happen.
        `affinity`: calls with the same value go to the same replica where there is a choice
        (the friend's conversation, whose key/values that replica keeps)."""
        raise NotImplementedError

    async def runs_elsewhere(self, service: str) -> bool:
        """Whether `service` answers outside this process (a Serve deployment)."""
        return False

    async def health(self) -> str:
        """A line on what answers, or raises saying what does not."""
        raise NotImplementedError

    async def close(self) -> None:
        pass
