"""What each model call computes, defined once for both backends: a loader (model folder ->
loaded model) and operations (loaded model, inputs -> a picklable result).

An operation that reports its stages takes an `on_stage` keyword (a plain callable of one
string): the local backend hands it a callback onto the loop, a Serve replica streams the
stages back to the bot before the result."""
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
    return check_tones(predictor, [(text, rewrite)])[0]


def score_tone(predictor, text: str) -> dict:
    """Just the scores, for the channel watch (no cues, no rewrite)."""
    return score_tones(predictor, [(text,)])[0]


def check_tones(predictor, items: list[tuple[str, bool]]) -> list[dict]:
    """check_tone for a batch: the texts' first forward pass is one padded batch."""
    from ml.tone.rewrite import kinder_rewrite

    verdicts = predictor.check_many([text for text, _ in items], explain=True)
    results = []
    for verdict, (_, rewrite) in zip(verdicts, items):
        result = verdict.as_json()
        result["rewrite"] = None
        if rewrite and verdict.label == "passive_aggressive":
            result["rewrite"] = kinder_rewrite(verdict.text, _rewrite_judge(predictor))
        results.append(result)
    return results


def score_tones(predictor, items: list[tuple[str]]) -> list[dict]:
    verdicts = predictor.check_many([text for (text,) in items], explain=False)
    return [{"passive_aggression": v.passive_aggression, "hostility": v.hostility} for v in verdicts]


def _rewrite_judge(predictor):
    def judge(candidate: str) -> tuple[float, float]:
        other = predictor.check(candidate, explain=False)
        return other.passive_aggression, other.hostility
    return judge


def load_essay_writer(ref: ModelRef):
    from ml.essay.generate import EssayWriter
    from ml.essay.store import PublishedEssayModel

    return EssayWriter(PublishedEssayModel(ref))


def write_essay(writer, request, on_stage=None) -> dict:
    """The essay as JSON with its markdown (what the cache keeps and the commands show)."""
    essay = writer.write(request, on_stage)
    return {**essay.as_json(), "markdown": essay.markdown()}


def load_track_composer(ref: ModelRef):
    from ml.tracks.compose import TrackComposer

    return TrackComposer(ref)


def compose_track(composer, seed: int, seconds: int, instrument: str, tempo: int) -> tuple[dict, bytes, bytes]:
    """(the track's description, its audio, its MIDI)."""
    track = composer.compose(seed, seconds, instrument, tempo)
    result = {"seed": track.seed, "seconds": track.seconds, "instrument": track.instrument, "tempo": track.tempo,
              "title": track.title, "metrics": track.metrics, "model_version": track.model_version,
              "audio_ext": track.audio_ext, "audio_bytes": len(track.audio)}
    return result, track.audio, track.midi


# Operations with a batched form, (service, operation) -> function(model, [args, ...]) ->
# [result, ...]: a Serve batch runs these in one forward pass.
BATCHED: dict[tuple[str, str], Callable[[Any, list[tuple]], list[Any]]] = {
    ("tone", "check"): check_tones,
    ("tone", "score"): score_tones,
}


# service -> (loader, {operation: function}, how to build it when missing)
OPERATIONS: dict[str, tuple[Callable[[ModelRef], Any], dict[str, Callable[..., Any]], str]] = {
    "digits": (load_digit_reader, {"read": read_digits},
               "the digit model is not built yet: run `mlbot train digits` (about 4 min)"),
    "tone": (load_tone_predictor, {"check": check_tone, "score": score_tone},
             "the tone model is not built yet: run `mlbot train tone` (about 6 min)"),
    "essay": (load_essay_writer, {"write": write_essay},
              "the essay model is not built yet: run `mlbot train essay` (about 50 min)"),
    "tracks": (load_track_composer, {"compose": compose_track},
               "the track model is not built yet: run `mlbot train tracks` (about 20 min)"),
}
