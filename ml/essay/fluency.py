"""SmolLM2's opinion of a candidate sentence: its mean log-likelihood per token after the text
it would follow. Two readers, one answer:

- `LlamaFluencyJudge` (llama.cpp, the fast one): the essay so far stays in the key/value cache
  as sequence 0, so each call only runs what is new (the sentence kept last time, which is
  already in the cache as the candidate it was); the candidates run side by side in one batch,
  each in its own sequence sharing the essay's cells (a unified key/value buffer).
- `TorchFluencyJudge` (transformers): reads only the last CONTEXT_TAIL_TOKENS of the context
  each time, then the candidates side by side on its key/values. Used when llama.cpp is not
  installed, and for the evaluation's perplexity (the model in full precision).

`load_fluency_judge` picks the engine the friend uses (MLBOT_FRIEND_ENGINE, see
ml/friend/engine.py). Both expose `chat`, the engine the planner writes with.
"""
from __future__ import annotations

import ctypes
import logging
import os
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from ml.friend.engine import common_prefix

log = logging.getLogger(__name__)

CONTEXT_TAIL_TOKENS = 64   # the torch reader's context: about the sentence before
LLAMA_CONTEXT_TOKENS = 4096  # a 1,500-word essay, its plan and a batch of candidates
LLAMA_BATCH_TOKENS = 512
MAX_CANDIDATES = 16        # sequences 1..16 hold candidates; 0 holds the essay


def joined(context: str, candidate: str) -> str:
    """How a candidate follows its context: after a space, or directly after a line break."""
    return candidate.strip() if not context or context[-1].isspace() else " " + candidate.strip()


def mean_log_likelihood(first: np.ndarray, rows: np.ndarray, tokens: list[int]) -> float:
    """`first`: log-probabilities before the first token; `rows[j]`: after token j."""
    total = float(first[tokens[0]]) + sum(float(rows[j - 1][tokens[j]]) for j in range(1, len(tokens)))
    return total / len(tokens)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class LlamaFluencyJudge:
    name = "smollm2 (llama.cpp)"

    def __init__(self, chat, threads: int | None = None):
        import llama_cpp

        self.cpp = llama_cpp
        self.chat = chat  # a LlamaChatModel: the planner writes with it, this judge shares its weights
        threads = threads or int(os.environ.get("MLBOT_TORCH_THREADS") or os.cpu_count() or 2)
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = LLAMA_CONTEXT_TOKENS
        params.n_batch = params.n_ubatch = LLAMA_BATCH_TOKENS
        params.n_seq_max = MAX_CANDIDATES + 1
        params.kv_unified = True  # else each sequence would get only n_ctx / n_seq_max cells
        params.n_threads = params.n_threads_batch = threads
        self.ctx = llama_cpp.llama_init_from_model(chat.llm.model, params)
        if not self.ctx:
            raise RuntimeError("llama.cpp could not make a context for the essay judge")
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.batch = llama_cpp.llama_batch_init(LLAMA_BATCH_TOKENS, 0, 1)
        self.vocab = chat.llm.n_vocab()
        self.held: list[int] = []       # the tokens of sequence 0
        self.pending: list[list[int]] = []  # last call's candidates, sequence j + 1 each
        self._lock = threading.Lock()
        self.tokens_read = 0

    def __del__(self):  # the context and batch are C memory
        try:
            self.cpp.llama_batch_free(self.batch)
            self.cpp.llama_free(self.ctx)
        except Exception:  # interpreter shutdown: nothing left to free into
            pass

    # ----- llama.cpp batches ----------------------------------------------------------------
    def _decode(self, items: list[tuple[int, int, int, bool]]) -> dict[int, np.ndarray]:
        """Run (token, position, sequence, want logits) items in batches; the log-probabilities
        after each item that wanted them, by the item's index."""
        out: dict[int, np.ndarray] = {}
        batch = self.batch
        for start in range(0, len(items), LLAMA_BATCH_TOKENS):
            chunk = items[start: start + LLAMA_BATCH_TOKENS]
            for i, (token, position, sequence, wanted) in enumerate(chunk):
                batch.token[i], batch.pos[i] = token, position
                batch.n_seq_id[i], batch.seq_id[i][0] = 1, sequence
                batch.logits[i] = wanted
            batch.n_tokens = len(chunk)
            if self.cpp.llama_decode(self.ctx, batch) != 0:
                raise RuntimeError("llama.cpp could not run the essay judge's batch")
            self.tokens_read += len(chunk)
            for i, item in enumerate(chunk):
                if item[3]:
                    pointer = self.cpp.llama_get_logits_ith(self.ctx, i)
                    logits = np.ctypeslib.as_array(pointer, shape=(self.vocab,))
                    out[start + i] = log_softmax(logits.astype(np.float32))
        return out

    def _take_kept_candidate(self, ids: list[int]) -> None:
        """If the context now continues with one of last call's candidates, that candidate's
        cells become sequence 0's: the kept sentence is not run a second time."""
        best, reach = None, common_prefix(self.held, ids)
        if reach == len(self.held):  # the candidates sat right after the held tokens
            for j, tokens in enumerate(self.pending):
                extended = reach + common_prefix(tokens, ids[reach:])
                if extended > reach and (best is None or extended > best[1]):
                    best = (j, extended)
        if best is not None:
            j, extended = best
            self.cpp.llama_memory_seq_cp(self.memory, j + 1, 0, len(self.held), extended)
            self.held = ids[:extended]
        for j in range(len(self.pending)):
            self.cpp.llama_memory_seq_rm(self.memory, j + 1, -1, -1)
        self.pending = []

    def _read_context(self, ids: list[int]) -> np.ndarray:
        """Make sequence 0 hold `ids`; the log-probabilities after its last token."""
        keep = min(common_prefix(self.held, ids), len(ids) - 1)  # the last token runs again for its logits
        self.cpp.llama_memory_seq_rm(self.memory, 0, keep, -1)
        items = [(t, keep + i, 0, keep + i == len(ids) - 1) for i, t in enumerate(ids[keep:])]
        self.held = list(ids)
        return self._decode(items)[len(items) - 1]

    def mean_log_likelihoods(self, context: str, candidates: Sequence[str]) -> list[float]:
        if not candidates:
            return []
        if len(candidates) > MAX_CANDIDATES:
            raise ValueError(f"the judge reads at most {MAX_CANDIDATES} candidates at once")
        context = context if context.strip() else "Essay.\n\n"
        with self._lock:
            ids = self.chat.encode_text(context)
            rows = [self.chat.encode_text(joined(context, c)) or [self.chat.llm.token_eos()] for c in candidates]
            room = LLAMA_CONTEXT_TOKENS - sum(len(r) for r in rows) - 8
            if len(ids) > room:  # a very long essay: keep its end (the cache starts again)
                ids = ids[-room:]
                self.held, self.pending = [], []
                self.cpp.llama_memory_clear(self.memory, True)
            self._take_kept_candidate(ids)
            first = self._read_context(ids)
            base = len(ids)
            items, owners = [], []
            for j, row in enumerate(rows):
                self.cpp.llama_memory_seq_cp(self.memory, 0, j + 1, -1, -1)  # sequence j + 1 sees the essay
                for i, token in enumerate(row):  # no logits needed after a candidate's last token
                    items.append((token, base + i, j + 1, i < len(row) - 1))
                    owners.append((j, i))
            after = self._decode(items)
            self.pending = rows
            per_row: list[list[np.ndarray]] = [[] for _ in rows]
            for index, (j, i) in enumerate(owners):
                if index in after:
                    per_row[j].append(after[index])
            return [mean_log_likelihood(first, per_row[j], row) for j, row in enumerate(rows)]


class TorchFluencyJudge:
    """Mean log-likelihood per token of a candidate after a context, under SmolLM2 on transformers."""

    name = "smollm2 (transformers)"

    def __init__(self, path: Path, chat=None):
        from ml.friend.torch_engine import TorchChatModel

        self.chat = chat or TorchChatModel(path)
        self.model = self.chat.model
        self.tokenizer = self.chat.tokenizer
        self._lock = threading.Lock()
        self.tokens_read = 0  # all tokens this judge has run through SmolLM2 (bench/essay.py reports them)

    def mean_log_likelihoods(self, context: str, candidates: Sequence[str]) -> list[float]:
        """One pass over the context's tail, then the candidates side by side on its key/values
        (right-padded: padding after a candidate never changes what came before it)."""
        import torch

        if not candidates:
            return []
        context = context if context.strip() else "Essay.\n\n"
        context_ids = self.chat.encode_text(context)[-CONTEXT_TAIL_TOKENS:]
        rows = [self.chat.encode_text(joined(context, c)) for c in candidates]
        rows = [r or [self.tokenizer.eos_token_id] for r in rows]
        width = max(len(r) for r in rows)
        pad = self.tokenizer.eos_token_id
        with self._lock, torch.inference_mode():
            self.tokens_read += len(context_ids) + len(rows) * width
            out = self.model(input_ids=torch.tensor([context_ids]), use_cache=True)
            cache = out.past_key_values
            first = out.logits[0, -1].float().log_softmax(-1).numpy()
            cache.batch_repeat_interleave(len(rows))
            batch = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
            log_probs = self.model(input_ids=batch, past_key_values=cache, use_cache=True).logits.float()
            log_probs = log_probs.log_softmax(-1).numpy()
        return [mean_log_likelihood(first, log_probs[i], row) for i, row in enumerate(rows)]

    def perplexity(self, text: str, window: int = 512) -> float:
        """SmolLM2's perplexity of a text (windows of `window` tokens, each read from scratch)."""
        import torch

        ids = self.chat.encode_text(text.strip())
        total, count = 0.0, 0
        for start in range(0, max(1, len(ids) - 1), window):
            chunk = ids[start: start + window + 1]
            if len(chunk) < 2:
                break
            with self._lock, torch.inference_mode():
                logits = self.model(input_ids=torch.tensor([chunk])).logits[0, :-1].float()
                total += float(torch.nn.functional.cross_entropy(logits, torch.tensor(chunk[1:]), reduction="sum"))
            count += len(chunk) - 1
        return float(np.exp(total / max(1, count)))


def load_fluency_judge(path: Path):
    """The judge on the engine the friend would use: llama.cpp when it is installed and the
    friend model has its GGUF file, else transformers."""
    from ml.friend.engine import load_chat_model
    from ml.friend.llama_engine import LlamaChatModel

    chat = load_chat_model(path)
    if isinstance(chat, LlamaChatModel):
        try:
            return LlamaFluencyJudge(chat)
        except Exception:  # an older llama.cpp without unified key/values: the slower reader
            log.exception("essay judge: llama.cpp context failed; reading with transformers")
            return TorchFluencyJudge(path)
    return TorchFluencyJudge(path, chat)
