"""Builds missing models in the background, one at a time, while the bot answers.

A service whose model is not ready answers with this trainer's progress and ETA. When another
process on the same MLBOT_HOME is already building a model (ml/build_lock.py), this one says
so, waits, and picks the model up once it is published, rather than building it a second time.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Callable

from ml.build_lock import BuildLock, ProgressReporter
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
        self.elsewhere: dict[str, BuildLock] = {}  # models another process is building
        self.poll_seconds = 2.0
        self._stopping = asyncio.Event()
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
            lock = BuildLock(self.home, spec.name)
            if not lock.try_acquire():
                ref = await self._wait_for_other_builder(spec, lock)
                if ref is not None:
                    self.queue.remove(spec.name)
                    if self.on_published:
                        self.on_published(spec.name, ref)
                    continue
                if self._stopping.is_set():
                    return
            try:
                if not await self._build(spec, lock):
                    return
            finally:
                lock.release()

    async def _wait_for_other_builder(self, spec: ServiceSpec, lock: BuildLock) -> ModelRef | None:
        """Until the other process publishes (its model is returned) or lets go of the lock
        without publishing (it died or stopped: the lock is now ours, None is returned)."""
        self.elsewhere[spec.name] = lock
        holder = lock.holder()
        log.info("%s", holder.describe(spec.name) if holder else f"another process is building {spec.name}")
        try:
            while not self._stopping.is_set():
                ref = self.home.current(spec.name)
                if ref is not None:
                    log.info("%s model %s was published by another process", spec.name, ref.version)
                    return ref
                if lock.try_acquire():
                    ref = self.home.current(spec.name)  # it may have published just before letting go
                    if ref is not None:
                        lock.release()
                        return ref
                    log.info("the other builder of %s stopped; building it here", spec.name)
                    return None
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.poll_seconds)
            return None
        finally:
            self.elsewhere.pop(spec.name, None)

    async def _build(self, spec: ServiceSpec, lock: BuildLock) -> bool:
        """Train and publish one model; False when a stop was asked for (nothing more to do)."""
        progress = Progress(spec.name, spec.progress_weights, bars=self.bars)
        self.progress[spec.name] = progress
        log.info("training %s in the background (about %d min)", spec.name, spec.expected_minutes)
        try:
            with ProgressReporter(lock, progress):
                ref = await asyncio.to_thread(spec.train, self.home, self.quick, progress)
        except asyncio.CancelledError:
            progress.cancel_requested.set()
            raise
        except Exception as exc:
            if progress.cancel_requested.is_set():
                log.info("training %s stopped: %s", spec.name, exc)
                return False
            log.exception("training %s failed", spec.name)
            self.failed[spec.name] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        else:
            log.info("%s model %s is ready", spec.name, ref.version)
            if self.on_published:
                self.on_published(spec.name, ref)
        finally:
            progress.close()
            self.queue.remove(spec.name)
        return True

    def describe(self, service: str) -> str | None:
        """One line on a model that is not ready, or None when nothing is known."""
        if service in self.failed:
            return f"training the {service} model failed ({self.failed[service]}); see the log"
        if service not in self.queue:
            return None
        if service in self.elsewhere:
            holder = self.elsewhere[service].holder()
            return holder.describe(service) if holder else f"the {service} model is being built by another process"
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
        self._stopping.set()
        for progress in self.progress.values():
            progress.cancel_requested.set()
        if self._task is not None:
            try:
                await self._task
            except asyncio.CancelledError:
                pass
