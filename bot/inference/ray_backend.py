"""Model calls on the Ray Serve application "mlbot" (MLBOT_RAY_ADDRESS).

Every call is awaited from asyncio through a DeploymentHandle (never a blocking .result() on
the loop) and has a timeout (MLBOT_RAY_TIMEOUT, default 60 s). A full queue (Serve's
BackPressureError) is "busy, try again in N s", as with the local backend; a replica that dies
mid-request is retried once on another, then the user gets one line. The versions the
deployments serve are asked for every 30 s, since they make the cache keys. A service the
application does not deploy (left out of deploy/serve.yaml) runs in this process, on the
local backend. An operation that reports stages (operations.STAGED: the essay's stages, the
friend's growing reply) is a streaming call, with `progress` or without: the replica yields the
stages, then the answer. A call with `affinity` (the
friend's conversation) is a Serve multiplexed call keyed by it, so the conversation's turns go
to the replica that holds its key/values.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any, Hashable

import ray
from ray import serve
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError
from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError, ReplicaUnavailableError

from bot.inference.base import InferenceBackend, Progress
from bot.inference.operations import OPERATIONS, STAGED
from bot.inference.serve_app import APP_NAME
from ml.errors import Busy, InputError, ModelNotReady, UserFacingError

log = logging.getLogger(__name__)

VERSION_TTL = 30.0
BUSY_RETRY_SECONDS = 2.0
# An essay or a clip takes tens of seconds on a busy CPU: their calls may wait this long.
LONG_CALL_SECONDS = {"essay": 600.0, "tracks": 600.0, "friend": 120.0}
REPLICA_LOST = (RayActorError, ActorDiedError, ActorUnavailableError, ReplicaUnavailableError)


class RayBackend(InferenceBackend):
    name = "ray"

    def __init__(self, address: str, local: InferenceBackend, timeout: float | None = None):
        self.address = address
        self.local = local
        self.timeout = timeout or float(os.environ.get("MLBOT_RAY_TIMEOUT", "60"))
        self._versions: dict[str, tuple[str, float]] = {}
        self._deployed: tuple[dict[str, str], float] | None = None
        self._asking: dict[str, asyncio.Lock] = {}
        self._connected = asyncio.Lock()

    async def _connect(self) -> None:
        async with self._connected:
            if not ray.is_initialized():
                # Connecting takes a moment and blocks: on a thread, once.
                try:
                    await asyncio.to_thread(ray.init, address=self.address, namespace=APP_NAME, log_to_driver=False,
                                            configure_logging=False)
                except Exception as exc:
                    log.error("cannot connect to Ray at %s", self.address, exc_info=exc)
                    raise UserFacingError(f"the models on Ray (at {self.address}) cannot be reached right now; "
                                          "try again in a moment") from exc
                log.info("inference on Ray at %s", self.address)

    def _handle(self, service: str, method: str, affinity: str | None = None):
        handle = serve.get_deployment_handle(service, app_name=APP_NAME).options(method_name=method)
        return handle.options(multiplexed_model_id=affinity) if affinity else handle

    def _timeout(self, service: str) -> float:
        return max(self.timeout, LONG_CALL_SECONDS.get(service, 0.0))

    async def _await(self, service: str, method: str, *args: Any, affinity: str | None = None) -> Any:
        response = self._handle(service, method, affinity).remote(*args)
        timeout = self._timeout(service)
        try:
            return await asyncio.wait_for(_awaited(response), timeout)
        except asyncio.TimeoutError:
            response.cancel()
            raise UserFacingError(f"the {service} model on Ray did not answer in {timeout:.0f} s; "
                                  "try again in a moment") from None

    async def _on_ray(self, service: str) -> bool:
        """Whether the application deploys `service` (asked of its entry every 30 s)."""
        if service not in OPERATIONS:
            return False
        if self._deployed is None or time.monotonic() - self._deployed[1] >= VERSION_TTL:
            await self._connect()
            try:
                deployed = await self._await("models", "versions")
            except BackPressureError:
                raise Busy(service, BUSY_RETRY_SECONDS) from None
            except (DeploymentUnavailableError, ValueError, KeyError, RuntimeError) as exc:
                raise ModelNotReady(f"the {service} model is not deployed on Ray: run `mlbot serve` "
                                    f"({type(exc).__name__})") from exc
            self._deployed = (deployed, time.monotonic())
        return service in self._deployed[0]

    async def runs_elsewhere(self, service: str) -> bool:
        return await self._on_ray(service)

    async def version(self, service: str) -> str:
        async with self._asking.setdefault(service, asyncio.Lock()):  # one question in flight per service
            if not await self._on_ray(service):
                return await self.local.version(service)
            known = self._versions.get(service)
            if known and time.monotonic() - known[1] < VERSION_TTL:
                return known[0]
            try:
                version = await self._await(service, "version")
            except BackPressureError:
                raise Busy(service, BUSY_RETRY_SECONDS) from None
            except (DeploymentUnavailableError, ValueError, KeyError, RuntimeError) as exc:
                raise ModelNotReady(f"the {service} model is not deployed on Ray: run `mlbot serve` "
                                    f"({type(exc).__name__})") from exc
            self._versions[service] = (version, time.monotonic())
            return version

    async def call(self, service: str, operation: str, key: Hashable | None, *args: Any,
                   progress: Progress | None = None, affinity: str | None = None) -> Any:
        if not await self._on_ray(service):
            return await self.local.call(service, operation, key, *args, progress=progress, affinity=affinity)
        for attempt in (1, 2):
            try:
                if (service, operation) in STAGED:  # the replica's method yields stages, then the answer
                    answer = await self._streamed(service, operation, progress, *args, affinity=affinity)
                else:
                    answer = await self._await(service, operation, *args, affinity=affinity)
                break
            except BackPressureError:
                raise Busy(service, BUSY_RETRY_SECONDS) from None
            except REPLICA_LOST as exc:
                if attempt == 2:
                    log.error("%s on Ray: the replica was lost twice", service, exc_info=exc)
                    raise UserFacingError(f"the {service} model on Ray stopped in the middle of your request; "
                                          "try again in a moment") from exc
                log.warning("%s on Ray: a replica was lost mid-request (%s); retrying", service, type(exc).__name__)
        if "error" in answer:
            if answer.get("user"):
                raise InputError(answer["error"])
            raise RuntimeError(f"{service} on Ray: {answer['error']}")
        return answer["ok"]

    async def _streamed(self, service: str, operation: str, progress: Progress | None, *args: Any,
                        affinity: str | None = None) -> dict:
        """Stages to `progress` (if any) as the replica yields them; the last item is the answer."""
        stream = self._handle(service, operation, affinity).options(stream=True).remote(*args)

        async def read() -> dict:
            answer: dict = {"error": "the replica sent no answer", "user": False}
            async for item in stream:
                if "stage" in item:
                    if progress is not None:
                        await progress(item["stage"])
                else:
                    answer = item
            return answer
        timeout = self._timeout(service)
        try:
            return await asyncio.wait_for(read(), timeout)
        except asyncio.TimeoutError:
            stream.cancel()
            raise UserFacingError(f"the {service} model on Ray did not answer in {timeout:.0f} s; "
                                  "try again in a moment") from None

    async def health(self) -> str:
        await self._connect()
        versions = await asyncio.wait_for(_awaited(serve.get_deployment_handle("models", app_name=APP_NAME)
                                                   .options(method_name="versions").remote()), 5)
        for service in versions:
            await asyncio.wait_for(_awaited(self._handle(service, "version").remote()), 5)
        return f"ray at {self.address}: " + ", ".join(f"{s} {v}" for s, v in versions.items())


async def _awaited(response):
    return await response
