"""Runs model work off the event loop, one bounded queue per service.

Why threads and not processes: torch releases the GIL inside its kernels, so a worker
thread leaves the loop free (bench/runtime.py measures the loop's lag both ways), the
model is loaded once and shared, and no tensors are pickled between processes. Torch's
own thread pool is capped (see cap_torch_threads) so that model work and the loop do not
fight over the two cores.
"""
from __future__ import annotations

import asyncio
import collections
import contextvars
import functools
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Awaitable, Callable, Hashable

from ml.errors import Busy

log = logging.getLogger(__name__)


def cap_torch_threads(limit: int | None = None) -> int:
    """Give torch at most `limit` intra-op threads (default: the cores, at most 4)."""
    import torch

    cores = os.cpu_count() or 1
    threads = max(1, min(limit or int(os.environ.get("MLBOT_TORCH_THREADS", 0)) or cores, 4))
    torch.set_num_threads(threads)
    return threads


@functools.lru_cache(maxsize=1)
def fast_bf16() -> bool:
    """True when this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX), where autocasting
    matmuls to bf16 nearly doubles model speed; elsewhere bf16 is emulated and slower.
    MLBOT_BF16=0/1 overrides the detection."""
    forced = os.environ.get("MLBOT_BF16")
    if forced in ("0", "1"):
        return forced == "1"
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            flags = next((line for line in handle if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


# Whoever starts a call may set this to learn the call's place in its queue while it waits:
# an async callback taking (position, seconds until it should start). A context variable, so
# the services between the command and the runtime need not pass it along (ml/ never imports bot/).
queue_watcher: contextvars.ContextVar[Callable[[int, float], Awaitable[None]] | None] = \
    contextvars.ContextVar("queue_watcher", default=None)
QUEUE_REPORT_INTERVAL = 1.0  # seconds between reports of a waiting call's place (Discord edits)


class _Job:
    """One admitted call: its place in the line (`turn` resolves when a worker is free for it)
    and the task that runs it; callers sharing it (single-flight) await the same task."""

    def __init__(self, turn: asyncio.Future | None):
        self.turn = turn
        self.task: asyncio.Task | None = None


class ServiceRuntime:
    """At most `workers` calls run at once and `queue_limit` wait, first come first served;
    past that, Busy. A waiting caller is told its position (see queue_watcher).

    Calls with the same key while one is in flight share its result (single-flight).
    """

    def __init__(self, name: str, workers: int = 1, queue_limit: int = 16):
        self.name = name
        self.workers = workers
        self.queue_limit = queue_limit
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"ml-{name}")
        self._inflight: dict[Hashable, _Job] = {}
        self._waiting: collections.deque[asyncio.Future] = collections.deque()
        self._running = 0
        self._admitted = 0
        self._mean_seconds = 0.5  # running estimate of one call, for "try again in N s" and queue ETAs
        self.calls = 0
        self.shared_calls = 0
        self.busy_answers = 0  # calls refused with Busy (for /metrics)
        self._closed = False

    @property
    def pending(self) -> int:
        return self._admitted

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def retry_after(self) -> float:
        return max(1.0, self._mean_seconds * (self._admitted / self.workers))

    def position(self, job: _Job) -> int | None:
        """1 for the next call to run, 2 after it...; None once it runs."""
        if job.turn is None or job.turn.done():
            return None
        try:
            return self._waiting.index(job.turn) + 1
        except ValueError:
            return None

    def eta(self, position: int) -> float:
        """Seconds until the call at `position` should start: the calls ahead, and the ones running."""
        return self._mean_seconds * position / self.workers

    async def run(self, key: Hashable | None, fn: Callable[..., Any], *args: Any) -> Any:
        job = self._inflight.get(key) if key is not None else None
        if job is not None:
            self.shared_calls += 1
        else:
            if self._admitted >= self.workers + self.queue_limit:
                self.busy_answers += 1
                raise Busy(self.name, self.retry_after())
            job = self._admit(key, fn, args)
        await self._report_while_waiting(job)
        return await asyncio.shield(job.task)

    def _admit(self, key: Hashable | None, fn: Callable[..., Any], args: tuple) -> _Job:
        self._admitted += 1
        turn = None
        if self._running < self.workers and not self._waiting:
            self._running += 1  # a worker is free: no line to stand in
        else:
            turn = asyncio.get_running_loop().create_future()
            self._waiting.append(turn)
        job = _Job(turn)
        # The job is a task of its own, so a caller that gives up (a cancelled interaction)
        # neither frees its worker early nor leaves the line without handing its turn on.
        job.task = asyncio.ensure_future(self._run_job(job, key, fn, args))
        job.task.add_done_callback(lambda task: task.cancelled() or task.exception())  # no "never retrieved"
        if key is not None:
            self._inflight[key] = job
        return job

    async def _run_job(self, job: _Job, key: Hashable | None, fn: Callable[..., Any], args: tuple) -> Any:
        try:
            if job.turn is not None:
                await job.turn  # _hand_on() gives this job the worker slot
            try:
                if self._closed:  # shut down while this call waited: it will not run here
                    raise Busy(self.name, 60)
                return await asyncio.get_running_loop().run_in_executor(self._executor, self._timed, fn, args)
            finally:
                self._hand_on()
        finally:
            self._admitted -= 1
            if key is not None and self._inflight.get(key) is job:
                del self._inflight[key]

    def _hand_on(self) -> None:
        """A worker finished: the first caller in line takes its slot, else the slot is free."""
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self._running -= 1

    async def _report_while_waiting(self, job: _Job) -> None:
        watcher = queue_watcher.get()
        if watcher is None or job.turn is None:
            return
        loop = asyncio.get_running_loop()
        while (position := self.position(job)) is not None:
            started = loop.time()
            try:
                await watcher(position, self.eta(position))
            except Exception:  # a report is a courtesy: never let it fail the call
                log.debug("queue report failed", exc_info=True)
            left = QUEUE_REPORT_INTERVAL - (loop.time() - started)
            if left > 0:
                await asyncio.wait([job.turn], timeout=left)

    def _timed(self, fn: Callable[..., Any], args: tuple) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            elapsed = time.perf_counter() - start
            self.calls += 1
            self._mean_seconds = 0.8 * self._mean_seconds + 0.2 * elapsed

    @property
    def closed(self) -> bool:
        return self._closed

    def shutdown(self, wait: bool = True) -> None:
        self._closed = True
        self._executor.shutdown(wait=wait, cancel_futures=not wait)


class LoopLagProbe:
    """How late the event loop wakes from a short sleep while other work runs: the measure
    of "model work never blocks the loop", shared by tests and benchmarks.

        async with LoopLagProbe() as probe:
            ...
        probe.max, probe.percentile(99)   # seconds
    """

    def __init__(self, interval: float = 0.01):
        self.interval = interval
        self.lags: list[float] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def _beat(self) -> None:
        while not self._stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.lags.append(time.perf_counter() - before - self.interval)

    async def __aenter__(self) -> "LoopLagProbe":
        self._task = asyncio.create_task(self._beat())
        return self

    async def __aexit__(self, *exc) -> None:
        self._stop.set()
        await self._task

    @property
    def max(self) -> float:
        return max(self.lags, default=0.0)

    def percentile(self, q: float) -> float:
        import numpy as np

        return float(np.percentile(self.lags, q)) if self.lags else 0.0
