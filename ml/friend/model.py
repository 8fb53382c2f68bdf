"""The chat model as the friend uses it: safe prompt encoding and a streaming decode loop.

Why an own loop instead of `generate()`: the friend streams text to Discord, stops at a
sentence, can be told to give up (a sentence failed the kindness check), and keeps each
conversation's key/value cache so the next turn only runs the tokens that are new
(the prompt of turn n+1 starts with the prompt and reply of turn n).
"""
from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

# Conversations whose key/value cache is kept (each is ~23 KB per token in bf16 for SmolLM2).
PREFIX_CACHE_SLOTS = 4


@dataclass
class Generation:
    text: str
    tokens: int              # new tokens sampled
    prompt_tokens: int
    reused_tokens: int       # prompt tokens whose key/values came from the conversation's cache
    first_token_seconds: float
    seconds: float


@dataclass
class Sampling:
    temperature: float = 0.7
    top_p: float = 0.9
    repetition_penalty: float = 1.15  # small models loop without it
    max_new_tokens: int = 160


class ChatModel:
    def __init__(self, path: str | Path, dtype: str | None = None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        from ml.runtime import fast_bf16

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        hf_logging.disable_progress_bar()  # a "Loading weights" bar would cut into the console
        self.torch = torch
        self.path = Path(path)
        name = dtype or ("bfloat16" if fast_bf16() else "float32")
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.path))
        self.model = AutoModelForCausalLM.from_pretrained(str(self.path), dtype=getattr(torch, name))
        self.model.eval()
        self.dtype = name
        self.im_start = self._special_id("<|im_start|>")
        self.im_end = self._special_id("<|im_end|>")
        self.stop_ids = {i for i in (self.im_end, self.tokenizer.eos_token_id) if i is not None}
        self.newline = self.tokenizer.encode("\n", add_special_tokens=False)
        self._caches: OrderedDict[str, tuple[list[int], object]] = OrderedDict()
        self._forgotten = 0  # counts forget_all_conversations calls (they come from other threads)

    def _special_id(self, token: str) -> int:
        found = self.tokenizer.convert_tokens_to_ids(token)
        if found is None or found == self.tokenizer.unk_token_id:
            raise ValueError(f"{self.path} is not a ChatML model: it has no {token} token")
        return found

    # ----- prompts -----------------------------------------------------------------------
    def encode_text(self, text: str) -> list[int]:
        """Plain text to ids; special-token strings typed by a user stay plain text, so a
        message cannot open a new "system" turn of its own."""
        return self.tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]

    def encode_turn(self, role: str, content: str) -> list[int]:
        """One ChatML turn, exactly as the model's chat template writes it."""
        return [self.im_start] + self.encode_text(f"{role}\n{content}") + [self.im_end] + self.newline

    def assistant_prefix(self) -> list[int]:
        return [self.im_start] + self.encode_text("assistant\n")

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    # ----- decoding ----------------------------------------------------------------------
    def _cached_prefix(self, conversation: str | None, ids: list[int]):
        """(past key/values, how many of `ids` they cover) from this conversation's last turn."""
        from transformers import DynamicCache

        if conversation is None or conversation not in self._caches:
            return DynamicCache(), 0
        cached_ids, cache = self._caches.pop(conversation)
        common = 0
        for a, b in zip(cached_ids, ids):
            if a != b:
                break
            common += 1
        common = min(common, len(ids) - 1)  # at least one token must run to get logits
        if common <= 0:
            return DynamicCache(), 0
        extra = cache.get_seq_length() - common
        if extra > 0:
            cache.crop(-extra)  # this transformers crops by a negative count of tokens to drop
        return cache, common

    def generate(self, prompt: list[int], sampling: Sampling, seed: int,
                 on_text: Callable[[str], bool] | None = None, conversation: str | None = None) -> Generation:
        """Sample a reply to `prompt` (ids ending with the assistant prefix). `on_text` gets the
        text so far after each token and returns False to stop early."""
        torch = self.torch
        started = time.perf_counter()
        generator = torch.Generator().manual_seed(seed)
        forgotten = self._forgotten
        cache, reused = self._cached_prefix(conversation, prompt)
        pending = torch.tensor([prompt[reused:]])
        produced: list[int] = []
        first_token_at = None
        with torch.inference_mode():
            for _ in range(sampling.max_new_tokens):
                logits = self.model(input_ids=pending, past_key_values=cache, use_cache=True).logits[0, -1].float()
                token = self._sample(logits, produced, sampling, generator)
                if first_token_at is None:
                    first_token_at = time.perf_counter() - started
                if token in self.stop_ids:
                    break
                produced.append(token)
                pending = torch.tensor([[token]])
                if on_text is not None and not on_text(self.decode(produced)):
                    break
        if conversation is not None and forgotten == self._forgotten:  # not if /forget ran meanwhile
            # The cache now covers prompt + produced (minus the last sampled token, never run).
            covered = prompt + produced
            self._caches[conversation] = (covered[:cache.get_seq_length()], cache)
            while len(self._caches) > PREFIX_CACHE_SLOTS:
                self._caches.popitem(last=False)
        return Generation(self.decode(produced), len(produced), len(prompt), reused,
                          first_token_at or 0.0, time.perf_counter() - started)

    def _sample(self, logits, produced: list[int], sampling: Sampling, generator) -> int:
        torch = self.torch
        if produced and sampling.repetition_penalty != 1.0:
            seen = torch.tensor(sorted(set(produced)))
            values = logits[seen]
            logits[seen] = torch.where(values > 0, values / sampling.repetition_penalty,
                                       values * sampling.repetition_penalty)
        if sampling.temperature <= 0:
            return int(logits.argmax())
        probs = torch.softmax(logits / sampling.temperature, dim=-1)
        ordered, order = probs.sort(descending=True)
        keep = ordered.cumsum(0) - ordered < sampling.top_p  # the smallest set reaching top_p
        ordered = ordered * keep
        choice = torch.multinomial(ordered / ordered.sum(), 1, generator=generator)
        return int(order[choice])

    def forget_conversation(self, conversation: str) -> None:
        self._caches.pop(conversation, None)

    def forget_all_conversations(self) -> None:
        """Drop every cached conversation, also one being written now (it will not be kept)."""
        self._forgotten += 1
        self._caches.clear()
