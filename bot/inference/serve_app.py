"""The Ray Serve application "mlbot": one deployment per model, built by `mlbot serve`.

Each replica loads its model from MLBOT_HOME/models/<service>/<version>, the version
`mlbot serve` pinned, so every replica of a deployment answers with the same model and a
newly published one is rolled out (new replicas up, old ones drained) by running `mlbot
serve` again. Worker machines read the model files from the same MLBOT_HOME path: a shared
folder (NFS, or a volume mounted at the same place), or the same path on one machine.

The digit reader and the tone checker use @serve.batch: requests arriving together are
handled as one batch (size and wait from deploy/serve.yaml), in one worker thread; the tone
checker's batch is one padded forward pass (operations.BATCHED), the digit reader's is read
image by image (preparing a photo costs more than the 70k-parameter model). The essay
writer and the track composer are long calls: each replica takes max_ongoing_requests of
them at once, and the essay streams its stages ("planning", "writing paragraph 2"...) back
to the bot before the essay itself. The friend is a long call too, streaming its reply as it
grows; each conversation keeps to one replica (Serve's model multiplexing, keyed by the
conversation) so that replica's cached key/values of it are reused turn after turn.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path
from typing import Any, AsyncIterator

from ray import serve

from bot.inference.operations import BATCHED, OPERATIONS
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
        self.batched_calls = 0  # batches answered by one forward pass
        self.batches: list[int] = []  # sizes of the last batches, for tests and /stats

    def run_batch(self, operation: str, items: list[tuple], **options) -> list[dict[str, Any]]:
        """One forward pass for the batch where the operation has a batched form; if that
        fails, each item answered alone, so one bad input fails only its own request."""
        batched = BATCHED.get((self.service, operation))
        if batched is not None and len(items) > 1:
            try:
                out = [{"ok": result} for result in batched(self.model, items)]
                self.batched_calls += 1
                return self._count(items, out)
            except Exception:
                log.info("%s %s: the batch of %d failed as one; answering each", self.service, operation,
                         len(items), exc_info=True)
        out = []
        for args in items:
            try:
                out.append({"ok": self.operations[operation](self.model, *args, **options)})
            except UserFacingError as exc:
                out.append({"error": str(exc), "user": True})
            except Exception as exc:  # logged here; the bot gets one line
                log.exception("%s %s failed", self.service, operation)
                out.append({"error": f"{type(exc).__name__}: {exc}"[:300], "user": False})
        return self._count(items, out)

    def _count(self, items: list, out: list) -> list:
        self.calls += len(items)
        self.batches = (self.batches + [len(items)])[-100:]
        return out

    def run_one(self, operation: str, args: tuple, **options) -> dict[str, Any]:
        return self.run_batch(operation, [args], **options)[0]

    def stats(self) -> dict:
        return {"version": self.version, "calls": self.calls, "max_batch": max(self.batches, default=0),
                "batches": list(self.batches), "batched_calls": self.batched_calls}


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


class _Unbatched:
    """A deployment answering one request per call (several at once, up to max_ongoing_requests)."""

    def __init__(self, service: str, version: str, home: str):
        self.inner = _Model(service, version, home)

    def version(self) -> str:
        return self.inner.version

    def stats(self) -> dict:
        return self.inner.stats()


@serve.deployment(name="essay")
class EssayModel(_Unbatched):
    def __init__(self, version: str, home: str, *batch_options):  # batch options: not batched
        super().__init__("essay", version, home)

    async def write(self, request) -> AsyncIterator[dict]:
        """{"stage": ...} as the writer reaches each stage, then the answer ({"ok"} or {"error"})."""
        async for item in _streamed(self.inner, "write", (request,)):
            yield item


async def _streamed(inner: _Model, operation: str, args: tuple) -> AsyncIterator[dict]:
    """Run an operation that reports stages (its `on_stage` callback, called from the worker
    thread) and yield {"stage": ...} for each as it comes, then the answer."""
    loop = asyncio.get_running_loop()
    stages: asyncio.Queue = asyncio.Queue()
    on_stage = lambda stage: loop.call_soon_threadsafe(stages.put_nowait, stage)  # noqa: E731
    work = asyncio.ensure_future(asyncio.to_thread(inner.run_one, operation, args, on_stage=on_stage))
    while not work.done():
        getting = asyncio.ensure_future(stages.get())
        await asyncio.wait({work, getting}, return_when=asyncio.FIRST_COMPLETED)
        if getting.done():
            yield {"stage": getting.result()}
        else:
            getting.cancel()
    while not stages.empty():
        yield {"stage": stages.get_nowait()}
    yield await work


@serve.deployment(name="tracks")
class TracksModel(_Unbatched):
    def __init__(self, version: str, home: str, *batch_options):
        super().__init__("tracks", version, home)

    async def compose(self, seed: int, seconds: int, instrument: str, tempo: int) -> dict:
        return await asyncio.to_thread(self.inner.run_one, "compose", (seed, seconds, instrument, tempo))


class _Conversation:
    """A conversation this replica holds key/values of. Serve's model multiplexing keeps the
    ids of recent ones per replica and routes a conversation's next turn to the replica that
    has it; when Serve drops one (least recently used), its key/values go too."""

    def __init__(self, engine, conversation: str):
        self.engine, self.conversation = engine, conversation

    def __del__(self):
        # On a thread: the engine's lock may be held by a reply being written right now.
        try:
            threading.Thread(target=self.engine.forget_conversation, args=(self.conversation,), daemon=True).start()
        except Exception:  # interpreter shutdown
            pass


@serve.deployment(name="friend")
class FriendModel(_Unbatched):
    """The friend: replies stream back sentence by sentence; a conversation's turns come to the
    replica holding its key/values (the bot calls with multiplexed_model_id = conversation)."""

    def __init__(self, version: str, home: str, *batch_options):
        super().__init__("friend", version, home)

    @serve.multiplexed(max_num_models_per_replica=64)
    async def conversation(self, conversation: str) -> _Conversation:
        return _Conversation(self.inner.model.engine, conversation)

    async def _conversation_id(self) -> str | None:
        conversation = serve.get_multiplexed_model_id() or None
        if conversation:
            await self.conversation(conversation)  # tells Serve this replica now holds it
        return conversation

    async def reply(self, persona: str, speaker: str, memory, message: str, seed: int) -> AsyncIterator[dict]:
        """{"stage": the reply so far} as sentences pass their checks, then the answer."""
        conversation = await self._conversation_id()
        async for item in _streamed(self.inner, "reply", (persona, speaker, memory, message, seed, conversation)):
            yield item

    async def summarise(self, summary: str, turns: list, speaker: str) -> dict:
        return await asyncio.to_thread(self.inner.run_one, "summarise", (summary, turns, speaker))

    async def forget(self) -> dict:
        """Drop the conversation's key/values on this replica (after /forget)."""
        conversation = serve.get_multiplexed_model_id()
        if conversation:  # the engine's lock may be held by a reply: wait for it off the loop
            await asyncio.to_thread(self.inner.model.engine.forget_conversation, conversation)
        return {"ok": True}


@serve.deployment(name="models", num_replicas=1, ray_actor_options={"num_cpus": 0.05})
class Models:
    """The application's entry: which services are deployed, at which versions."""

    def __init__(self, versions: dict[str, str], **handles):
        self.versions_ = versions
        self.deployed_at = time.time()

    def versions(self) -> dict[str, str]:
        return dict(self.versions_)


DEPLOYMENTS = {"digits": DigitsModel, "tone": ToneModel, "essay": EssayModel, "tracks": TracksModel,
               "friend": FriendModel}
