"""The storage backends side by side -> JSON: cache hit (get), cache put, settings read and
cooldown check, on SQLite and on PostgreSQL, from 1 process and from 4 at once.

Each worker process opens its own Database and runs each operation for `--seconds`, timing
every call; throughput is all workers' calls over that time. PostgreSQL is a throwaway local
server (tests/postgres_server.py) with fsync, synchronous_commit and full_page_writes off, so
its write figures are an upper bound for a durable server; SQLite is a WAL file on local disk
with synchronous=NORMAL, as mlbot runs it.
    python bench/storage.py [--seconds 2] [--out bench/results/storage.json]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage import ResultCache, open_database  # noqa: E402
from storage.cooldowns import CooldownStore, Limit  # noqa: E402
from storage.settings import GuildSettings  # noqa: E402

OPERATIONS = ["cache_get_hit", "cache_put", "settings_read", "cooldown_check"]
WARM_KEYS = 200


async def prepare(url: str) -> None:
    async with open_database(url) as db:
        cache = ResultCache(db)
        for i in range(WARM_KEYS):
            await cache.put(f"warm-{i}", "tone", "v1", {"label": "calm", "pad": "x" * 800}, user_key=f"u{i % 20}")
        settings = GuildSettings(db, {"prefix": "!"})
        for i in range(50):
            await settings.set(f"g{i}", "prefix", "?")


async def worker(url: str, seconds: float, start_at: float, index: int) -> dict:
    rng = random.Random(index)
    async with open_database(url) as db:
        cache, cooldowns = ResultCache(db), CooldownStore(db)
        settings = GuildSettings(db, {"prefix": "!"})
        calls = {
            "cache_get_hit": lambda: cache.get(f"warm-{rng.randrange(WARM_KEYS)}", user_key="bench"),
            "cache_put": lambda: cache.put(f"w{index}-{rng.getrandbits(48)}", "tone", "v1",
                                           {"label": "calm", "pad": "x" * 800}),
            "settings_read": lambda: settings.get(f"g{rng.randrange(50)}", "prefix"),
            "cooldown_check": lambda: cooldowns.try_use([Limit(f"user:{index}-{rng.randrange(500)}:digit", 1, 3.0),
                                                         Limit(f"guild:g{rng.randrange(50)}", 10_000, 60.0)]),
        }
        await asyncio.sleep(max(0.0, start_at - time.time()))  # every worker starts together
        results = {}
        for name in OPERATIONS:
            latencies, deadline = [], time.perf_counter() + seconds
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                await calls[name]()
                latencies.append(time.perf_counter() - began)
            results[name] = latencies
        return results


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_workers(url: str, processes: int, seconds: float) -> dict:
    start_at = time.time() + 3.0  # time for every worker to import and connect
    children = [subprocess.Popen([sys.executable, __file__, "--worker", url, "--seconds", str(seconds),
                                  "--start-at", str(start_at), "--index", str(i)], stdout=subprocess.PIPE, text=True)
                for i in range(processes)]
    outputs = [json.loads(child.communicate()[0]) for child in children]
    summary = {}
    for name in OPERATIONS:
        latencies = [x for out in outputs for x in out[name]]
        summary[name] = {"per_second": round(len(latencies) / seconds, 1),
                         "p50_ms": round(percentile(latencies, 0.50) * 1000, 3),
                         "p99_ms": round(percentile(latencies, 0.99) * 1000, 3)}
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per operation and run (default 2)")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(asyncio.run(worker(args.worker, args.seconds, args.start_at, args.index))))
        return

    from tests.postgres_server import PostgresServer

    results: dict = {}
    with tempfile.TemporaryDirectory() as folder, PostgresServer() as server:
        urls = {"sqlite": lambda: f"sqlite://{folder}/bench-{time.time_ns()}.sqlite3",
                "postgresql": lambda: server.new_database("bench")}
        for backend, make_url in urls.items():
            results[backend] = {}
            for processes in (1, 4):
                url = make_url()
                asyncio.run(prepare(url))
                results[backend][f"{processes}_process{'es' if processes > 1 else ''}"] = \
                    run_workers(url, processes, args.seconds)
                print(f"{backend} x{processes}: {json.dumps(results[backend])}", file=sys.stderr, flush=True)
    report = {
        "benchmark": "storage",
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}",
        "seconds_per_operation": args.seconds,
        "postgresql": "15, local over TCP, fsync/synchronous_commit/full_page_writes off (a test server); pool of 5",
        "sqlite": "WAL, synchronous=NORMAL, local disk",
        "results": results,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
