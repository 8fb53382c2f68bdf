"""Runs model work off the event loop, one bounded queue per service.

Why threads and not processes: torch releases the GIL inside its kernels, so a worker
thread leaves the loop free (bench/runtime.py measures the loop's lag both ways), the
model is loaded once and shared, and no tensors are pickled between processes. Torch's
own thread pool is capped (see cap_torch_threads) so that model work and the loop do not
fight over the two cores.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Hashable

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


class ServiceRuntime:
    """At most `workers` calls run at once and `queue_limit` wait; past that, Busy.

    Calls with the same key while one is in flight share its result (single-flight).
    """

    def __init__(self, name: str, workers: int = 1, queue_limit: int = 16):
        self.name = name
        self.workers = workers
        self.queue_limit = queue_limit
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"ml-{name}")
        self._inflight: dict[Hashable, asyncio.Future] = {}
        self._admitted = 0
        self._mean_seconds = 0.5  # running estimate of one call, for "try again in N s"
        self.calls = 0
        self.shared_calls = 0
        self.busy_answers = 0  # calls refused with Busy (for /metrics)
        self._closed = False

    @property
    def pending(self) -> int:
        return self._admitted

    def retry_after(self) -> float:
        return max(1.0, self._mean_seconds * (self._admitted / self.workers))

    async def run(self, key: Hashable | None, fn: Callable[..., Any], *args: Any) -> Any:
        if key is not None and key in self._inflight:
            self.shared_calls += 1
            return await asyncio.shield(self._inflight[key])
        if self._admitted >= self.workers + self.queue_limit:
            self.busy_answers += 1
            raise Busy(self.name, self.retry_after())
        loop = asyncio.get_running_loop()
        self._admitted += 1
        future = loop.run_in_executor(self._executor, self._timed, fn, args)
        if key is not None:
            self._inflight[key] = future
        try:
            return await asyncio.shield(future)
        finally:
            # Only the caller that started the work releases it, and only once it is done,
            # so a cancelled caller does not let the queue overfill.
            if not future.done():
                await asyncio.wait([future])
            self._admitted -= 1
            if key is not None and self._inflight.get(key) is future:
                del self._inflight[key]

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
