"""What every chat engine shares: ChatML prompts, the streaming decode loop, sampling and timing.

An engine only has to say how text becomes ids and back, how a prompt is run (reusing what it
already holds of that conversation) and how one more token is run. Two engines exist:
`ml/friend/llama_engine.py` (llama.cpp on the GGUF weights: the fast one) and
`ml/friend/torch_engine.py` (transformers: always there, and what the essay judge reads with).

Why an own loop instead of a library's `generate()`: the friend streams text to Discord, stops
at a sentence, can be told to give up (a sentence failed a check), has a deadline, and keeps
each conversation's key/value cache so the next turn only runs the tokens that are new.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

# Conversations whose key/value cache is kept (SmolLM2: ~23 KB per token).
PREFIX_CACHE_SLOTS = 4
TOP_K = 100  # top-p is taken within the 100 likeliest tokens: sorting 49,152 logits each step costs more


@dataclass
class Generation:
    text: str
    tokens: int              # new tokens sampled
    prompt_tokens: int
    reused_tokens: int       # prompt tokens whose key/values came from an earlier turn
    first_token_seconds: float
    seconds: float
    stopped_by_deadline: bool = False


@dataclass
class Sampling:
    temperature: float = 0.7
    top_p: float = 0.9
    repetition_penalty: float = 1.15  # small models loop without it
    max_new_tokens: int = 160


def sample_token(logits: np.ndarray, produced: list[int], sampling: Sampling, rng: np.random.Generator) -> int:
    """Repetition penalty on tokens already produced, then temperature and top-p (nucleus)."""
    logits = logits.astype(np.float32, copy=True)
    if produced and sampling.repetition_penalty != 1.0:
        seen = np.fromiter(set(produced), dtype=np.int64)
        values = logits[seen]
        logits[seen] = np.where(values > 0, values / sampling.repetition_penalty, values * sampling.repetition_penalty)
    if sampling.temperature <= 0:
        return int(logits.argmax())
    top = np.argpartition(logits, -TOP_K)[-TOP_K:]
    top = top[np.argsort(-logits[top])]
    scaled = logits[top] / sampling.temperature
    probs = np.exp(scaled - scaled[0])
    probs /= probs.sum()
    keep = np.cumsum(probs) - probs < sampling.top_p  # the smallest set reaching top_p
    probs = np.where(keep, probs, 0.0)
    return int(top[rng.choice(len(top), p=probs / probs.sum())])


def common_prefix(a: list[int], b: list[int]) -> int:
    count = 0
    for x, y in zip(a, b):
        if x != y:
            break
        count += 1
    return count


class ChatEngine:
    """Subclasses set `name`, `im_start`, `im_end`, `stop_ids`, `newline` and implement
    encode_text, decode, _run_prompt, _run_token, _keep and _drop_all."""

    name = "engine"

    def __init__(self) -> None:
        self._lock = threading.Lock()  # one decode at a time: the state below is the model's
        self._forgotten = 0            # counts forget_all_conversations calls (they come from other threads)

    # ----- prompts -----------------------------------------------------------------------
    def encode_text(self, text: str) -> list[int]:
        """Plain text to ids; special-token strings typed by a user must stay plain text."""
        raise NotImplementedError

    def decode(self, ids: list[int]) -> str:
        raise NotImplementedError

    def encode_turn(self, role: str, content: str) -> list[int]:
        """One ChatML turn, exactly as the model's chat template writes it."""
        return [self.im_start] + self.encode_text(f"{role}\n{content}") + [self.im_end] + self.newline

    def assistant_prefix(self) -> list[int]:
        return [self.im_start] + self.encode_text("assistant\n")

    # ----- what an engine implements --------------------------------------------------------
    def _run_prompt(self, prompt: list[int], conversation: str | None) -> tuple[int, np.ndarray]:
        """Run the prompt, reusing key/values held for it; (tokens reused, next-token logits)."""
        raise NotImplementedError

    def _run_token(self, token: int) -> np.ndarray:
        raise NotImplementedError

    def _keep(self, conversation: str, covered: list[int]) -> None:
        """Remember the key/values of `covered` (prompt + reply so far) for the conversation."""
        raise NotImplementedError

    def _drop_all(self) -> None:
        raise NotImplementedError

    def _drop(self, conversation: str) -> None:
        raise NotImplementedError

    # ----- decoding ----------------------------------------------------------------------
    def generate(self, prompt: list[int], sampling: Sampling, seed: int,
                 on_text: Callable[[str], bool] | None = None, conversation: str | None = None,
                 deadline: float | None = None) -> Generation:
        """Sample a reply to `prompt` (ids ending with the assistant prefix). `on_text` gets the
        text so far after each token and returns False to stop early; `deadline` is a
        time.perf_counter() moment after which no more tokens are sampled."""
        with self._lock:
            started = time.perf_counter()
            rng = np.random.default_rng(seed)
            forgotten = self._forgotten
            reused, logits = self._run_prompt(prompt, conversation)
            produced: list[int] = []
            first_token_at = None
            late = False
            for step in range(sampling.max_new_tokens):
                token = sample_token(logits, produced, sampling, rng)
                if first_token_at is None:
                    first_token_at = time.perf_counter() - started
                if token in self.stop_ids:
                    break
                produced.append(token)
                if on_text is not None and not on_text(self.decode(produced)):
                    break
                if deadline is not None and time.perf_counter() > deadline:
                    late = True
                    break
                if step + 1 < sampling.max_new_tokens:
                    logits = self._run_token(token)
            if forgotten != self._forgotten:  # /forget came while this ran: it drops everything now
                self._drop_all()
            elif conversation is not None:
                self._keep(conversation, prompt + produced)
            return Generation(self.decode(produced), len(produced), len(prompt), reused,
                              first_token_at or 0.0, time.perf_counter() - started, late)

    def forget_conversation(self, conversation: str) -> None:
        with self._lock:
            self._drop(conversation)

    def forget_all_conversations(self) -> None:
        """Drop every cached conversation, also one being written now (it will not be kept).
        Never waits: a generation running now sees the count change and drops them itself."""
        self._forgotten += 1
        if self._lock.acquire(blocking=False):
            try:
                self._drop_all()
            finally:
                self._lock.release()


# ----- choosing an engine --------------------------------------------------------------------
GGUF_NAME = "model-q8_0.gguf"  # what `mlbot train friend` writes next to the transformers files
ENGINES = ("auto", "llama.cpp", "torch")


def llama_cpp_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None


def load_chat_model(path, engine: str | None = None) -> ChatEngine:
    """The friend's model from a published version folder. MLBOT_FRIEND_ENGINE picks the engine:
    `auto` (default) takes llama.cpp when it is installed and the folder has the GGUF file."""
    import logging
    import os
    from pathlib import Path

    engine = engine or os.environ.get("MLBOT_FRIEND_ENGINE", "auto")
    if engine not in ENGINES:
        raise ValueError(f"MLBOT_FRIEND_ENGINE must be one of {', '.join(ENGINES)}, not {engine!r}")
    gguf = Path(path) / GGUF_NAME
    if engine == "llama.cpp" or (engine == "auto" and gguf.exists() and llama_cpp_available()):
        from ml.friend.llama_engine import LlamaChatModel

        return LlamaChatModel(gguf)
    if engine == "auto":
        why = "llama-cpp-python is not installed" if gguf.exists() else f"{Path(path).name} has no {GGUF_NAME}"
        logging.getLogger(__name__).info("friend on transformers (%s): slower replies", why)
    from ml.friend.torch_engine import TorchChatModel

    return TorchChatModel(path)
