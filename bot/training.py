"""Builds missing models in the background, one at a time, while the bot answers.

A service whose model is not ready answers with this trainer's progress and ETA.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

from ml.home import ModelHome, ModelRef
from ml.progress import Progress, format_duration
from ml.services import SERVICES, ServiceSpec

log = logging.getLogger(__name__)


class BackgroundTrainer:
    def __init__(self, home: ModelHome, bars: bool = False,
                 on_published: Callable[[str, ModelRef], None] | None = None,
                 specs: list[ServiceSpec] | None = None, quick: bool = False):
        self.home = home
        self.bars = bars
        self.quick = quick
        self.on_published = on_published
        self.specs = specs if specs is not None else list(SERVICES.values())
        self.queue: list[str] = []
        self.progress: dict[str, Progress] = {}
        self.failed: dict[str, str] = {}
        self._task: asyncio.Task | None = None

    def missing(self) -> list[ServiceSpec]:
        return [spec for spec in self.specs if self.home.current(spec.name) is None]

    def start(self) -> list[str]:
        todo = self.missing()
        self.queue = [spec.name for spec in todo]
        if todo:
            self._task = asyncio.create_task(self._run(todo), name="background-training")
        return list(self.queue)

    async def _run(self, todo: list[ServiceSpec]) -> None:
        for spec in todo:
            progress = Progress(spec.name, spec.progress_weights, bars=self.bars)
            self.progress[spec.name] = progress
            log.info("training %s in the background (about %d min)", spec.name, spec.expected_minutes)
            try:
                ref = await asyncio.to_thread(spec.train, self.home, self.quick, progress)
            except asyncio.CancelledError:
                progress.cancel_requested.set()
                raise
            except Exception as exc:
                if progress.cancel_requested.is_set():
                    log.info("training %s stopped: %s", spec.name, exc)
                    return
                log.exception("training %s failed", spec.name)
                self.failed[spec.name] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            else:
                log.info("%s model %s is ready", spec.name, ref.version)
                if self.on_published:
                    self.on_published(spec.name, ref)
            finally:
                progress.close()
                self.queue.remove(spec.name)

    def describe(self, service: str) -> str | None:
        """One line on a model that is not ready, or None when nothing is known."""
        if service in self.failed:
            return f"training the {service} model failed ({self.failed[service]}); see the log"
        if service not in self.queue:
            return None
        progress = self.progress.get(service)
        if progress is None:
            ahead = self.queue[: self.queue.index(service)]
            return f"the {service} model is waiting to be trained, after {', '.join(ahead)}"
        snap = progress.snapshot()
        eta = f", about {format_duration(snap.eta_seconds)} left" if snap.eta_seconds is not None else ""
        filled = int(snap.fraction * 20)
        bar = "#" * filled + "-" * (20 - filled)
        return f"the {service} model is still training [{bar}] {snap.fraction:.0%} ({snap.stage}{eta})"

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    async def stop(self) -> None:
        """Ask the running training to stop at its next batch; its checkpoint stays for next time."""
        for progress in self.progress.values():
            progress.cancel_requested.set()
        if self._task is not None:
            try:
                await self._task
            except asyncio.CancelledError:
                pass
