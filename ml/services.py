"""The trainable services, so that `mlbot train`/`eval` and the background trainer
find them in one place. Heavy modules are imported only when a service is used."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ml.home import ModelHome, ModelRef
from ml.progress import Progress
from ml.digits import PROGRESS_WEIGHTS as DIGIT_WEIGHTS
from ml.tone import PROGRESS_WEIGHTS as TONE_WEIGHTS
from ml.essay import PROGRESS_WEIGHTS as ESSAY_WEIGHTS
from ml.tracks import PROGRESS_WEIGHTS as TRACKS_WEIGHTS
from ml.friend import PROGRESS_WEIGHTS as FRIEND_WEIGHTS


@dataclass
class ServiceSpec:
    name: str
    title: str
    expected_minutes: float
    train: Callable[..., ModelRef]  # (home, quick, progress, seed=0, **options)
    evaluate: Callable[..., dict[str, Any]]
    progress_weights: dict[str, float] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()


def _train_digits(home: ModelHome, quick: bool, progress: Progress, seed: int = 0, **_: Any) -> ModelRef:
    from ml.digits.train import TrainConfig, train_digits

    config = TrainConfig.quick() if quick else TrainConfig()
    config.seed = seed
    return train_digits(home, config, progress)


def _evaluate_digits(home: ModelHome, **options: Any) -> dict[str, Any]:
    from ml.digits.evaluate import evaluate_digits

    return evaluate_digits(home, photos=options.get("photos", 500), other_writers=options.get("other_writers", 200))


def _train_tone(home: ModelHome, quick: bool, progress: Progress, seed: int = 0, **_: Any) -> ModelRef:
    from ml.tone.train import ToneTrainConfig, train_tone

    config = ToneTrainConfig.quick() if quick else ToneTrainConfig()
    config.seed = seed
    return train_tone(home, config, progress)


def _evaluate_tone(home: ModelHome, **options: Any) -> dict[str, Any]:
    from ml.tone.evaluate import evaluate_tone

    return evaluate_tone(home)


def _train_essay(home: ModelHome, quick: bool, progress: Progress, seed: int = 0, corpus: str | None = None,
                 name: str | None = None, **_: Any) -> ModelRef:
    from ml.essay.train import EssayTrainConfig, train_essay

    config = EssayTrainConfig.quick() if quick else EssayTrainConfig()
    config.seed = seed
    if corpus:
        config.corpus, config.style = corpus, name or ""
    return train_essay(home, config, progress)


def _evaluate_essay(home: ModelHome, **options: Any) -> dict[str, Any]:
    from ml.essay.evaluate import evaluate_essay
    from ml.essay.evaluate_writers import evaluate_writers

    figures = evaluate_essay(home, options.get("style"))
    figures["writers"] = evaluate_writers(home, options.get("style"))
    return figures


def _train_tracks(home: ModelHome, quick: bool, progress: Progress, seed: int = 0, **_: Any) -> ModelRef:
    from ml.tracks.train import TracksTrainConfig, train_tracks

    config = TracksTrainConfig.quick() if quick else TracksTrainConfig()
    config.seed = seed
    return train_tracks(home, config, progress)


def _evaluate_tracks(home: ModelHome, **options: Any) -> dict[str, Any]:
    from ml.tracks.evaluate import evaluate_tracks

    return evaluate_tracks(home)


def _train_friend(home: ModelHome, quick: bool, progress: Progress, seed: int = 0, **_: Any) -> ModelRef:
    from ml.friend.convert import convert_friend

    return convert_friend(home, progress)  # nothing to train: the published weights, converted once


def _evaluate_friend(home: ModelHome, **options: Any) -> dict[str, Any]:
    from ml.friend.evaluate import evaluate_friend

    return evaluate_friend(home)


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
    "friend": ServiceSpec(
        name="friend",
        title="friend",
        expected_minutes=1,
        train=_train_friend,
        evaluate=_evaluate_friend,
        progress_weights=FRIEND_WEIGHTS,
    ),
    "essay": ServiceSpec(
        name="essay",
        title="essay writer",
        expected_minutes=50,
        train=_train_essay,
        evaluate=_evaluate_essay,
        progress_weights=ESSAY_WEIGHTS,
    ),
    "tracks": ServiceSpec(
        name="tracks",
        title="track composer",
        expected_minutes=20,
        train=_train_tracks,
        evaluate=_evaluate_tracks,
        progress_weights=TRACKS_WEIGHTS,
        aliases=("track",),
    ),
}


def find_service(name: str) -> ServiceSpec:
    for spec in SERVICES.values():
        if name == spec.name or name in spec.aliases:
            return spec
    known = ", ".join(SERVICES)
    raise KeyError(f"unknown service {name!r}; known: {known}")
