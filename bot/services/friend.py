"""The friend as the bot uses it: memory in SQLite, the model off the loop (in this process, or
on its Ray Serve deployment), replies that grow while they are written, and the tone model as
the kindness judge when it is built."""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from typing import TYPE_CHECKING, Awaitable, Callable

from bot.from_thread import report_from_thread
from bot.inference.operations import reply_as_json
from bot.model_slot import ModelSlot
from ml.errors import InputError, ModelNotReady
from ml.friend import PIPELINE_VERSION, SERVICE
from ml.friend.recall import FactFinder, MiniLMSimilarity, first_person_sentences
from ml.home import ModelRef
from storage import cache_key
from storage.friend_memory import FriendMemory

if TYPE_CHECKING:
    from bot.app import App
    from ml.friend.conversation import Friend
    from ml.friend.engine import ChatEngine

log = logging.getLogger(__name__)

RECENT_TURNS = 8          # turns kept word for word in the prompt; older ones go into the summary
SUMMARISE_AFTER = 4       # fold older turns into the summary once this many have piled up
RECALL_MESSAGES = 60      # the user's messages searched for an answer to "do you remember ...?"
MAX_MESSAGE_CHARS = 4000  # Discord's own limit for a message (with Nitro)

Stream = Callable[[str], Awaitable[None]]


class FriendService:
    name = SERVICE

    def __init__(self, app: "App"):
        self.app = app
        self.memory = FriendMemory(app.db)
        self.slot: ModelSlot["ChatEngine"] = ModelSlot(
            app, SERVICE, _load_model, "the friend model is not set up yet: run `mlbot train friend` (about 1 min)")
        self.finder = FactFinder(MiniLMSimilarity())  # matches memory questions to facts
        self._background: set[asyncio.Task] = set()
        self._summarising: set[str] = set()

    def conversation_id(self, adapter: str, place: str) -> str:
        """Where a conversation happens (a DM, a channel, a thread, a CLI user), as a keyed hash."""
        return self.app.keyed_hash(f"friend:{adapter}:{place}")

    async def chat(self, *, user_key: str, conversation: str, speaker: str, message: str,
                   guild_id: str | None = None, stream: Stream | None = None, variant: int = 0) -> dict:
        from ml.friend.conversation import DEFAULT_PERSONA, Friend, Memory, Turn
        from ml.friend.facts import Fact, extract_facts, value_of_stored

        message = (message or "").strip()
        if not message:
            raise InputError("say something: the message is empty")
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[:MAX_MESSAGE_CHARS]
        # The model answers in this process, or on its Serve deployment (MLBOT_RAY_ADDRESS).
        remote = await self.app.inference.runs_elsewhere(SERVICE)
        if remote:
            version = await self.app.inference.version(SERVICE)
            kind = self.app.home.current("tone") is not None  # the replica judges with it once built
        else:
            model = await self.slot.get()
            version = model.path.name  # the published version's folder
            sentence_judge, judge = await self._judges()  # only once tone is built
            friend = Friend(model, judge=judge, sentence_judge=sentence_judge, finder=self.finder)
            kind = judge is not None
        stored = await self.memory.load(user_key, conversation, RECENT_TURNS)
        persona = await self.memory.persona(user_key, guild_id) or DEFAULT_PERSONA
        facts = [Fact(f.key, f.text, f.value or value_of_stored(f.text)) for f in stored.facts]
        said = first_person_sentences(await self.memory.user_messages(user_key, conversation, RECALL_MESSAGES))
        memory = Memory(stored.summary, facts, [Turn(t.role, t.speaker, t.content) for t in stored.turns], said)
        state = json.dumps([persona, speaker, memory.summary, [f.text for f in facts],
                            [(t.role, t.text) for t in memory.turns], said, message], ensure_ascii=False)
        if variant:  # Regenerate: the same turn with another seed (and its own cache entry)
            state += f"\n#variant {variant}"
        seed = int(hashlib.sha256(state.encode()).hexdigest()[:8], 16)
        key = cache_key(SERVICE, version, state, {"pipeline": PIPELINE_VERSION, "kind": kind})
        cached = await self.app.cache.get(key, user_key)
        if cached is not None:
            result = {**cached.result, "cached": True}
        else:
            if remote:
                answer = await self.app.inference.call(SERVICE, "reply", None, persona, speaker, memory, message,
                                                       seed, progress=stream, affinity=conversation)
            else:
                reply = await self.app.runtime(SERVICE).run(None, friend.reply, persona, speaker, memory, message,
                                                            seed, report_from_thread(stream) if stream else None,
                                                            conversation)
                answer = reply_as_json(reply, model.name)
            result = {**answer, "model_version": version, "cached": False}
            await self.app.cache.put(key, SERVICE, version, result, None, user_key)
        told = [(fact.key, fact.text, fact.value) for fact in extract_facts(message)]
        await self.memory.add_exchange(user_key, conversation, speaker, message, result["reply"], told)
        self._start(self._summarise_if_due(user_key, conversation, speaker,
                                           self._remote_summary if remote else self._local_summary(friend)))
        return result

    async def _remote_summary(self, summary: str, turns: list, speaker: str) -> str:
        return await self.app.inference.call(SERVICE, "summarise", None, summary, turns, speaker)

    def _local_summary(self, friend: "Friend"):
        async def summarise(summary: str, turns: list, speaker: str) -> str:
            return await self.app.runtime(SERVICE).run(None, friend.summarise, summary, turns, speaker)
        return summarise

    async def _judges(self):
        """(sentence judge, reply judge) from the tone model, or (None, None) while it is not built."""
        from ml.friend.kindness import tone_judges

        try:
            predictor = await self.app.tone.slot.get()
        except ModelNotReady:
            return None, None
        return tone_judges(predictor)

    async def _summarise_if_due(self, user_key: str, conversation: str, speaker: str, summarise) -> None:
        from ml.friend.conversation import Turn

        if conversation in self._summarising:  # one summary at a time per conversation
            return
        if len(await self.memory.unsummarised_before_recent(user_key, conversation, RECENT_TURNS)) < SUMMARISE_AFTER:
            return
        self._summarising.add(conversation)
        try:
            # ...and across processes sharing the database: another one may be folding the
            # same turns right now (it will have taken them by the time this one could).
            async with self.app.db.exclusive(f"friend-summary:{user_key}:{conversation}") as mine:
                if not mine:
                    return
                # read again under the lock: what another process summarised is not redone
                old = await self.memory.unsummarised_before_recent(user_key, conversation, RECENT_TURNS)
                if len(old) < SUMMARISE_AFTER:
                    return
                summary = await self.memory.summary(user_key, conversation)
                turns = [Turn(t.role, t.speaker, t.content) for t in old]
                summary = await summarise(summary, turns, speaker)
                await self.memory.save_summary(user_key, conversation, summary, old[-1].id)
        finally:
            self._summarising.discard(conversation)

    def _start(self, work) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("friend summary failed", exc_info=task.exception())

    async def settle(self) -> None:
        """Wait for summaries being written (tests, shutdown)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def forget(self, user_key: str) -> int:
        """Delete what the friend remembers of a user, and the key/values that hold their words."""
        model = self.slot.loaded
        conversations = await self.memory.conversations(user_key)
        removed = await self.memory.forget_user(user_key)
        if model is not None:
            model.forget_all_conversations()
        try:
            if await self.app.inference.runs_elsewhere(SERVICE):
                for conversation in conversations:  # each goes to the replica that holds it
                    await self.app.inference.call(SERVICE, "forget", None, affinity=conversation)
        except Exception:  # the memory is gone; a replica's cache lapses with its LRU
            log.warning("friend: could not reach every replica to drop cached conversations", exc_info=True)
        return removed


def _load_model(ref: ModelRef) -> "ChatEngine":
    from ml.friend.engine import load_chat_model

    return load_chat_model(ref.path)
