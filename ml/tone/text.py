"""Cleaning a message before the model sees it, and the checks users are told about."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from ml.errors import InputError

MAX_CHARS = 4000
# Zero-width and direction marks: invisible, but they split words for the tokenizer.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\ufeff\u00ad]")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
_ENGLISH_FUNCTION_WORDS = set("""
a about after again all am an and any are as at be because been before being but by can could did do does
doing don't for from had has have having he her here hers him his how i i'm if in into is it it's its just me
more most my no not now of off on once only or other our out over own same she should so some such than that
the their them then there these they this those through to too under until up very was we were what when where
which while who whom why will with would you your yours yeah yes ok okay thanks thank please sorry lol
""".split())


@dataclass
class CleanText:
    text: str
    notes: list[str] = field(default_factory=list)
    low_confidence: bool = False


def clean_message(raw: str) -> CleanText:
    if raw is None or not raw.strip():
        raise InputError("there is no text to check")
    notes = []
    text = unicodedata.normalize("NFC", raw)
    stripped = _INVISIBLE.sub("", text)
    if stripped != text:
        notes.append("invisible zero-width characters were removed")
    text = re.sub(r"\s+", " ", stripped).strip()
    if not text:
        raise InputError("there is no text to check (only invisible characters)")
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS]
        notes.append(f"only the first {MAX_CHARS} characters were checked")
    words = _WORD.findall(text)
    low = False
    if not words:
        notes.append("no words, only symbols or emoji: the verdict is a rough guess")
        low = True
    elif not looks_english(words):
        notes.append("this does not look like English, which is all the model knows: low confidence")
        low = True
    return CleanText(text, notes, low)


def looks_english(words: list[str]) -> bool:
    letters = "".join(words)
    non_latin = sum(1 for ch in letters if ord(ch) > 0x24F)
    if non_latin > 0.3 * len(letters):
        return False
    if len(words) < 4:
        return True  # too short to tell; short English replies are common
    common = sum(1 for w in words if w.lower() in _ENGLISH_FUNCTION_WORDS)
    return common / len(words) >= 0.12
