"""The tone model as the friend's kindness judge.

Two bars, from reading what the tone model says about SmolLM2's replies: it scores friendly
stock phrases ("I'm glad to hear that", "I can imagine it") as passive-aggressive 0.9+
when they stand alone, because in its training data such phrases are often sarcastic. So:
  * each sentence, as it streams, is held to hostility only (nothing hostile is ever shown);
  * the whole reply is held to hostility and to a high passive-aggression bar, where the
    context around a stock phrase is there for the model to read.
"""
from __future__ import annotations

from typing import Callable

HOSTILE_LIMIT = 0.7
PASSIVE_AGGRESSIVE_LIMIT = 0.9

# A judge returns why a text is unkind ("hostile 0.81"), or None when it reads fine.
Judge = Callable[[str], "str | None"]


def tone_judges(predictor) -> tuple[Judge, Judge]:
    """(judge of one sentence, judge of a whole reply) over a loaded TonePredictor."""

    def sentence(text: str) -> str | None:
        verdict = predictor.check(text, explain=False)
        return f"hostile {verdict.hostility:.2f}" if verdict.hostility >= HOSTILE_LIMIT else None

    def reply(text: str) -> str | None:
        verdict = predictor.check(text, explain=False)
        if verdict.hostility >= HOSTILE_LIMIT:
            return f"hostile {verdict.hostility:.2f}"
        if verdict.passive_aggression >= PASSIVE_AGGRESSIVE_LIMIT:
            return f"passive-aggressive {verdict.passive_aggression:.2f}"
        return None

    return sentence, reply
