"""A plan before the words: a title, a thesis and three to five points, one per body paragraph.

The planner is SmolLM2 (the friend's model) with a short prompt. Its answer is written in a
fixed frame, one line at a time: the planner writes after "Title:", then after "Thesis:",
then after "1.", "2.", ... and each line ends at its newline, so the answer can never drift
out of the format. Each point is checked with MiniLM: it must be about the topic and not say
again what an earlier point said; a point that fails is asked for again with another seed.

The plan steers the LSTM (the words of the essay are the LSTM's): paragraph by paragraph,
candidates are judged by how close they are to that paragraph's point.
"""
from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field

from ml.sentence_encoder import SentenceEncoder

log = logging.getLogger(__name__)

MIN_POINT_TOPIC_SIMILARITY = 0.25  # below this a point is not about the topic
MAX_POINT_OVERLAP = 0.85           # above this a point repeats an earlier one
POINT_TRIES = 3
_MARKUP = re.compile(r"[*_#`\"]+")

# One worked example in the prompt shows the planner the shape of an answer: plain
# sentences, each point a different reason. (Its topic is far from any the tests use.)
EXAMPLE_TOPIC = "walking to work"
EXAMPLE_OUTLINE = """Title: The Quiet Gift of the Walk to Work
Thesis: Walking to work is a small daily habit that improves health, attention and a sense of place.
1. A walk each morning adds exercise to a day without asking for extra time.
2. The slow pace gives the mind room to plan the day and settle worries.
3. Walkers come to know their streets, their shops and their neighbours.
4. Fewer cars at rush hour make the air cleaner and the streets safer for everyone."""


@dataclass
class EssayPlan:
    title: str
    thesis: str
    points: list[str]
    planner: str                    # "smollm2", or "none" when the friend model is not built
    notes: list[str] = field(default_factory=list)
    tokens: int = 0                 # tokens the planner generated

    def as_json(self) -> dict:
        data = asdict(self)
        del data["notes"], data["tokens"]
        return data


def points_for(words: int) -> int:
    """Three points for a short essay, up to five for a long one (~110+ words a point)."""
    return max(3, min(5, round((words - 120) / 110)))


def title_case(topic: str) -> str:
    """The topic as a title: the stand-in when there is no planner's title."""
    small = {"a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "with", "at", "by"}
    words = topic.split()
    return " ".join(w if w.isupper() and len(w) > 1 else (w.lower() if i and w.lower() in small else w[:1].upper() + w[1:])
                    for i, w in enumerate(words))


def _clean_line(text: str) -> str:
    line = text.split("\n", 1)[0]
    line = _MARKUP.sub("", line).strip(" -:\t")
    return " ".join(line.split())


def _sentence(text: str) -> str:
    text = text.strip()
    if text and text[-1] not in ".!?":
        text += "."
    return text[:1].upper() + text[1:]


class Planner:
    def __init__(self, judge, encoder: SentenceEncoder):
        """`judge`: the essay's fluency judge (ml/essay/fluency.py); the planner writes with its engine."""
        self.chat = judge.chat
        self.encoder = encoder
        self.tokens = 0

    def _line(self, ids: list[int], seed: int, max_tokens: int, stop_at_sentence: bool) -> str:
        from ml.friend.engine import Sampling

        def keep_going(text: str) -> bool:
            if "\n" in text:
                return False
            return not (stop_at_sentence and re.search(r"[.!?]\s*$", text) and len(text.split()) >= 4)

        sampling = Sampling(temperature=0.6, top_p=0.9, repetition_penalty=1.1, max_new_tokens=max_tokens)
        generation = self.chat.generate(ids, sampling, seed, on_text=keep_going, conversation="essay-plan")
        self.tokens += generation.tokens
        return _clean_line(generation.text)

    def plan(self, topic: str, points: int, seed: int) -> EssayPlan:
        chat = self.chat
        prompt = (chat.encode_turn("system", "You outline short essays: a title, a thesis and points, each a plain "
                                   "sentence.")
                  + chat.encode_turn("user", f"Outline an essay on: {EXAMPLE_TOPIC}")
                  + chat.encode_turn("assistant", EXAMPLE_OUTLINE)
                  + chat.encode_turn("user", f"Outline an essay on: {topic}")
                  + chat.assistant_prefix())
        notes: list[str] = []
        ids = prompt + chat.encode_text("Title:")
        title = self._line(ids, seed, 16, stop_at_sentence=False).rstrip(".")
        if not title or len(title.split()) > 14:
            title = title_case(topic)
            notes.append("the planner gave no usable title; the topic stands in")
        ids += chat.encode_text(" " + title + "\nThesis:")
        thesis = _sentence(self._line(ids, seed, 40, stop_at_sentence=True))
        if len(thesis.split()) < 4:
            thesis = _sentence(topic)
            notes.append("the planner gave no thesis; the topic stands in")
        ids += chat.encode_text(" " + thesis)
        topic_vector = self.encoder.embed([topic])[0]
        kept: list[str] = []
        kept_vectors = [self.encoder.embed([thesis])[0]]  # a point must not repeat the thesis either
        for number in range(1, points + 1):
            for attempt in range(POINT_TRIES):
                line = _sentence(self._line(ids + chat.encode_text(f"\n{number}."), seed * 31 + number * 7 + attempt,
                                            32, stop_at_sentence=True))
                if len(line.split()) < 3:
                    continue
                vector = self.encoder.embed([line])[0]
                on_topic = float(vector @ topic_vector) >= MIN_POINT_TOPIC_SIMILARITY
                new = all(float(vector @ v) < MAX_POINT_OVERLAP for v in kept_vectors)
                if on_topic and new:
                    kept.append(line)
                    kept_vectors.append(vector)
                    ids += chat.encode_text(f"\n{number}. {line}")
                    break
        if len(kept) < points:
            notes.append(f"the planner found {len(kept)} of {points} points on the topic")
        # The conversation is not forgotten: the next plan starts with the same system turn and
        # worked example, and the engine reuses their key/values instead of reading them again.
        return EssayPlan(title, thesis, kept, "smollm2", notes, self.tokens)


def plan_without_planner(topic: str) -> EssayPlan:
    """No friend model yet: the paragraphs follow the topic alone."""
    return EssayPlan(title_case(topic), _sentence(topic), [], "none",
                     ["no planner yet (the friend model is not built): the paragraphs follow the topic alone, "
                      "and the LSTM judges its own fluency"])
