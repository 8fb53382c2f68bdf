"""`mlbot eval essay --json`: held-out perplexity and bits per character, next to Kneser-Ney.

Bits per character = all the bits a model spends on a held-out document's tokens (role
tokens included) divided by the document's characters, so models with different tokenizers
compare. Baselines, fitted on the same training tokens:
- Kneser-Ney over the LSTM's own subword tokens, orders 2..5; the best order is the headline
  `baseline_bpc` (picking the order on held-out data only flatters the baseline);
- Kneser-Ney over characters (bytes), as a second reference.
"""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ml.essay.model import EssayLSTM
from ml.essay.ngram import KneserNey, bits_per_character
from ml.essay.tokenizer import EssayTokenizer


@torch.inference_mode()
def lstm_log_probabilities(model: EssayLSTM, held_out: np.ndarray, lengths: np.ndarray, window: int = 256,
                           bf16: bool = True) -> np.ndarray:
    """Log-probability of every held-out token after the first of its document, each document
    read from a fresh state. Documents are read side by side, longest first, and a document
    leaves the batch when it ends, so little time goes to padding."""
    model.eval()
    documents = np.split(held_out.astype(np.int64), np.cumsum(lengths)[:-1])
    order = sorted(range(len(documents)), key=lambda i: -len(documents[i]))
    longest = len(documents[order[0]])
    tokens = torch.zeros(len(documents), longest, dtype=torch.long)
    for row, i in enumerate(order):
        tokens[row, : len(documents[i])] = torch.from_numpy(documents[i])
    sizes = np.array([len(documents[i]) for i in order])
    out = torch.zeros(len(documents), longest)
    h, c = model.initial_state(len(documents))
    for start in range(0, longest - 1, window):
        active = int((sizes > start + 1).sum())  # rows are sorted, so the active ones come first
        y = tokens[:active, start + 1 : start + 1 + window]
        x = tokens[:active, start : start + y.shape[1]]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits, (h_new, c_new) = model(x, (h[:, :active], c[:, :active]))
        h, c = h_new.float(), c_new.float()
        out[:active, start + 1 : start + 1 + y.shape[1]] = -F.cross_entropy(
            logits.float().transpose(1, 2), y, reduction="none")
    return np.concatenate([out[row, 1 : sizes[row]].numpy() for row in np.argsort(order)]).astype(np.float64)


def _first_tokens_mask(lengths: np.ndarray) -> np.ndarray:
    """True for every token except the first of each document (no model predicts those)."""
    keep = np.ones(int(lengths.sum()), dtype=bool)
    keep[np.concatenate([[0], np.cumsum(lengths)[:-1]])] = False
    return keep


def _decode_bytes(tokenizer: EssayTokenizer, tokens: np.ndarray) -> np.ndarray:
    text = tokenizer.decode(tokens.tolist())
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int64)


def _figures(log_probs: np.ndarray, characters: int) -> dict[str, float]:
    """Bits per character and perplexity per token of natural-log token probabilities."""
    return {"bpc": round(bits_per_character(log_probs, characters), 4),
            "perplexity": round(float(math.exp(-log_probs.mean())), 2)}


def evaluate_streams(model: EssayLSTM, tokenizer: EssayTokenizer, streams, config) -> dict[str, Any]:
    started = time.time()
    keep = _first_tokens_mask(streams.held_out_lengths)
    chars = streams.held_out_characters
    lstm = lstm_log_probabilities(model, streams.held_out, streams.held_out_lengths, bf16=config.bf16)
    tokens = len(lstm)
    metrics: dict[str, Any] = {
        **_figures(lstm, chars),
        "tokens": tokens,
        "characters": chars,
    }
    baselines = {}
    for order in config.kn_orders:
        kn = KneserNey(tokenizer.vocab_size, order).fit(streams.train)
        lp = kn.log_probabilities(streams.held_out)[keep]
        baselines[f"kneser_ney_tokens_{order}"] = _figures(lp, chars)
    best = min(baselines, key=lambda name: baselines[name]["bpc"])
    # Characters: the same documents as bytes; each document's text decoded from its tokens.
    train_bytes = _decode_bytes(tokenizer, streams.train)
    held_bytes = _decode_bytes(tokenizer, streams.held_out)
    char_kn = KneserNey(256, config.char_kn_order).fit(train_bytes)
    baselines[f"kneser_ney_characters_{config.char_kn_order}"] = {
        "bpc": round(bits_per_character(char_kn.log_probabilities(held_bytes), len(held_bytes)), 4)}
    metrics["baseline_bpc"] = baselines[best]["bpc"]
    metrics["baseline"] = best
    metrics["bpc_reduction"] = round(1 - metrics["bpc"] / metrics["baseline_bpc"], 4)
    metrics["baselines"] = baselines
    metrics["eval_seconds"] = round(time.time() - started, 1)
    return metrics


def evaluate_essay(home, style: str | None = None) -> dict[str, Any]:
    """Re-measure the published model for a style from the token streams saved with it."""
    from ml.essay import DEFAULT_STYLE
    from ml.essay.store import load_published
    from ml.essay.train import EssayTrainConfig

    style = style or DEFAULT_STYLE
    published = load_published(home, style)
    config = EssayTrainConfig(**{k: v for k, v in published.ref.card["training"]["config"].items()
                                 if k in EssayTrainConfig.__dataclass_fields__})
    config.kn_orders = tuple(config.kn_orders)
    streams = published.streams()
    metrics = evaluate_streams(published.model, published.tokenizer, streams, config)
    # Essays are written by the int8 copy (store.generation_model): measure that one too.
    int8 = _figures(lstm_log_probabilities(published.generation_model, streams.held_out, streams.held_out_lengths,
                                           bf16=False), streams.held_out_characters)
    return {"perplexity": metrics["perplexity"], "bpc": metrics["bpc"], "baseline_bpc": metrics["baseline_bpc"],
            "tokens": metrics["tokens"], "model_version": published.ref.version, "style": style,
            "int8_bpc": int8["bpc"], "int8_perplexity": int8["perplexity"],
            **{k: metrics[k] for k in ("baseline", "bpc_reduction", "baselines", "characters")}}
