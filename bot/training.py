"""Builds missing models in the background, one at a time, while the bot answers.

Each build is a child process, `mlbot train SERVICE`, so the bot's event loop and its
interpreter never wait on a training: the child runs at a lower CPU priority, writes its
progress next to the model's build lock (ml/build_lock.py), and this trainer reads it from
there. A service whose model is not ready answers with that progress and an ETA. When another
process on the same MLBOT_HOME is already building a model, this one says so, waits, and picks
the model up once it is published, rather than building it a second time.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from typing import Callable

from ml.build_lock import BuildLock
from ml.home import ModelHome, ModelRef
from ml.progress import format_duration
from ml.services import SERVICES, ServiceSpec

log = logging.getLogger(__name__)

CHILD_NICENESS = 10     # the gateway's few milliseconds of work come first
STOP_GRACE_SECONDS = 30  # a child asked to stop saves its checkpoint and exits within this


class BackgroundTrainer:
    def __init__(self, home: ModelHome, bars: bool = False,
                 on_published: Callable[[str, ModelRef], None] | None = None,
                 specs: list[ServiceSpec] | None = None, quick: bool = False):
        self.home = home
        self.bars = bars  # the child draws tqdm bars on this terminal (Discord mode) or logs only
        self.quick = quick
        self.on_published = on_published
        self.specs = specs if specs is not None else list(SERVICES.values())
        self.queue: list[str] = []
        self.building: dict[str, asyncio.subprocess.Process] = {}  # our own child, per model
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
                    self._published(spec.name, ref)
                    continue
            lock.release()  # nobody is building it: the child takes the lock itself
            if self._stopping.is_set():
                return
            if not await self._build(spec):
                return

    def _published(self, name: str, ref: ModelRef) -> None:
        self.queue.remove(name)
        if self.on_published:
            self.on_published(name, ref)

    async def _wait_for_other_builder(self, spec: ServiceSpec, lock: BuildLock) -> ModelRef | None:
        """Until the other process publishes (its model is returned) or lets go of the lock
        without publishing (it died or stopped: None is returned, the lock held)."""
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

    def child_command(self, spec: ServiceSpec) -> list[str]:
        return [sys.executable, "-m", "bot.adapters.cli", "train", spec.name,
                *(["--quick"] if self.quick else []), *([] if self.bars else ["--no-bars"])]

    async def _build(self, spec: ServiceSpec) -> bool:
        """Train and publish one model in a child process; False when a stop was asked for."""
        log.info("training %s in a child process (about %d min)", spec.name, spec.expected_minutes)
        log_path = self.home.root / "logs" / f"train-{spec.name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as child_log:
            process = await asyncio.create_subprocess_exec(
                *self.child_command(spec), stdin=asyncio.subprocess.DEVNULL, stdout=child_log,
                stderr=None if self.bars else child_log, env={**os.environ, "MLBOT_HOME": str(self.home.root), "MLBOT_LOG_FILE_NAME": "train.log"},
                preexec_fn=lambda: os.nice(CHILD_NICENESS))
            self.building[spec.name] = process
            try:
                code = await process.wait()
            finally:
                self.building.pop(spec.name, None)
        if self._stopping.is_set():
            log.info("training %s stopped; its checkpoint stays for the next start", spec.name)
            return False
        ref = self.home.current(spec.name)
        if code == 0 and ref is not None:
            log.info("%s model %s is ready", spec.name, ref.version)
            self._published(spec.name, ref)
            return True
        reason = _last_line(log_path) or f"exit status {code}"
        log.error("training %s failed (exit status %s): %s; see %s", spec.name, code, reason, log_path)
        self.failed[spec.name] = reason
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
        if service not in self.building:
            ahead = self.queue[: self.queue.index(service)]
            if not ahead:
                return f"the {service} model is still training (starting)"
            return f"the {service} model is waiting to be trained, after {', '.join(ahead)}"
        status = BuildLock(self.home, service).holder()
        if status is None:
            return f"the {service} model is still training (starting)"
        eta = f", about {format_duration(status.eta_seconds)} left" if status.eta_seconds is not None else ""
        filled = int(status.fraction * 20)
        bar = "#" * filled + "-" * (20 - filled)
        return f"the {service} model is still training [{bar}] {status.fraction:.0%} ({status.stage}{eta})"

    def fraction(self, service: str) -> float | None:
        """How far our own child has come with this model (for /metrics), or None."""
        if service not in self.building:
            return None
        status = BuildLock(self.home, service).holder()
        return status.fraction if status else 0.0

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    async def stop(self) -> None:
        """Ask the running training to stop (SIGINT: it saves its checkpoint), then wait for it."""
        self._stopping.set()
        for process in list(self.building.values()):
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGINT)
        for process in list(self.building.values()):
            try:
                await asyncio.wait_for(process.wait(), STOP_GRACE_SECONDS)
            except asyncio.TimeoutError:
                log.warning("training child %d did not stop in %d s; killing it", process.pid, STOP_GRACE_SECONDS)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _last_line(path) -> str:
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    errors = [line for line in lines if line.startswith("mlbot:")]
    return (errors or lines or [""])[-1][:300]
