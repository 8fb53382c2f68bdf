"""`mlbot train tracks`: prepare the phrases, train the GAN (WGAN-GP), evaluate, publish.

Deterministic for a seed: every step draws its batches, latents and interpolation points from
a generator seeded by (seed, step), so a run resumed from a checkpoint (written every
`checkpoint_every` generator steps) ends with the same weights as an uninterrupted one.
"""
from __future__ import annotations

import copy
import logging
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ml.checkpoint import Checkpoint
from ml.home import ModelHome, ModelRef, content_version, library_versions, pack_weights
from ml.progress import Progress
from ml.tracks import PROGRESS_WEIGHTS, SERVICE
from ml.tracks.data import DEFAULT_MAX_WORKS, Rolls, prepare_rolls
from ml.tracks.gan import (
    GENERATOR_FILE,
    Critic,
    Generator,
    generator_options,
    gradient_penalty,
    rolls_to_tensor,
)

log = logging.getLogger(__name__)


@dataclass
class TracksTrainConfig:
    max_works: int = DEFAULT_MAX_WORKS
    steps: int = 3600  # generator updates: about 17 minutes on 2 cores
    critic_steps: int = 2  # critic updates per generator update
    batch_size: int = 32
    generator_lr: float = 2e-4
    critic_lr: float = 2e-4
    ema_decay: float = 0.998  # the published generator is an average of the last ~500 steps
    gp_weight: float = 10.0
    z_phrase: int = 64
    z_bar: int = 32
    generator_width: int = 128
    critic_width: int = 64
    classifier_epochs: int = 4
    seed: int = 0
    checkpoint_every: int = 50

    @classmethod
    def quick(cls) -> "TracksTrainConfig":
        """Seconds: a few works, a small GAN, a few steps (tests, smoke checks)."""
        return cls(max_works=6, steps=12, critic_steps=2, batch_size=16, z_phrase=8, z_bar=4,
                   generator_width=16, critic_width=8, classifier_epochs=1, checkpoint_every=5)


@torch.no_grad()
def update_average(average: Generator, generator: Generator, decay: float, step: int) -> None:
    """Exponential moving average of the generator's weights (buffers are copied): GAN training
    circles around an equilibrium, and the average sits nearer to it than the last iterate.
    The decay ramps up over the first steps so the average does not start from noise."""
    decay = min(decay, (1 + step) / (10 + step))
    for avg, new in zip(average.parameters(), generator.parameters()):
        avg.lerp_(new, 1 - decay)
    for avg, new in zip(average.buffers(), generator.buffers()):
        avg.copy_(new)


def _step_generator(config: TracksTrainConfig, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(config.seed * 1_000_003 + step)


def train_gan_step(generator: Generator, critic: Critic, g_opt, c_opt, x: torch.Tensor, c: torch.Tensor,
                   config: TracksTrainConfig, step: int) -> dict[str, float]:
    """One generator update after `critic_steps` critic updates; returns the losses."""
    gen = _step_generator(config, step)
    n, size = config.batch_size, generator.latent_size
    generator.train()
    critic.train()
    for _ in range(config.critic_steps):
        idx = torch.randint(len(x), (n,), generator=gen)
        real, label = x[idx], c[idx]
        with torch.no_grad():
            fake = generator(torch.randn(n, size, generator=gen), label, gen)
        distance = critic(real, label).mean() - critic(fake, label).mean()
        penalty = gradient_penalty(critic, real, fake, label, torch.rand(n, generator=gen))
        c_opt.zero_grad(set_to_none=True)
        (config.gp_weight * penalty - distance).backward()
        c_opt.step()
    label = c[torch.randint(len(x), (n,), generator=gen)]
    g_loss = -critic(generator(torch.randn(n, size, generator=gen), label, gen), label).mean()
    g_opt.zero_grad(set_to_none=True)
    g_loss.backward()
    g_opt.step()
    return {"distance": distance.item(), "penalty": penalty.item(), "generator": g_loss.item()}


@torch.no_grad()
def recalibrate_batch_norm(generator: Generator, harmony: torch.Tensor, seed: int, batches: int = 8,
                           batch: int = 512) -> None:
    """Replace BatchNorm's running averages (biased towards the last steps) by exact averages
    over fresh batches, so the generator in eval mode makes what the critic saw in training."""
    norms = [m for m in generator.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average
    gen = torch.Generator().manual_seed(seed)
    generator.train()
    for _ in range(batches):
        label = harmony[torch.randint(len(harmony), (batch,), generator=gen)]
        generator(torch.randn(batch, generator.latent_size, generator=gen), label, gen)
    for norm in norms:
        norm.momentum = 0.1
    generator.eval()


def _prepare(home: ModelHome, config: TracksTrainConfig, progress: Progress) -> Rolls:
    progress.stage("preparing phrases", 1)

    def hook(done: int, total: int) -> None:
        progress.raise_if_cancelled()
        if done == 0:
            progress.stage("preparing phrases", total)
        else:
            progress.advance()

    rolls = prepare_rolls(home.service_dir(SERVICE) / "data", max_works=config.max_works, on_progress=hook)
    progress.stage("preparing phrases", 1, done=1)
    return rolls


def train_tracks(home: ModelHome, config: TracksTrainConfig | None = None,
                 progress: Progress | None = None) -> ModelRef:
    from ml.tracks.evaluate import evaluate_generator

    config = config or TracksTrainConfig()
    progress = progress or Progress(SERVICE, PROGRESS_WEIGHTS)
    started = time.time()
    torch.manual_seed(config.seed)

    rolls = _prepare(home, config, progress)
    prepared = time.time()
    train = rolls.train()
    x = rolls_to_tensor(train)
    c = torch.from_numpy(rolls.has_harmony[~rolls.held_out].astype(np.float32))

    generator = Generator(config.z_phrase, config.z_bar, config.generator_width)
    average = copy.deepcopy(generator)
    critic = Critic(config.critic_width)
    betas = (0.5, 0.9)  # WGAN-GP's Adam settings
    g_opt = torch.optim.Adam(generator.parameters(), lr=config.generator_lr, betas=betas)
    c_opt = torch.optim.Adam(critic.parameters(), lr=config.critic_lr, betas=betas)
    checkpoint = Checkpoint(home, SERVICE, asdict(config))
    first = checkpoint.resume(generator=generator, average=average, critic=critic, g_opt=g_opt, c_opt=c_opt)

    progress.stage("training", config.steps, done=first)
    history = []
    for step in range(first, config.steps):
        progress.raise_if_cancelled()
        losses = train_gan_step(generator, critic, g_opt, c_opt, x, c, config, step)
        update_average(average, generator, config.ema_decay, step)
        if step % 10 == 0 or step == config.steps - 1:
            history.append({"step": step, **{k: round(v, 4) for k, v in losses.items()}})
        progress.advance(distance=f"{losses['distance']:.2f}", penalty=f"{losses['penalty']:.3f}")
        if (step + 1) % config.checkpoint_every == 0 and step + 1 < config.steps:
            checkpoint.save(step + 1, generator=generator, average=average, critic=critic, g_opt=g_opt,
                            c_opt=c_opt)
    generator = average
    recalibrate_batch_norm(generator, c, seed=config.seed * 1_000_003 + config.steps)
    trained = time.time()

    progress.stage("evaluating", 1 + config.classifier_epochs)
    evaluation = evaluate_generator(generator, rolls, seed=config.seed, classifier_epochs=config.classifier_epochs,
                                    progress=progress.advance)
    progress.close()
    evaluated = time.time()

    weights = pack_weights(generator)
    version = content_version(SERVICE, weights)
    card = {
        "data": {
            "source": "music21's bundled corpus: Bach chorales, Essen folk songs, O'Neill's 1850 tunes",
            "phrases_train": int(len(train)),
            "phrases_held_out": int(rolls.held_out.sum()),
            "phrases_with_harmony": int(c.sum().item()),
            "works": len(rolls.works),
            "stats": rolls.stats,
            "config": rolls.config,
        },
        # flat figures (what /about lists); the side-by-side tables are under "evaluation"
        "metrics": {
            "classifier_accuracy": evaluation["classifier_accuracy"],
            "within_20_percent": f"{sum(v is True for v in evaluation['within_20_percent'].values())}"
                                 f"/{len(evaluation['within_20_percent'])}",
        },
        "evaluation": evaluation,
        "generator": generator_options(generator),
        "training": {
            "seconds": round(evaluated - started, 1),
            "seconds_by_stage": {"prepare": round(prepared - started, 1), "train": round(trained - prepared, 1),
                                 "evaluate": round(evaluated - trained, 1)},
            "resumed_at_step": first,
            "config": asdict(config), "seed": config.seed, "objective": "WGAN-GP",
            "losses": history[-20:],
            "torch_threads": torch.get_num_threads(),
        },
        "libraries": library_versions("torch", "numpy", "music21", "pretty_midi", "pydub"),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    ref = home.publish(SERVICE, version, {GENERATOR_FILE: weights}, card)
    checkpoint.discard()
    log.info("tracks: published %s (classifier accuracy %.3f)", version, evaluation["classifier_accuracy"])
    return ref
