"""Facts a user shares about themselves ("my dog is called Rex", "I live in Oslo"), pulled out
of their messages so the friend can bring them up in later turns, after the turn itself has
left the prompt. Patterns, not a model: they are cheap, predictable, and easy to forget on
request. Each fact has a key, so a newer statement replaces an older one ("I live in Bergen")."""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Fact:
    key: str    # what it is about: "dog's name", "home", "job", "likes: ..."
    text: str   # how the friend is told it, about the user: "their dog is called Rex"


_NAME = r"([A-Za-z][\w'-]*(?: [A-Z][\w'-]*)?)"
_PHRASE = r"([^.!?,;]{2,60}?)"
_END = r"(?=[.!?,;]|$| and | but )"

_PATTERNS: list[tuple[re.Pattern, callable]] = [
    # my dog is called Rex / my dog's name is Rex / my sister is named Ana
    (re.compile(r"\b(?i:my) ([a-z]+(?: [a-z]+)??)(?:'s name is| is called| is named| called| named) " + _NAME),
     lambda m: Fact(f"{m[1].lower()}'s name", f"their {m[1].lower()} is called {_capital(m[2])}")),
    # my name is Ana / call me Ana / I'm called Ana
    (re.compile(r"\b(?:my name is|call me|i am called|i'm called) " + _NAME, re.I),
     lambda m: Fact("name", f"they like to be called {_capital(m[1])}")),
    (re.compile(r"\bi (?:live|grew up) in " + _PHRASE + _END, re.I),
     lambda m: Fact("home", f"they live in {m[1].strip()}")),
    (re.compile(r"\bi(?: am|'m) from " + _PHRASE + _END, re.I),
     lambda m: Fact("from", f"they are from {m[1].strip()}")),
    (re.compile(r"\bi work (?:as|at|in) " + _PHRASE + _END, re.I),
     lambda m: Fact("job", f"they work {m[0].split('work ', 1)[1].strip()}")),
    (re.compile(r"\bmy job is " + _PHRASE + _END, re.I),
     lambda m: Fact("job", f"their job is {m[1].strip()}")),
    (re.compile(r"\bi(?: am|'m) (\d{1,3}) years old", re.I),
     lambda m: Fact("age", f"they are {m[1]} years old")),
    (re.compile(r"\bmy favou?rite ([a-z]+(?: [a-z]+)?) is " + _PHRASE + _END, re.I),
     lambda m: Fact(f"favourite {m[1].lower()}", f"their favourite {m[1].lower()} is {m[2].strip()}")),
    (re.compile(r"\bi (?:really )?(?:love|like|enjoy) " + _PHRASE + _END, re.I),
     lambda m: Fact(f"likes: {m[1].strip().lower()}", f"they like {m[1].strip()}")),
    (re.compile(r"\bi (?:really )?(?:hate|dislike|can't stand) " + _PHRASE + _END, re.I),
     lambda m: Fact(f"dislikes: {m[1].strip().lower()}", f"they dislike {m[1].strip()}")),
    (re.compile(r"\bi have (?:a|an|two|three|\d+) ([a-z]+(?: [a-z]+)?)" + _END, re.I),
     lambda m: Fact(f"has: {m[1].lower()}", f"they have {m[0].split('have ', 1)[1].strip()}")),
]

def _capital(name: str) -> str:
    return name[:1].upper() + name[1:]


# "I like you" or "I like it" say nothing worth remembering.
_EMPTY_OBJECTS = {"you", "it", "that", "this", "them", "him", "her", "to", "so", "a lot"}


def extract_facts(message: str) -> list[Fact]:
    found: dict[str, Fact] = {}
    for sentence in re.split(r"(?<=[.!?])\s+|\n", message):
        for pattern, make in _PATTERNS:
            for match in pattern.finditer(sentence):
                fact = make(match)
                obj = fact.key.split(": ", 1)[-1]
                if obj in _EMPTY_OBJECTS or obj.startswith(("to ", "it ")) or "?" in sentence[match.end():match.end() + 1]:
                    continue
                found[fact.key] = fact
    return list(found.values())
