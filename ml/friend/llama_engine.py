"""The friend's model on llama.cpp (llama-cpp-python, built from source at set-up).

`mlbot train friend` writes the weights as Q8_0 GGUF. bench/friend.py on 2 cores: 90.6 tokens/s
and 0.18 s to the first token of a first turn, against 84.4 and 0.23 s on the shipped Q4_1 file
and 16.6 and 0.21 s on the bf16 transformers model.

One llama.cpp context holds one live sequence. Other conversations' key/values are copied out
(llama_state_seq_get_data, ~23 KB a token) and copied back when they speak again; a new
conversation starts from whatever the live sequence shares with it (the persona's system turn).
"""
from __future__ import annotations

import ctypes
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ml.friend.engine import PREFIX_CACHE_SLOTS, ChatEngine, common_prefix

CONTEXT_TOKENS = 2048


class LlamaChatModel(ChatEngine):
    def __init__(self, gguf: str | Path, threads: int | None = None):
        super().__init__()
        import llama_cpp

        self._llama_cpp = llama_cpp
        self.path = Path(gguf).parent
        threads = threads or int(os.environ.get("MLBOT_TORCH_THREADS") or os.cpu_count() or 2)
        self.llm = llama_cpp.Llama(model_path=str(gguf), n_ctx=CONTEXT_TOKENS, n_batch=512, n_threads=threads,
                                   n_threads_batch=threads, verbose=False)
        self.dtype = "q8_0" if "q8_0" in Path(gguf).name.lower() else Path(gguf).stem
        self.name = f"llama.cpp {self.dtype}"
        self.im_start = self._special_id("<|im_start|>")
        self.im_end = self._special_id("<|im_end|>")
        self.stop_ids = {self.im_end, self.llm.token_eos()}
        self.newline = self.encode_text("\n")
        self._vocab = self.llm.n_vocab()
        self._live_conversation: str | None = None
        self._saved: OrderedDict[str, tuple[list[int], bytes]] = OrderedDict()

    def _special_id(self, token: str) -> int:
        ids = self.llm.tokenize(token.encode(), add_bos=False, special=True)
        if len(ids) != 1:
            raise ValueError(f"{self.path} is not a ChatML model: it has no {token} token")
        return ids[0]

    def encode_text(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def decode(self, ids: list[int]) -> str:
        # A reply cut mid-character (an emoji is several tokens) shows without the partial bytes.
        return self.llm.detokenize(ids).decode("utf-8", errors="ignore")

    # ----- the live sequence and the saved ones --------------------------------------------
    def _live_tokens(self) -> list[int]:
        return self.llm.input_ids[:self.llm.n_tokens].tolist()

    def _save_live(self) -> None:
        if self._live_conversation is None or self.llm.n_tokens == 0:
            return
        cpp, ctx = self._llama_cpp, self.llm.ctx
        size = cpp.llama_state_seq_get_size(ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = cpp.llama_state_seq_get_data(ctx, buffer, size, 0)
        self._saved[self._live_conversation] = (self._live_tokens(), bytes(buffer[:written]))
        self._saved.move_to_end(self._live_conversation)
        while len(self._saved) > PREFIX_CACHE_SLOTS:
            self._saved.popitem(last=False)

    def _restore(self, conversation: str) -> None:
        tokens, state = self._saved.pop(conversation)
        cpp, ctx = self._llama_cpp, self.llm.ctx
        cpp.llama_memory_seq_rm(cpp.llama_get_memory(ctx), 0, -1, -1)
        buffer = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        if cpp.llama_state_seq_set_data(ctx, buffer, len(state), 0) == 0:
            self.llm.n_tokens = 0  # could not restore: run the prompt from scratch
            return
        self.llm.input_ids[:len(tokens)] = tokens
        self.llm.n_tokens = len(tokens)

    def _logits(self) -> np.ndarray:
        pointer = self._llama_cpp.llama_get_logits_ith(self.llm.ctx, -1)
        return np.ctypeslib.as_array(pointer, shape=(self._vocab,)).copy()

    # ----- the engine's part of the decode loop ------------------------------------------------
    def _run_prompt(self, prompt, conversation):
        if len(prompt) >= CONTEXT_TOKENS - 8:
            raise ValueError(f"a prompt of {len(prompt)} tokens does not fit the {CONTEXT_TOKENS}-token context")
        live = common_prefix(self._live_tokens(), prompt)
        saved = common_prefix(self._saved[conversation][0], prompt) if conversation in self._saved else 0
        if conversation != self._live_conversation:
            self._save_live()  # the live sequence is another conversation's: keep it for its next turn
            if saved > live:
                self._restore(conversation)
                live = saved
            self._live_conversation = conversation
        reused = min(live, len(prompt) - 1)  # one token must run to get logits
        self.llm.n_tokens = reused           # eval() drops the key/values past this point first
        self.llm.eval(prompt[reused:])
        return reused, self._logits()

    def _run_token(self, token):
        self.llm.eval([token])
        return self._logits()

    def _keep(self, conversation, covered):
        self._live_conversation = conversation  # the live sequence is its cache; saved when another speaks
        self._saved.pop(conversation, None)

    def _drop(self, conversation):
        self._saved.pop(conversation, None)
        if self._live_conversation == conversation:
            self._live_conversation = None
            self.llm.n_tokens = 0

    def _drop_all(self):
        self._saved.clear()
        self._live_conversation = None
        self.llm.n_tokens = 0
