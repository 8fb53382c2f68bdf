"""The trainable services, so that `mlbot train`/`eval` and the background trainer
find them in one place. Heavy modules are imported only when a service is used."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ml.home import ModelHome, ModelRef
from ml.progress import Progress
from ml.digits import PROGRESS_WEIGHTS as DIGIT_WEIGHTS
from ml.tone import PROGRESS_WEIGHTS as TONE_WEIGHTS


@dataclass
class ServiceSpec:
    name: str
    title: str
    expected_minutes: float
    train: Callable[[ModelHome, bool, Progress], ModelRef]
    evaluate: Callable[..., dict[str, Any]]
    progress_weights: dict[str, float] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()


def _train_digits(home: ModelHome, quick: bool, progress: Progress, seed: int = 0) -> ModelRef:
    from ml.digits.train import TrainConfig, train_digits

    config = TrainConfig.quick() if quick else TrainConfig()
    config.seed = seed
    return train_digits(home, config, progress)


def _evaluate_digits(home: ModelHome, **options: Any) -> dict[str, Any]:
    from ml.digits.evaluate import evaluate_digits

    return evaluate_digits(home, photos=options.get("photos", 500))


def _train_tone(home: ModelHome, quick: bool, progress: Progress, seed: int = 0) -> ModelRef:
    from ml.tone.train import ToneTrainConfig, train_tone

    config = ToneTrainConfig.quick() if quick else ToneTrainConfig()
    config.seed = seed
    return train_tone(home, config, progress)


def _evaluate_tone(home: ModelHome, **options: Any) -> dict[str, Any]:
    from ml.tone.evaluate import evaluate_tone

    return evaluate_tone(home)


SERVICES: dict[str, ServiceSpec] = {
    "digits": ServiceSpec(
        name="digits",
        title="digit reader",
        expected_minutes=4,
        train=_train_digits,
        evaluate=_evaluate_digits,
        progress_weights=DIGIT_WEIGHTS,
        aliases=("digit",),
    ),
    "tone": ServiceSpec(
        name="tone",
        title="tone checker",
        expected_minutes=6,
        train=_train_tone,
        evaluate=_evaluate_tone,
        progress_weights=TONE_WEIGHTS,
    ),
}


def find_service(name: str) -> ServiceSpec:
    for spec in SERVICES.values():
        if name == spec.name or name in spec.aliases:
            return spec
    known = ", ".join(SERVICES)
    raise KeyError(f"unknown service {name!r}; known: {known}")
