"""`mlbot eval tracks --json`: generated phrases next to the training data and a random baseline.

Figures (ml/tracks/pianoroll.py) are per track, flattened as "<track>_<metric>" (e.g.
"melody_in_scale_rate"); a harmony figure other than the empty-beat rate only counts phrases
where the harmony plays. Three sets:
  data       the training phrases (chorales with harmony, folk tunes without);
  generated  as many phrases from the generator, each asked for harmony exactly when the
             training phrase of the same index has it, so both sets mix the two kinds alike;
  random     uniformly random pitches at the data's density: per track, as many notes per
             phrase (Poisson) with the data's note lengths, starting anywhere, the melody cut
             where its next note starts so that it stays one line.
"within_20_percent" says, per figure, whether the generated one is within 20% of the data's
(a figure of 0 in the data must be 0). "with_harmony" repeats the comparison for what the
composer serves: phrases asked for harmony next to the chorales.

classifier_accuracy: a fresh network with the critic's architecture, trained to tell the
training phrases from the generated set, then scored on the held-out works' phrases against
as many freshly generated ones (balanced, so 50% means it cannot tell them apart).
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from ml.errors import ModelNotReady
from ml.home import ModelHome
from ml.tracks import HARMONY, MELODY, N_PITCHES, SERVICE, STEPS, TRACKS
from ml.tracks.gan import Critic, Generator, rolls_to_tensor, to_rolls
from ml.tracks.pianoroll import flat_metrics, track_notes, write_notes

TOLERANCE = 0.2
MIN_HELD_OUT = 20  # fewer held-out phrases (tiny runs): score the classifier on a training slice


def within(generated: dict, data: dict, tolerance: float = TOLERANCE) -> dict[str, bool | None]:
    out = {}
    for key, real in data.items():
        made = generated.get(key)
        out[key] = None if real is None or made is None else bool(abs(made - real) <= tolerance * abs(real) + 1e-9)
    return out


@torch.inference_mode()
def generate_rolls(generator: Generator, harmony: np.ndarray, seed: int, batch: int = 512) -> np.ndarray:
    """uint8 rolls, one per entry of harmony (bool), from latents drawn with the seed."""
    generator.eval()
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(len(harmony), generator.latent_size, generator=gen)
    c = torch.from_numpy(np.asarray(harmony, dtype=np.float32))
    return np.concatenate([to_rolls(generator(z[i : i + batch], c[i : i + batch], gen)) for i in range(0, len(z), batch)]
                          or [np.zeros((0, len(TRACKS), STEPS, N_PITCHES), np.uint8)])


def random_rolls(reference: np.ndarray, harmony: np.ndarray, seed: int) -> np.ndarray:
    """Random notes at the reference's density (see the module docstring), one per harmony entry."""
    rng = np.random.default_rng(seed)
    out = np.zeros((len(harmony), len(TRACKS), STEPS, N_PITCHES), dtype=np.uint8)
    for track in (MELODY, HARMONY):
        lengths, counts = [], []
        for roll in reference[:, track]:
            start, end, _ = track_notes(roll)
            if len(start):
                counts.append(len(start))
                lengths.extend(end - start)
        if not counts:
            continue
        lengths = np.asarray(lengths)
        for i in range(len(harmony)):
            if track == HARMONY and not harmony[i]:
                continue
            k = max(1, rng.poisson(np.mean(counts)))
            start = np.sort(rng.integers(0, STEPS, k))
            end = start + rng.choice(lengths, k)
            if track == MELODY:
                start = np.unique(start)
                end = np.minimum(start + rng.choice(lengths, len(start)), np.r_[start[1:], STEPS])
            pitch = rng.integers(0, N_PITCHES, len(start))
            write_notes(out[i, track], np.stack([start, end, pitch], 1))
    return out


def classifier_accuracy(real_train: np.ndarray, real_harmony: np.ndarray, fake_train: np.ndarray,
                        fake_harmony: np.ndarray, real_test: np.ndarray, real_test_harmony: np.ndarray,
                        fake_test: np.ndarray, fake_test_harmony: np.ndarray, seed: int, epochs: int = 4,
                        batch: int = 64, width: int = 32, on_epoch: Callable[[], None] | None = None) -> dict:
    """Train a real-vs-generated classifier and score it on the test phrases (balanced)."""
    torch.manual_seed(seed)
    model = Critic(width)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.cat([rolls_to_tensor(real_train), rolls_to_tensor(fake_train)])
    c = torch.from_numpy(np.r_[real_harmony, fake_harmony].astype(np.float32))
    y = torch.cat([torch.ones(len(real_train)), torch.zeros(len(fake_train))])
    # the smaller side is sampled as often as the larger one, so neither answer is free
    weight = torch.cat([torch.full((len(real_train),), 0.5 / max(1, len(real_train))),
                        torch.full((len(fake_train),), 0.5 / max(1, len(fake_train)))])
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.multinomial(weight, len(x), replacement=True, generator=gen)
        for i in range(0, len(order), batch):
            idx = order[i : i + batch]
            loss = F.binary_cross_entropy_with_logits(model(x[idx], c[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if on_epoch:
            on_epoch()
    model.eval()
    with torch.inference_mode():
        real_score = model(rolls_to_tensor(real_test), torch.from_numpy(real_test_harmony.astype(np.float32)))
        fake_score = model(rolls_to_tensor(fake_test), torch.from_numpy(fake_test_harmony.astype(np.float32)))
    real_right = float((real_score > 0).float().mean())
    fake_right = float((fake_score <= 0).float().mean())
    return {"accuracy": round((real_right + fake_right) / 2, 4), "real_recall": round(real_right, 4),
            "generated_recall": round(fake_right, 4), "test_phrases": int(len(real_test) + len(fake_test))}


def evaluate_generator(generator: Generator, rolls, seed: int = 0, classifier_epochs: int = 4,
                       progress: Callable[[], None] | None = None) -> dict[str, Any]:
    """Every figure of the module docstring for a generator and the prepared phrases."""
    started = time.perf_counter()
    train, harmony = rolls.train(), rolls.has_harmony[~rolls.held_out]
    test, test_harmony = rolls.test(), rolls.has_harmony[rolls.held_out]
    classifier_test = "held-out works"
    if len(test) < MIN_HELD_OUT:  # tiny runs: every tenth training phrase, kept out of training
        keep = np.arange(len(train)) % 10 != 9
        test, test_harmony = train[~keep], harmony[~keep]
        classifier_train, classifier_harmony = train[keep], harmony[keep]
        classifier_test = "every tenth training phrase (too few held-out phrases)"
    else:
        classifier_train, classifier_harmony = train, harmony

    generated = generate_rolls(generator, harmony, seed=seed * 1_000_003 + 1)
    fresh = generate_rolls(generator, test_harmony, seed=seed * 1_000_003 + 2)
    baseline = random_rolls(train, harmony, seed=seed * 1_000_003 + 3)
    figures = {"generated": flat_metrics(generated), "data": flat_metrics(train), "random": flat_metrics(baseline)}
    served = {"generated": flat_metrics(generated[harmony]), "data": flat_metrics(train[harmony])}
    served["within_20_percent"] = within(served["generated"], served["data"])
    if progress:
        progress()

    classifier = classifier_accuracy(
        classifier_train, classifier_harmony, generated[: len(classifier_train)],
        harmony[: len(classifier_train)], test, test_harmony, fresh, test_harmony,
        seed=seed * 1_000_003 + 4, epochs=classifier_epochs, on_epoch=progress)
    within_20 = within(figures["generated"], figures["data"])
    return {
        **figures,
        "classifier_accuracy": classifier["accuracy"],
        "within_20_percent": within_20,
        "all_within_20_percent": all(v is not False for v in within_20.values()),
        "with_harmony": served,
        "classifier": {**classifier, "test_set": classifier_test, "epochs": classifier_epochs},
        "phrases": {"data": int(len(train)), "generated": int(len(generated)), "with_harmony": int(harmony.sum()),
                    "held_out": int(len(rolls.test()))},
        "eval_seconds": round(time.perf_counter() - started, 1),
    }


def evaluate_tracks(home: ModelHome) -> dict[str, Any]:
    """Re-measure the published generator against the phrases it was trained on."""
    from ml.tracks.data import prepare_rolls
    from ml.tracks.gan import load_generator

    ref = home.current(SERVICE)
    if ref is None:
        raise ModelNotReady("the tracks model is not built yet: run `mlbot train tracks`")
    training = ref.card["training"]
    config = training["config"]
    rolls = prepare_rolls(home.service_dir(SERVICE) / "data", max_works=config["max_works"])
    result = evaluate_generator(load_generator(ref), rolls, seed=training["seed"],
                                classifier_epochs=config["classifier_epochs"])
    return {**result, "model_version": ref.version}
