"""What each model call computes, defined once for both backends: a loader (model folder ->
loaded model) and operations (loaded model, inputs -> a picklable result).

An operation that reports its stages takes an `on_stage` keyword (a plain callable of one
string): the local backend hands it a callback onto the loop, a Serve replica streams the
stages back to the bot before the result."""
from __future__ import annotations

import threading
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


class FriendModels:
    """The friend's chat model with what its replies need beside it: the tone model as the
    kindness judge (from the same home, once it is built) and MiniLM to match memory
    questions to facts. What a Serve replica of the friend holds."""

    def __init__(self, ref: ModelRef):
        from ml.friend.engine import load_chat_model
        from ml.friend.recall import FactFinder, MiniLMSimilarity
        from ml.home import ModelHome

        self.engine = load_chat_model(ref.path)
        self.home = ModelHome(ref.path.parents[2])  # <home>/models/friend/<version>
        self.finder = FactFinder(MiniLMSimilarity())
        self._tone = None
        self._loading = threading.Lock()  # replies run on worker threads, several at once

    def judges(self):
        """(sentence judge, reply judge) from the tone model, or (None, None) before it is built."""
        from ml.friend.kindness import tone_judges

        with self._loading:
            if self._tone is None:
                ref = self.home.current("tone")
                if ref is None:
                    return None, None
                self._tone = load_tone_predictor(ref)
        return tone_judges(self._tone)


def reply_as_json(reply, engine_name: str) -> dict:
    """A friend's reply as the cache keeps it (the service adds the version and `cached`)."""
    return {"reply": reply.text, "tokens": reply.tokens, "seconds": round(reply.seconds, 2),
            "first_token_seconds": round(reply.first_token_seconds, 2), "attempts": reply.attempts,
            "kind": reply.kind, "recalled": reply.recalled, "fallback": reply.fallback,
            "engine": engine_name, "note": reply.note,
            "reused_tokens": reply.reused_tokens}  # prompt tokens whose key/values the engine already held


def friend_reply(models: FriendModels, persona: str, speaker: str, memory, message: str, seed: int,
                 conversation: str | None, on_stage=None) -> dict:
    """The friend's reply; `on_stage` sees it grow, one checked sentence at a time."""
    from ml.friend.conversation import Friend

    sentence_judge, judge = models.judges()
    friend = Friend(models.engine, judge=judge, sentence_judge=sentence_judge, finder=models.finder)
    reply = friend.reply(persona, speaker, memory, message, seed, on_stage, conversation)
    return reply_as_json(reply, models.engine.name)


def friend_summarise(models: FriendModels, summary: str, turns: list, speaker: str) -> str:
    from ml.friend.conversation import Friend

    return Friend(models.engine, finder=models.finder).summarise(summary, turns, speaker)


# Operations that report stages as they go (an `on_stage` keyword): a Serve replica answers
# them as a stream, stages first, so they are always called that way, with progress or not.
STAGED: set[tuple[str, str]] = {("essay", "write"), ("friend", "reply")}


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
    # On the local backend the friend runs in bot/services/friend.py (it shares the tone
    # checker's loaded model); this entry is what its Serve deployment runs.
    "friend": (FriendModels, {"reply": friend_reply, "summarise": friend_summarise},
               "the friend model is not set up yet: run `mlbot train friend` (about 1 min)"),
}
