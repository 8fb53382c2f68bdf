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
from ml.runtime import fast_bf16
from ml.essay.ngram import KneserNey, bits_per_character
from ml.essay.tokenizer import EssayTokenizer


@torch.inference_mode()
def lstm_log_probabilities(model: EssayLSTM, held_out: np.ndarray, lengths: np.ndarray, window: int = 256,
                           bf16: bool | None = None) -> np.ndarray:
    """Log-probability of every held-out token after the first of its document, each document
    read from a fresh state. Documents are read side by side, longest first, and a document
    leaves the batch when it ends, so little time goes to padding. `bf16` None: where the CPU
    has native bf16 (oneDNN has no bf16 LSTM on a CPU with AVX2 alone: it raises)."""
    if bf16 is None:
        bf16 = fast_bf16()
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


def bpc_and_perplexity(log_probs: np.ndarray, characters: int) -> dict[str, float]:
    """Bits per character and perplexity per token of natural-log token probabilities."""
    return {"bpc": round(bits_per_character(log_probs, characters), 4),
            "perplexity": round(float(math.exp(-log_probs.mean())), 2)}


def evaluate_streams(model: EssayLSTM, tokenizer: EssayTokenizer, streams, config,
                     kneser_ney_log_probs: dict[int, np.ndarray] | None = None) -> dict[str, Any]:
    """Held-out figures of the LSTM and the baselines. `kneser_ney_log_probs`, when given, is
    filled with each token order's held-out log-probabilities (the neural cache compares with them)."""
    started = time.time()
    keep = _first_tokens_mask(streams.held_out_lengths)
    chars = streams.held_out_characters
    lstm = lstm_log_probabilities(model, streams.held_out, streams.held_out_lengths, bf16=config.bf16)
    tokens = len(lstm)
    metrics: dict[str, Any] = {
        **bpc_and_perplexity(lstm, chars),
        "tokens": tokens,
        "characters": chars,
    }
    baselines = {}
    for order in config.kn_orders:
        kn = KneserNey(tokenizer.vocab_size, order).fit(streams.train)
        lp = kn.log_probabilities(streams.held_out)[keep]
        if kneser_ney_log_probs is not None:
            kneser_ney_log_probs[order] = lp
        baselines[f"kneser_ney_tokens_{order}"] = bpc_and_perplexity(lp, chars)
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
    kneser_ney: dict[int, np.ndarray] = {}
    metrics = evaluate_streams(published.model, published.tokenizer, streams, config, kneser_ney)
    # Essays are written by the int8 copy (store.generation_model): measure that one too.
    int8 = bpc_and_perplexity(lstm_log_probabilities(published.generation_model, streams.held_out,
                                                     streams.held_out_lengths, bf16=False),
                              streams.held_out_characters)
    if 5 not in kneser_ney:  # quick models are measured against orders 2-3 only
        kneser_ney[5] = KneserNey(published.tokenizer.vocab_size, 5).fit(streams.train).log_probabilities(
            streams.held_out)[_first_tokens_mask(streams.held_out_lengths)]
    cache = neural_cache_figures(published.model, streams, kneser_ney[5])
    return {"perplexity": metrics["perplexity"], "bpc": metrics["bpc"], "baseline_bpc": metrics["baseline_bpc"],
            "neural_cache": cache, "curve": published.ref.card.get("metrics", {}).get("curve"),
            "tokens": metrics["tokens"], "model_version": published.ref.version, "style": style,
            "int8_bpc": int8["bpc"], "int8_perplexity": int8["perplexity"],
            **{k: metrics[k] for k in ("baseline", "bpc_reduction", "baselines", "characters")}}


# ----- neural cache (Grave et al., 2017) -----------------------------------------------------
CACHE_SIZE = 2000
CACHE_THETAS = (0.05, 0.1, 0.2)
CACHE_LAMBDAS = (0.05, 0.1, 0.15, 0.2, 0.3)


@torch.inference_mode()
def _document_features(model: EssayLSTM, tokens: np.ndarray, window: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """(LSTM outputs [L-1, hidden] at the positions that predict tokens 1..L-1, their log-probabilities)."""
    x = torch.from_numpy(tokens.astype(np.int64)).view(1, -1)
    features, log_probs, state = [], [], None
    for start in range(0, x.shape[1] - 1, window):
        inputs = x[:, start: min(start + window, x.shape[1] - 1)]
        targets = x[:, start + 1: start + 1 + inputs.shape[1]]
        out, state = model.features(inputs, state)
        logits = model.decode(out)
        log_probs.append(-F.cross_entropy(logits[0].float(), targets[0], reduction="none"))
        features.append(out[0].float())
    return torch.cat(features), torch.cat(log_probs)


@torch.inference_mode()
def _cache_probabilities(features: torch.Tensor, targets: torch.Tensor, theta: float, size: int = CACHE_SIZE,
                         chunk: int = 512) -> torch.Tensor:
    """P_cache(target at t) = sum over the last `size` positions i < t whose next token is that
    target, of softmax(theta * h_t . h_i). 0 where there is nothing in the cache yet."""
    n = len(targets)
    out = torch.zeros(n)
    for c0 in range(0, n, chunk):
        c1 = min(n, c0 + chunk)
        k0 = max(0, c0 - size)
        scores = theta * features[c0:c1] @ features[k0:c1].T          # [C, K]
        t = torch.arange(c0, c1).view(-1, 1)
        i = torch.arange(k0, c1).view(1, -1)
        usable = (i < t) & (i >= t - size)
        scores = scores.masked_fill(~usable, float("-inf"))
        weights = torch.softmax(scores, dim=1).nan_to_num(0.0)
        same = targets[k0:c1].view(1, -1) == targets[c0:c1].view(-1, 1)
        out[c0:c1] = (weights * same).sum(1)
    return out


def neural_cache_figures(model: EssayLSTM, streams, kn_log_probs: np.ndarray) -> dict[str, Any]:
    """Held-out bpc with a neural cache on the LSTM. theta and lambda are chosen on half of the
    held-out documents (every other one) and reported on the other half, next to the plain
    LSTM and Kneser-Ney on that same half, so the choice never sees the text it is scored on."""
    documents = np.split(streams.held_out, np.cumsum(streams.held_out_lengths)[:-1])
    if len(documents) < 2:
        return {"skipped": "the neural cache is tuned on half of the held-out documents and reported on the "
                           "other half: this corpus holds out only one"}
    per_doc = []
    for tokens in documents:
        features, log_probs = _document_features(model, tokens)
        targets = torch.from_numpy(tokens[1:].astype(np.int64))
        caches = {theta: _cache_probabilities(features, targets, theta) for theta in CACHE_THETAS}
        per_doc.append((log_probs.exp(), caches, len(tokens)))
    kn_docs = np.split(kn_log_probs, np.cumsum(streams.held_out_lengths - 1)[:-1])
    halves = {"tune": range(0, len(documents), 2), "report": range(1, len(documents), 2)}

    def bits(doc_ids, theta=None, lam=0.0) -> float:
        total = 0.0
        for d in doc_ids:
            p_model, caches, _ = per_doc[d]
            p = p_model if theta is None else (1 - lam) * p_model + lam * caches[theta]
            total += float(-torch.log(p.clamp(min=1e-30)).sum()) / math.log(2)
        return total

    grid = {(theta, lam): bits(halves["tune"], theta, lam) for theta in CACHE_THETAS for lam in CACHE_LAMBDAS}
    theta, lam = min(grid, key=grid.get)
    report = list(halves["report"])
    # The streams keep characters for the whole split only: the half's are estimated by its
    # share of tokens. The reductions divide all three models by the same number, so they are exact.
    chars = streams.held_out_characters * sum(per_doc[d][2] for d in report) / max(1, int(streams.held_out_lengths.sum()))
    kn_bits = sum(float(-kn_docs[d].sum()) for d in report) / math.log(2)
    plain, cached = bits(report) / chars, bits(report, theta, lam) / chars
    return {"theta": theta, "lambda": lam, "size": CACHE_SIZE, "tuned_on": "even-numbered held-out documents",
            "characters": "estimated from the half's share of tokens",
            "reported_on": f"the other {len(report)} held-out documents",
            "bpc": round(cached, 4), "plain_bpc": round(plain, 4), "kneser_ney_bpc": round(kn_bits / chars, 4),
            "bpc_reduction": round(1 - cached / (kn_bits / chars), 4),
            "plain_bpc_reduction": round(1 - plain / (kn_bits / chars), 4)}
