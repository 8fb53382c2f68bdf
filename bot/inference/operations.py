"""What each model call computes, defined once for both backends: a loader (model folder ->
loaded model) and operations (loaded model, inputs -> a picklable result)."""
from __future__ import annotations

from typing import Any, Callable

from ml.home import ModelRef


def load_digit_reader(ref: ModelRef):
    from ml.digits.reader import DigitReader

    return DigitReader(ref)


def read_digits(reader, data: bytes) -> tuple[dict, bytes]:
    """(the reading as JSON, the 28x28 picture the model saw as PNG)."""
    reading = reader.read(data)
    return reading.as_json(), reading.model_input_png


def load_tone_predictor(ref: ModelRef):
    from ml.tone.predictor import TonePredictor

    return TonePredictor(ref)


def check_tone(predictor, text: str, rewrite: bool) -> dict:
    from ml.tone.rewrite import kinder_rewrite

    verdict = predictor.check(text, explain=True)
    result = verdict.as_json()
    result["rewrite"] = None
    if rewrite and verdict.label == "passive_aggressive":
        def judge(candidate: str) -> tuple[float, float]:
            other = predictor.check(candidate, explain=False)
            return other.passive_aggression, other.hostility
        result["rewrite"] = kinder_rewrite(verdict.text, judge)
    return result


def score_tone(predictor, text: str) -> dict:
    """Just the scores, for the channel watch (no cues, no rewrite)."""
    verdict = predictor.check(text, explain=False)
    return {"passive_aggression": verdict.passive_aggression, "hostility": verdict.hostility}


# service -> (loader, {operation: function}, how to build it when missing)
OPERATIONS: dict[str, tuple[Callable[[ModelRef], Any], dict[str, Callable[..., Any]], str]] = {
    "digits": (load_digit_reader, {"read": read_digits},
               "the digit model is not built yet: run `mlbot train digits` (about 4 min)"),
    "tone": (load_tone_predictor, {"check": check_tone, "score": score_tone},
             "the tone model is not built yet: run `mlbot train tone` (about 6 min)"),
}
