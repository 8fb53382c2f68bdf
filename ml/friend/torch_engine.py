"""The friend's model on transformers (bf16 on CPUs that have fast bf16, else float32).

Always available, and the engine the essay judge reads with (it needs batched log-likelihoods).
For chat, llama.cpp decodes 5.5x faster on 2 cores (bench/friend.py: 90.6 against 16.6 tokens/s); this is the fallback when
llama-cpp-python could not be built at set-up.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ml.friend.engine import PREFIX_CACHE_SLOTS, ChatEngine, common_prefix


class TorchChatModel(ChatEngine):
    def __init__(self, path: str | Path, dtype: str | None = None):
        super().__init__()
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
        self.name = f"torch {name}"
        self.im_start = self._special_id("<|im_start|>")
        self.im_end = self._special_id("<|im_end|>")
        self.stop_ids = {i for i in (self.im_end, self.tokenizer.eos_token_id) if i is not None}
        self.newline = self.tokenizer.encode("\n", add_special_tokens=False)
        self._caches: OrderedDict[str, tuple[list[int], object]] = OrderedDict()
        self._live = None  # the cache the running generation extends

    def _special_id(self, token: str) -> int:
        found = self.tokenizer.convert_tokens_to_ids(token)
        if found is None or found == self.tokenizer.unk_token_id:
            raise ValueError(f"{self.path} is not a ChatML model: it has no {token} token")
        return found

    def encode_text(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    # ----- the engine's part of the decode loop ------------------------------------------------
    def _cached_prefix(self, conversation: str | None, ids: list[int]):
        """(past key/values, how many of `ids` they cover) from this conversation's last turn."""
        from transformers import DynamicCache

        if conversation is None or conversation not in self._caches:
            return DynamicCache(), 0
        cached_ids, cache = self._caches.pop(conversation)
        common = min(common_prefix(cached_ids, ids), len(ids) - 1)  # one token must run to get logits
        if common <= 0:
            return DynamicCache(), 0
        extra = cache.get_seq_length() - common
        if extra > 0:
            cache.crop(-extra)  # this transformers crops by a negative count of tokens to drop
        return cache, common

    def _forward(self, ids: list[int]) -> np.ndarray:
        with self.torch.inference_mode():
            out = self.model(input_ids=self.torch.tensor([ids]), past_key_values=self._live, use_cache=True)
        return out.logits[0, -1].float().numpy()

    def _run_prompt(self, prompt, conversation):
        self._live, reused = self._cached_prefix(conversation, prompt)
        return reused, self._forward(prompt[reused:])

    def _run_token(self, token):
        return self._forward([token])

    def _keep(self, conversation, covered):
        cache, self._live = self._live, None
        self._caches[conversation] = (covered[:cache.get_seq_length()], cache)
        while len(self._caches) > PREFIX_CACHE_SLOTS:
            self._caches.popitem(last=False)

    def _drop(self, conversation):
        self._caches.pop(conversation, None)

    def _drop_all(self):
        self._caches.clear()
