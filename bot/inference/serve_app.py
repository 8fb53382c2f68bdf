"""The Ray Serve application "mlbot": one deployment per model, built by `mlbot serve`.

Each replica loads its model from MLBOT_HOME/models/<service>/<version>, the version
`mlbot serve` pinned, so every replica of a deployment answers with the same model and a
newly published one is rolled out (new replicas up, old ones drained) by running `mlbot
serve` again. Worker machines read the model files from the same MLBOT_HOME path: a shared
folder (NFS, or a volume mounted at the same place), or the same path on one machine.

The digit reader and the tone checker use @serve.batch: requests arriving together are
handled as one batch (size and wait from deploy/serve.yaml), in one worker thread.
"""
from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from ray import serve

from bot.inference.operations import OPERATIONS
from ml.errors import UserFacingError
from ml.home import ModelRef

log = logging.getLogger(__name__)
APP_NAME = "mlbot"


class _Model:
    """A service's model in a replica, and what it has answered."""

    def __init__(self, service: str, version: str, home: str):
        load, self.operations, _ = OPERATIONS[service]
        self.service, self.version = service, version
        self.model = load(ModelRef(service, version, Path(home) / "models" / service / version))
        self.calls = 0
        self.batches: list[int] = []  # sizes of the last batches, for tests and /stats

    def run_batch(self, operation: str, items: list[tuple]) -> list[dict[str, Any]]:
        """Each item answered alone: one bad input fails only its own request."""
        out = []
        for args in items:
            try:
                out.append({"ok": self.operations[operation](self.model, *args)})
            except UserFacingError as exc:
                out.append({"error": str(exc), "user": True})
            except Exception as exc:  # logged here; the bot gets one line
                log.exception("%s %s failed", self.service, operation)
                out.append({"error": f"{type(exc).__name__}: {exc}"[:300], "user": False})
        self.calls += len(items)
        self.batches = (self.batches + [len(items)])[-100:]
        return out

    def stats(self) -> dict:
        return {"version": self.version, "calls": self.calls, "max_batch": max(self.batches, default=0),
                "batches": list(self.batches)}


@serve.deployment(name="digits")
class DigitsModel:
    def __init__(self, version: str, home: str, max_batch_size: int = 16, batch_wait_timeout_s: float = 0.01):
        self.inner = _Model("digits", version, home)
        self.read.set_max_batch_size(max_batch_size)
        self.read.set_batch_wait_timeout_s(batch_wait_timeout_s)

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.01)
    async def read(self, items: list[bytes]) -> list[dict]:
        return await asyncio.to_thread(self.inner.run_batch, "read", [(data,) for data in items])

    def version(self) -> str:
        return self.inner.version

    def stats(self) -> dict:
        return self.inner.stats()


@serve.deployment(name="tone")
class ToneModel:
    def __init__(self, version: str, home: str, max_batch_size: int = 16, batch_wait_timeout_s: float = 0.01):
        self.inner = _Model("tone", version, home)
        self.check.set_max_batch_size(max_batch_size)
        self.check.set_batch_wait_timeout_s(batch_wait_timeout_s)
        self.score.set_max_batch_size(max_batch_size)
        self.score.set_batch_wait_timeout_s(batch_wait_timeout_s)

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.01)
    async def check(self, texts: list[str], rewrites: list[bool]) -> list[dict]:
        return await asyncio.to_thread(self.inner.run_batch, "check", list(zip(texts, rewrites)))

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.01)
    async def score(self, texts: list[str]) -> list[dict]:
        return await asyncio.to_thread(self.inner.run_batch, "score", [(t,) for t in texts])

    def version(self) -> str:
        return self.inner.version

    def stats(self) -> dict:
        return self.inner.stats()


@serve.deployment(name="models", num_replicas=1, ray_actor_options={"num_cpus": 0.05})
class Models:
    """The application's entry: which services are deployed, at which versions."""

    def __init__(self, versions: dict[str, str], **handles):
        self.versions_ = versions
        self.deployed_at = time.time()

    def versions(self) -> dict[str, str]:
        return dict(self.versions_)


DEPLOYMENTS = {"digits": DigitsModel, "tone": ToneModel}
