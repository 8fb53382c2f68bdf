"""A kinder phrasing of a passive-aggressive message: rules first, then the tone model judges.

The rules remove the devices that carry the edge (sarcasm markers, pointed reminders,
martyrdom, fake gratitude) and say the request plainly. The rewrite is offered only if
the tone model itself no longer reads it as passive-aggressive or hostile. When a friend
model exists (issue 7) it can propose rewrites through the same check.
"""
from __future__ import annotations

import re
from typing import Callable

# (pattern, replacement); applied in order, case-insensitively.
_RULES: list[tuple[str, str]] = [
    (r"\bper my (last|previous) (e-?mail|message|note|comment)s?\b,?", "to recap,"),
    (r"\bas (i )?(previously|already) (stated|mentioned|said|explained|discussed)\b,?", "to recap,"),
    (r"\bas (i )?(said|mentioned|stated) (before|earlier|above)\b,?", "to recap,"),
    (r"\bjust (circling|checking) back( again)?( on this)?\b", "following up on this"),
    (r"\b(a )?friendly reminder\b", "a reminder"),
    (r"\bgoing forward,? (please )?", "from now on, could you please "),
    (r"\bno worries,? i'?ll (just )?do it myself\b\.?", "could you help me with this? I can't do it all alone."),
    (r"\bi'?ll (just )?do it myself\b\.?", "I'd really appreciate your help with this."),
    (r"\bdon'?t worry about me\b[^.!?]*[.!?]?", "I'd like us to spend some time together."),
    (r"\bthanks? (you )?for (finally|eventually) ", "thanks for "),
    (r"\b(finally|eventually)\b,? ", ""),
    (r"\bmust be nice\b[^.!?]*[.!?]?", "I'm feeling a bit stretched and could use some help."),
    (r"\bsome of us\b( actually)?", "I"),
    (r"\bnot sure why i (even )?bother\b[^.!?]*[.!?]?", "I'd appreciate a bit of help with this."),
    (r"\bas usual\b,? ?", ""),
    (r"\bagain\b(?=[.!?]|$)", ""),
    (r"\bi guess\b,? ?", ""),
    (r"\b(clearly|obviously|apparently)\b,? ?", ""),
    (r"\bif you say so\b", "I see it differently; can we talk it through?"),
    (r"\bwhatever you (think|want)( is best)?\b", "I have a different view; can we talk about it?"),
    (r"^\s*(wow|oh|well|great|sure)[,.!]+\s*", ""),
]

# Whole messages that are nothing but a curt signal get a plain statement instead.
_CURT = re.compile(r"^\s*(k+|ok(ay)?|fine|noted|sure|whatever|cool|great|wow|nice)\s*[.!…]*\s*$", re.I)
_SARCASM_MARKS = re.compile(r"[🙂🙃🙄😒😑]|\.\.\.+|…")
_SCARE_QUOTES = re.compile(r"[\"“']([^\"”']{1,30})[\"”']")


def rule_based_rewrite(text: str) -> str:
    if _CURT.match(text):
        return "Okay. I'm honestly a bit frustrated about this; can we talk about it?"
    out = _SCARE_QUOTES.sub(r"\1", text)
    out = _SARCASM_MARKS.sub(".", out)
    for pattern, replacement in _RULES:
        out = re.sub(pattern, replacement, out, flags=re.I | re.M)
    # Two pointed reminders in a row become one plain "to recap," (not "to recap, to recap,").
    out = re.sub(r"\b(to recap,)(\s*to recap,)+", r"\1", out, flags=re.I)
    out = re.sub(r"\s+([.,!?])", r"\1", out)
    out = re.sub(r",([.!?])", r"\1", out)
    if re.fullmatch(r"\W*to recap\W*", out, flags=re.I):
        return ""  # nothing was said but the reminder: no rewrite is better than an empty one
    out = re.sub(r"([.!?]){2,}", r"\1", out)
    out = re.sub(r"\s{2,}", " ", out).strip(" ,")
    if out and out[0].islower():
        out = out[0].upper() + out[1:]
    if out and out[-1] not in ".!?":
        out += "."
    return out


def kinder_rewrite(text: str, judge: Callable[[str], tuple[float, float]],
                   proposers: list[Callable[[str], str]] | None = None, bar: float = 0.5) -> str | None:
    """The first proposal that `judge` (text -> (passive_aggression, hostility)) accepts."""
    for propose in proposers or [rule_based_rewrite]:
        candidate = propose(text)
        if not candidate or candidate.strip().lower() == text.strip().lower():
            continue
        passive, hostile = judge(candidate)
        if passive < bar and hostile < bar:
            return candidate
    return None
