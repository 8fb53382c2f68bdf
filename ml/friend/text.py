"""Small text rules for replies: where a sentence ends, and what a user may not type."""
from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"[.!?…](?:[\"')\]]*)(?=\s|$)")
# Chat-markup a user might type to pose as the system: it stays their text, but loses its look.
_MARKUP = re.compile(r"<\|[^|>]{0,40}\|>")
_ROLE_CLAIM = re.compile(r"^\s*(?:\[?\s*(?:system|assistant)\s*\]?\s*:|#+\s*system\b)", re.I | re.M)


def complete_sentences(text: str) -> str:
    """The text up to its last finished sentence ("" when none has finished yet)."""
    last = None
    for last in _SENTENCE_END.finditer(text):
        pass
    return text[:last.end()].rstrip() if last else ""


def end_cleanly(text: str) -> str:
    """A reply cut by the token limit ends at its last full sentence, if it has one."""
    text = _MARKUP.split(text, 1)[0].strip()  # a model echoing chat markup has gone off the rails
    finished = complete_sentences(text)
    return finished or text


def neutralise_role_claims(message: str) -> tuple[str, bool]:
    """Remove chat markup and "system:" headers from a user's message. Returns the cleaned text
    and whether it tried to speak as the system (the prompt then reminds the model who it is)."""
    cleaned = _MARKUP.sub(" ", message)
    cleaned = _ROLE_CLAIM.sub("", cleaned)
    claimed = cleaned != message or bool(re.search(r"\b(system prompt|new instructions|you are now)\b", message, re.I))
    return re.sub(r"[ \t]{2,}", " ", cleaned).strip(), claimed
