"""The friend's kindness judge: the tone model, with a reading of warmth and of contempt.

Measured on 80 kind replies written for this (ml/friend/data/kind_replies.txt), the tone model
alone dropped 18 (22.5%): it reads supportive stock phrases ("I hear you", "Fair enough",
"I can imagine", "Of course you can vent here") as passive-aggressive 0.9+, and warm
encouragement ("You're doing so much better than you give yourself credit for") as hostile,
because in its training data such phrases are often sarcastic or blunt. A lonely user then got
a refusal. So the tone model's verdict counts only when the reply carries no sign of care
(sympathy, support, encouragement, an offer to listen), and a short list of contemptuous
phrases ("nobody cares", "did anyone ask", "bare minimum") counts on its own: those the tone
model sometimes misses. `mlbot eval friend` reports both rates (judge_calibration).
"""
from __future__ import annotations

import re
from typing import Callable

HOSTILE_LIMIT = 0.7
SENTENCE_HOSTILE_LIMIT = 0.9  # a sentence alone, as it streams: only what is plainly hostile stops it
PASSIVE_AGGRESSIVE_LIMIT = 0.9

_CARE = re.compile(
    r"\b(?:sorry|proud of you|i'?m here|here for you|here whenever|here if you|take care|be gentle|gentle with yourself|"
    r"you deserve (?:rest|a break|better|support|kindness|to)|you'?ve earned|congrat\w*|amazing|wonderful|glad|i hope|"
    r"hope you|rooting for you|cares? about you|happy to|i'?d love|love to|it'?s (?:okay|ok|normal|fine) to|okay to|"
    r"makes (?:total |complete )?sense|what friends are for|you'?ve got this|you got this|well done|must feel|"
    r"want to talk|want advice|vent|get some rest|rest is|hugs?\b|remember (?:him|her|them)|brave|courage|"
    r"your worth|better than you (?:think|give)|you'?re not alone|not alone|i mean it|ping me|message me|call me|"
    r"have you (?:tried|thought|been able)|maybe (?:try|call|a|you)|how are you|how (?:do|did) you feel|"
    r"(?:that|this) (?:sounds|must be) (?:hard|tough|rough|heavy|exhausting|scary|lonely)|heavy feeling|"
    r"small steps|still count|no judg\w+|no worries|take your time|no rush|you did your best)\b", re.I)
_CONTEMPT = re.compile(
    r"\b(?:stupid|idiot\w*|pathetic|garbage|annoying|shut up|nobody cares|no one cares|who asked|did anyone ask|"
    r"whatever you say|bare minimum|sob story|must be nice|must be hard being|riveted|can'?t handle|get over it|"
    r"grow up|not my problem|deserve to feel|quit complaining|free time to complain|about yourself again|"
    r"you'?ll need it|like a toddler|cool story|thanks for nothing|file it under|useless|waste of|go away|"
    r"loser|dumb|ridiculous|embarrassing|cringe|can'?t wait\.|wow, you really|some people just)\b", re.I)

# A judge returns why a text is unkind ("hostile 0.81"), or None when it reads fine.
Judge = Callable[[str], "str | None"]


def shows_care(text: str) -> bool:
    return bool(_CARE.search(text))


def contemptuous(text: str) -> str | None:
    found = _CONTEMPT.search(text)
    return f"contempt ({found.group(0).lower()})" if found else None


def plain_tone_judges(predictor) -> tuple[Judge, Judge]:
    """The tone model's limits alone, as the friend judged before: the evaluation's baseline."""

    def sentence(text: str) -> str | None:
        verdict = predictor.check(text, explain=False)
        return f"hostile {verdict.hostility:.2f}" if verdict.hostility >= HOSTILE_LIMIT else None

    def reply(text: str) -> str | None:
        return _tone_problem(predictor, text)

    return sentence, reply


def _tone_problem(predictor, text: str) -> str | None:
    """What the tone model alone holds against a whole reply, or None."""
    verdict = predictor.check(text, explain=False)
    if verdict.hostility >= HOSTILE_LIMIT:
        return f"hostile {verdict.hostility:.2f}"
    if verdict.passive_aggression >= PASSIVE_AGGRESSIVE_LIMIT:
        return f"passive-aggressive {verdict.passive_aggression:.2f}"
    return None


def tone_judges(predictor) -> tuple[Judge, Judge]:
    """(judge of one sentence as it streams, judge of a whole reply) over a loaded TonePredictor."""

    def sentence(text: str) -> str | None:
        if why := contemptuous(text):
            return why
        verdict = predictor.check(text, explain=False)
        if verdict.hostility >= SENTENCE_HOSTILE_LIMIT and not shows_care(text):
            return f"hostile {verdict.hostility:.2f}"
        return None

    def reply(text: str) -> str | None:
        if why := contemptuous(text):
            return why
        if shows_care(text):
            return None
        return _tone_problem(predictor, text)

    return sentence, reply
