"""Threads or processes for model work? Measures both on the digit reader -> JSON.

For each: wall time for N concurrent reads, the event loop's worst and p99 lag while
they run (a 10 ms heartbeat), and the extra memory the choice costs.
    python bench/runtime.py [--requests 60]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml.digits.data import load_mnist  # noqa: E402
from ml.digits.synthetic import render_photo  # noqa: E402
from ml.home import ModelHome  # noqa: E402
from ml.runtime import LoopLagProbe, ServiceRuntime, cap_torch_threads  # noqa: E402

_worker_reader = None


def _init_worker(model_dir: str, version: str) -> None:
    global _worker_reader
    from ml.digits.reader import DigitReader
    from ml.home import ModelRef

    cap_torch_threads()
    _worker_reader = DigitReader(ModelRef("digits", version, Path(model_dir)))
    _ = _worker_reader.model


def _read_in_worker(data: bytes) -> tuple[str, float]:
    reading = _worker_reader.read(data)
    return reading.best_guess, current_rss_mib()


def current_rss_mib() -> float:
    """Resident memory now (not the peak, which earlier work may already have set)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def measure(submit, photos) -> dict:
    async with LoopLagProbe() as probe:
        started = time.perf_counter()
        results = await asyncio.gather(*(submit(i, p) for i, p in enumerate(photos)))
        wall = time.perf_counter() - started
    return {"wall_seconds": round(wall, 2), "reads_per_second": round(len(photos) / wall, 1),
            "loop_lag_max_ms": round(probe.max * 1000, 1),
            "loop_lag_p99_ms": round(probe.percentile(99) * 1000, 1), "results": results}


async def main_async(requests: int) -> dict:
    from ml.digits.reader import DigitReader

    cap_torch_threads()
    ref = ModelHome().current("digits")
    if ref is None:
        sys.exit("no digit model in MLBOT_HOME; run `mlbot train digits` first")
    data = load_mnist()
    rng = np.random.default_rng(0)
    photos = [render_photo([data.test_images[i]], rng) for i in range(requests)]

    rss_before = current_rss_mib()
    reader = DigitReader(ref)
    reader.read(photos[0])
    runtime = ServiceRuntime("digits", workers=1, queue_limit=requests)
    threads = await measure(lambda i, p: runtime.run(i, reader.read, p), photos)
    threads.pop("results")
    threads["extra_rss_mib"] = round(current_rss_mib() - rss_before, 1)  # the model and its working memory
    runtime.shutdown()

    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    # spawn, not fork: forking after torch started its thread pool can deadlock the child.
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker, initargs=(str(ref.path), ref.version))
    await loop.run_in_executor(pool, _read_in_worker, photos[0])
    startup = time.perf_counter() - started
    processes = await measure(lambda i, p: loop.run_in_executor(pool, _read_in_worker, p), photos)
    worker_rss = max(r[1] for r in processes.pop("results"))  # a whole second process: torch and all
    processes["worker_start_seconds"] = round(startup, 2)
    processes["extra_rss_mib"] = round(worker_rss, 1)
    pool.shutdown()
    return {"benchmark": "runtime", "requests": requests, "threads": threads, "process_pool": processes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "runtime.json"))
    args = parser.parse_args()
    result = asyncio.run(main_async(args.requests))
    text = json.dumps(result, indent=2)
    Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
