"""Reports from model work running on a worker thread, delivered to a coroutine on the loop."""
from __future__ import annotations

import asyncio
from typing import Awaitable, Callable


def report_from_thread(report: Callable[[str], Awaitable[None]]) -> Callable[[str], None]:
    """A plain callback a worker thread may call; each call runs `report(text)` on the loop,
    in order. The tasks are kept referenced until done (asyncio holds only weak references)."""
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task] = set()

    def start(text: str) -> None:
        task = loop.create_task(report(text))
        pending.add(task)
        task.add_done_callback(pending.discard)

    def from_thread(text: str) -> None:
        loop.call_soon_threadsafe(start, text)

    return from_thread
