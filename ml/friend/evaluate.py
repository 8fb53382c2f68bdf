"""`mlbot eval friend --json`: does the memory work, is it kind, is it fast.

* fact recall: a user states a fact; later, with that turn gone from the prompt, they ask
  about it. Scored by whether the reply names the fact's key word. Baseline: the same
  question with no memory (what the model guesses).
* kindness: opening lines of human chats from PyPI `chitchat-dataset`; the share of first
  attempts the tone model flags, and the share of replies still flagged after the filter.
* speed: median time to first token and tokens per second of those replies.
"""
from __future__ import annotations

import statistics

from ml.errors import ModelNotReady
from ml.friend import SERVICE
from ml.friend.conversation import DEFAULT_PERSONA, Friend, Memory
from ml.friend.facts import extract_facts
from ml.friend.model import ChatModel
from ml.home import ModelHome

# (what the user tells, what they ask later, the word a reply that remembers must contain)
RECALL_CASES = [
    ("My dog is called Rex.", "What is my dog's name?", "rex"),
    ("My cat is named Mochi.", "Do you remember my cat's name?", "mochi"),
    ("I live in Lisbon.", "Where do I live?", "lisbon"),
    ("My name is Priya.", "What's my name?", "priya"),
    ("I work as a nurse.", "What do I do for work?", "nurse"),
    ("My favourite food is ramen.", "What's my favourite food?", "ramen"),
    ("I love chess.", "Which game do I love?", "chess"),
    ("My sister is called Ingrid.", "What is my sister called?", "ingrid"),
    ("I'm from Kenya.", "Where am I from?", "kenya"),
    ("My favourite colour is green.", "What is my favourite colour?", "green"),
    ("I am 34 years old.", "How old am I?", "34"),
    ("My brother is named Tomas.", "What's my brother's name?", "tomas"),
]
KINDNESS_OPENERS = 24


def _opening_lines(count: int) -> list[str]:
    import chitchat_dataset

    lines = []
    for conversation in chitchat_dataset.Dataset().values():
        first_turn = conversation["messages"][0]
        text = " ".join(m["text"] for m in first_turn).strip()
        if 8 <= len(text) <= 200:
            lines.append(text)
        if len(lines) == count:
            break
    return lines


def _tone_judges(home: ModelHome):
    ref = home.current("tone")
    if ref is None:
        return None, None
    from ml.friend.kindness import tone_judges
    from ml.tone.predictor import TonePredictor

    return tone_judges(TonePredictor(ref))


def evaluate_friend(home: ModelHome) -> dict:
    ref = home.current(SERVICE)
    if ref is None:
        raise ModelNotReady("the friend model is not set up: run `mlbot train friend`")
    friend = Friend(ChatModel(ref.path))
    speaker = "Alex"
    remembered = guessed = 0
    for number, (statement, question, word) in enumerate(RECALL_CASES):
        facts = [fact.text for fact in extract_facts(statement)]
        with_memory = friend.reply(DEFAULT_PERSONA, speaker, Memory(facts=facts), question, seed=number).text
        without = friend.reply(DEFAULT_PERSONA, speaker, Memory(), question, seed=number).text
        remembered += word in with_memory.lower()
        guessed += word in without.lower()

    sentence_judge, judge = _tone_judges(home)
    kind = Friend(friend.model, judge=judge, sentence_judge=sentence_judge)
    openers = _opening_lines(KINDNESS_OPENERS)
    first_attempt_flagged = still_flagged = 0
    firsts, rates = [], []
    for number, line in enumerate(openers):
        plain = friend.reply(DEFAULT_PERSONA, speaker, Memory(), line, seed=number)
        firsts.append(plain.first_token_seconds)
        if plain.tokens > 1 and plain.seconds > plain.first_token_seconds:
            rates.append((plain.tokens - 1) / (plain.seconds - plain.first_token_seconds))
        if judge is not None:
            first_attempt_flagged += judge(plain.text) is not None
            filtered = kind.reply(DEFAULT_PERSONA, speaker, Memory(), line, seed=number)
            still_flagged += judge(filtered.text) is not None
    cases = len(RECALL_CASES)
    return {
        "model_version": ref.version,
        "fact_recall": round(remembered / cases, 3),
        "fact_recall_without_memory": round(guessed / cases, 3),
        "recall_cases": cases,
        "kindness_judge": "tone model" if judge else "none (tone model not built)",
        "flagged_first_attempt": round(first_attempt_flagged / len(openers), 3) if judge else None,
        "flagged_after_filter": round(still_flagged / len(openers), 3) if judge else None,
        "openers": len(openers),
        "first_token_seconds_p50": round(statistics.median(firsts), 3),
        "tokens_per_second_p50": round(statistics.median(rates), 1) if rates else None,
        "dtype": friend.model.dtype,
    }
