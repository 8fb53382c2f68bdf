"""/healthz and /metrics for one gateway process, on MLBOT_METRICS_PORT (off when unset).

/healthz answers 200 only when the process is connected to Discord, its database answers and
its inference backend answers; otherwise 503. The JSON body says which part is not, e.g.
{"ok": false, "discord": {"ok": true, ...}, "database": {"ok": false, "detail": "..."}, ...}.
/metrics is Prometheus' text format (bot/metrics.py).
"""
from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.metrics import REGISTRY, AppCollector

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)
CHECK_TIMEOUT = 3.0


def metrics_port() -> int | None:
    raw = os.environ.get("MLBOT_METRICS_PORT", "").strip()
    return int(raw) if raw.isdigit() else None


async def _check(probe) -> dict:
    try:
        detail = await asyncio.wait_for(probe(), CHECK_TIMEOUT)
        return {"ok": True, "detail": detail}
    except asyncio.TimeoutError:
        return {"ok": False, "detail": f"no answer in {CHECK_TIMEOUT:.0f} s"}
    except Exception as exc:
        return {"ok": False, "detail": str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__}


class HealthServer:
    def __init__(self, app: "App", client: Callable[[], object | None], port: int, host: str | None = None):
        self.app = app
        self.client = client
        self.port = port
        self.host = host or os.environ.get("MLBOT_METRICS_HOST", "127.0.0.1")
        self._collector = AppCollector(app, client)
        self._runner: web.AppRunner | None = None

    async def start(self) -> "HealthServer":
        REGISTRY.register(self._collector)
        server = web.Application()
        server.router.add_get("/healthz", self._healthz)
        server.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(server, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        log.info("health and metrics on http://%s:%d/healthz and /metrics", self.host, self.port)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            REGISTRY.unregister(self._collector)

    async def report(self) -> dict:
        async def discord_probe() -> str:
            client = self.client()
            if client is None or client.is_closed() or not client.is_ready():
                raise RuntimeError("not connected to Discord")
            plan = self.app.shards
            return f"ready, {plan.describe()}" if plan else "ready"

        async def database_probe() -> str:
            await self.app.db.fetchone("SELECT 1")
            return self.app.db.dialect

        async def inference_probe() -> str:
            return await self.app.inference_health()

        checks = dict(zip(("discord", "database", "inference"),
                          await asyncio.gather(_check(discord_probe), _check(database_probe), _check(inference_probe))))
        return {"ok": all(c["ok"] for c in checks.values()), **checks}

    async def _healthz(self, request: web.Request) -> web.Response:
        report = await self.report()
        return web.json_response(report, status=200 if report["ok"] else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        body = await asyncio.to_thread(generate_latest, REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
