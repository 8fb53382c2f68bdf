"""`mlbot run --shard-count N --shard-ids ...` and `mlbot cluster --processes K`: the Discord
gateway as one process holding some shards, or a supervisor of K such processes."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time

from bot.shards import ShardPlan, parse_shard_ids, split_shards
from ml.home import ModelHome
from storage.db import is_postgres_url

log = logging.getLogger("mlbot.gateway")

NEEDS_SHARED_STATE = ("more than one gateway process needs shared state: set "
                      "MLBOT_DATABASE_URL=postgresql://user@host:5432/mlbot (SQLite is one process's file)")
RESTART_PAUSE_MAX = 30.0
STOP_GRACE = 45.0  # a gateway process drains commands in flight for up to 30 s


class GatewayRefused(Exception):
    """A shard or cluster request that cannot run; the message says why, in one line."""


def add_shard_options(parser: argparse.ArgumentParser, with_ids: bool = True) -> None:
    parser.add_argument("--shard-count", metavar="N|auto",
                        help="Discord shards in all; 'auto' asks Discord (GET /gateway/bot)")
    if with_ids:
        parser.add_argument("--shard-ids", metavar="IDS",
                            help="the shards this process holds, e.g. 0,1 or 0-3 (default: all)")


def add_cluster_parser(sub) -> None:
    cluster = sub.add_parser("cluster", help="run K gateway processes that split the shards between them",
                             description="Start K `mlbot run` processes, each holding a range of the shards; "
                                         "restart one that dies; stop them all on SIGTERM or Ctrl-C. Needs "
                                         "MLBOT_DATABASE_URL (PostgreSQL) so they share state.")
    cluster.add_argument("--processes", type=int, required=True, metavar="K", help="gateway processes to run")
    add_shard_options(cluster, with_ids=False)


def shared_database_configured() -> bool:
    return is_postgres_url(os.environ.get("MLBOT_DATABASE_URL", "").strip())


async def resolve_shard_count(value: str | None, token: str) -> tuple[int | None, int]:
    """(shard count or None for an unsharded client, max_concurrency)."""
    from bot.adapters.discord_bot import fetch_gateway_bot, point_at_endpoints

    if value is None:
        return None, 1
    point_at_endpoints()
    if value == "auto":
        return await fetch_gateway_bot(token)
    if not value.isdigit() or int(value) < 1:
        raise GatewayRefused(f"--shard-count must be a positive number or 'auto' (got {value!r})")
    try:
        _, max_concurrency = await fetch_gateway_bot(token)
    except Exception as exc:  # only the concurrency is missing: Discord's default is 1
        log.warning("GET /gateway/bot failed (%s): assuming max_concurrency 1", exc)
        max_concurrency = 1
    return int(value), max_concurrency


def plan_for_run(count: int | None, shard_ids: str | None, max_concurrency: int) -> ShardPlan | None:
    if count is None:
        if shard_ids:
            raise GatewayRefused("--shard-ids needs --shard-count (N, or auto)")
        return None
    try:
        plan = ShardPlan(count, parse_shard_ids(shard_ids, count), max_concurrency)
    except ValueError as exc:
        raise GatewayRefused(str(exc)) from None
    if not plan.whole and not shared_database_configured():
        raise GatewayRefused(f"--shard-ids {shard_ids} leaves other shards to other processes, and {NEEDS_SHARED_STATE}")
    return plan


class SqliteGatewayLock:
    """With SQLite, one gateway process per MLBOT_HOME: a second is refused at start."""

    def __init__(self, home: ModelHome):
        import filelock

        self._lock = filelock.FileLock(home.root / "gateway.lock", timeout=0)

    def __enter__(self) -> "SqliteGatewayLock":
        import filelock

        try:
            self._lock.acquire()
        except filelock.Timeout:
            raise GatewayRefused(f"another gateway process is running on this MLBOT_HOME, and {NEEDS_SHARED_STATE}") \
                from None
        return self

    def __exit__(self, *exc) -> None:
        self._lock.release()


# ----- the cluster supervisor ------------------------------------------------------------
class Cluster:
    """K children `mlbot run --shard-count N --shard-ids <range>`, restarted when they die."""

    def __init__(self, count: int, processes: int, argv_prefix: list[str] | None = None):
        self.count = count
        self.ranges = split_shards(count, processes)
        self.argv_prefix = argv_prefix or [sys.executable, "-m", "bot.adapters.cli"]
        self.children: dict[int, asyncio.subprocess.Process] = {}
        self.restarts = 0
        self.stopping = asyncio.Event()

    def command(self, index: int) -> list[str]:
        ids = self.ranges[index]
        spec = f"{ids[0]}-{ids[-1]}" if len(ids) > 1 else str(ids[0])
        return [*self.argv_prefix, "run", "--shard-count", str(self.count), "--shard-ids", spec]

    async def _spawn(self, index: int) -> asyncio.subprocess.Process:
        env = {**os.environ, "MLBOT_LOG_FILE_NAME": f"gateway-{index}.log", "MLBOT_CLUSTER_INDEX": str(index)}
        if os.environ.get("MLBOT_METRICS_PORT", "").isdigit():  # one port each: base, base + 1, ...
            env["MLBOT_METRICS_PORT"] = str(int(os.environ["MLBOT_METRICS_PORT"]) + index)
        process = await asyncio.create_subprocess_exec(*self.command(index), env=env)
        self.children[index] = process
        log.info("gateway process %d (pid %d) holds shards %s of %d", index, process.pid,
                 ",".join(map(str, self.ranges[index])), self.count)
        print(f"mlbot cluster: process {index} (pid {process.pid}) holds shards "
              f"{','.join(map(str, self.ranges[index]))} of {self.count}", file=sys.stderr, flush=True)
        return process

    async def _watch(self, index: int) -> None:
        pause = 1.0
        while not self.stopping.is_set():
            started = time.monotonic()
            process = await self._spawn(index)
            code = await process.wait()
            if self.stopping.is_set():
                return
            if time.monotonic() - started > 60:
                pause = 1.0  # it ran a good while: this is a new failure, not a crash loop
            log.warning("gateway process %d (pid %d) exited with %s; restarting in %.0f s", index, process.pid,
                        code, pause)
            print(f"mlbot cluster: process {index} (pid {process.pid}) exited with {code}; restarting in "
                  f"{pause:.0f} s", file=sys.stderr, flush=True)
            self.restarts += 1
            try:
                await asyncio.wait_for(self.stopping.wait(), pause)
                return
            except asyncio.TimeoutError:
                pause = min(RESTART_PAUSE_MAX, pause * 2)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        watchers = [asyncio.create_task(self._watch(i)) for i in range(len(self.ranges))]
        await self.stopping.wait()
        print("mlbot cluster: stopping the gateway processes", file=sys.stderr, flush=True)
        for process in self.children.values():
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in self.children.values())), STOP_GRACE)
        except asyncio.TimeoutError:
            for process in self.children.values():
                if process.returncode is None:
                    process.kill()
        await asyncio.gather(*watchers, return_exceptions=True)
        return 0


def run_cluster(args: argparse.Namespace, home: ModelHome, token: str | None) -> int:
    if token is None:
        raise GatewayRefused("mlbot cluster runs gateway processes: set DISCORD_TOKEN (or DISCORD_TOKEN_FILE)")
    if not shared_database_configured():
        raise GatewayRefused(NEEDS_SHARED_STATE)
    if args.processes < 1:
        raise GatewayRefused("--processes must be at least 1")

    async def main() -> int:
        count, _ = await resolve_shard_count(args.shard_count or "auto", token)
        if count < args.processes:
            if args.shard_count not in (None, "auto"):
                raise GatewayRefused(f"--processes {args.processes} needs at least {args.processes} shards "
                                     f"(--shard-count {count})")
            log.info("Discord recommends %d shard(s); using %d, one per process", count, args.processes)
            count = args.processes
        return await Cluster(count, args.processes).run()

    return asyncio.run(main())

