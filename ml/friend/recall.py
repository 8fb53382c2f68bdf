"""Questions about what the user told ("what's my dog called?", "where did I say I moved?"),
matched to the facts the friend keeps.

A message is a memory question when it asks and points at the user's own things (a cue like
"what's my", "where do I", "do you remember"). Each fact is then scored by MiniLM similarity
between the question and the fact's text, plus a bonus when the question names what the fact
is about (its key's words: "dog", "live", "instrument"). The best facts over the bar are the
answer; a memory question with none is one the friend cannot answer, and says so.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

from ml.friend.answers import Answer, answer_kind, find_answer, fits, question_parts
from ml.friend.facts import Fact

_ASKS_ABOUT_SELF = re.compile(
    r"\b(?:what(?:'s|’s| is| was| were| are)? (?:my|the name of my)|who(?:'s|’s| is| was)? my|where (?:do|did|am|was) i|"
    r"how old am i|what (?:do|did|am) i|which \w+(?: \w+)? (?:do|did|am) i|who am i|"
    r"(?:do|did) you (?:remember|recall|know)|remember (?:my|what|where|who|how)|remind me|"
    r"did i (?:tell|mention|say)|what did i (?:say|tell|mention)|(?:have|did) i (?:ever )?(?:told|mentioned)|"
    r"what(?:'s| is) my name|you know my|guess my|what was (?:it|that) (?:called|again)|"
    r"(?:can|could) you (?:name|tell me|list|say|remember)\b[^?]*\b(?:my|i|me)\b|say my name|"
    r"what (?:do|did) i (?:say|tell you)|(?:who|what)(?:'s| is| was) (?:the|that) \w+(?: \w+)? (?:i|that i) |"
    r"(?:forg[eo]t\w*|remember|know|tell them|tell (?:him|her)) (?:what|where|who|which|how old) (?:i|my)\b|"
    r"\bwhat my \w+ (?:is|was|are)\b|(?:what|how)(?:'s| is| are| do| will| would)? you (?:\w+ )?(?:call|calling) me|"
    r"\bwhose\b|\bwhat(?:'s|’s| is| was) the name of (?:the|my|our|that)\b|"
    r"\b(?:which|what) \w+(?: \w+)? (?:do|did|am|are|were) (?:i|we)\b|\b(?:am i|are we) (?:in|living|based|from)\b|"
    r"\bbet you (?:can'?t|cannot|don'?t|won'?t|forgot)\b|\b(?:given|after|with|from|remember(?:ing)?|based on) what i (?:told|said|mentioned)|"
    r"\blike i (?:said|told you|mentioned)\b|\bname,? please\b|\bspell my name|\bsay my name|\bmy (?:real |actual )?name\b[^.!]*\?)", re.I)

# Words that say what a question is about, per kind of fact.
_CUES: dict[str, tuple[str, ...]] = {
    "name": ("my name", "who am i", "call me", "am i called", "name again"),
    "home": ("live", "living", "moved", "move", "city", "based", "home", "town", "where do i", "where did i"),
    "from": ("from", "grew up", "country", "originally", "born"),
    "job": ("work", "job", "living", "profession", "career", "do i do"),
    "plays": ("instrument", "play"),
    "age": ("old", "age", "birthday"),
    "studies": ("study", "studying", "major", "degree", "course", "uni", "university", "college"),
    "learning": ("learn", "learning", "language", "duolingo", "speak"),
    "moving to": ("moving", "move", "relocat"),
}
_PETS = {"dog", "puppy", "cat", "kitten", "rabbit", "bunny", "hamster", "parrot", "bird", "fish", "horse", "lizard",
         "snake", "tortoise", "turtle", "guinea pig", "ferret", "goldfish", "beagle", "labrador", "poodle", "terrier",
         "collie", "spaniel", "pug", "husky"}
CUE_BONUS = 0.35
KIND_BONUS = 0.15    # more when the question names the fact's own kind ("what's my hobby?")
# A question about the user's own name (not "my brother's name"): the name fact answers it.
_OWN_NAME = re.compile(r"\b(?:my (?:real |actual )?name|who am i|call(?:ing)? me|which one of us am i)\b", re.I)
OWN_NAME_BONUS = 1.0  # enough to answer whatever else the question mentions
ANSWER_BAR = 0.5     # similarity + bonus a fact needs to answer a question
MAX_ANSWERS = 2
MAX_QUOTES = 2
SPAN_SENTENCES = 5  # the best matching sentences an answer is looked for in


_QUESTION = re.compile(r"\?|^\s*(?:who|what|where|which|how|do you|did you|can you|could you|tell me|say|spell|name|"
                       r"whats|wheres|whos|hows)\b", re.I)
_ABOUT_ME = re.compile(r"\b(?:my|me|i|mine|i'm|im|i've|us)\b", re.I)
_MEMORY_WORD = re.compile(r"\b(?:remember\w*|recall|forg[eo]t\w*|again|name\w*|call(?:ed)? me|call me|told|said|mentioned|"
                          r"who|where|which|how old|what|whats)\b"
                          # a count of the user's own: "how many kids do I have?", "how long have me and my husband..."
                          r"|\bhow (?:many|long|old)\b[^?]*\b(?:do i have|have i|i have|did i|will i|me and my|my)\b",
                          re.I)
_ADVICE = re.compile(r"\b(?:should i|how (?:do|can|could|would) i|what (?:do|should|would|can) you (?:think|suggest|recommend)|"
                     r"any (?:tips|ideas|advice|suggestions)|can you help|what would you|what can i|what should|"
                     r"how do people|is it (?:weird|normal|bad|okay|ok))\b", re.I)


_ABOUT_BOT = re.compile(r"\b(?:what|where|who|how)(?:'s|’s| is| was| do| did|'d| would| are)? (?:you|your)\b|"
                        r"\byour (?:name|cat|pet|job|work|city|home|hobb\w*)\b|\babout yourself\b|\bwho am i talking to\b|"
                        r"\bguess my\b|\bwhat do you call\b", re.I)


def asks_about_friend(message: str) -> bool:
    """A question about the friend itself ("where do you live?", "who am I talking to?")."""
    return bool(_ABOUT_BOT.search(message))


def asks_friends_name(message: str) -> bool:
    return bool(re.search(r"\byour name|\bwho (?:are you|am i talking to|is this)|\bwhat (?:should|do) i call you|"
                          r"\bwhat are you called", message, re.I))


def asks_about_self(message: str) -> bool:
    """Does the message ask what the user told? ("what's my dog called?", "which team do I support?")"""
    if _ABOUT_BOT.search(message) and not re.search(r"\b(?:what|who)(?:'s|’s| is| was)? my\b|\bmine\b|\bcall(?:ing)? me\b|"
                                                    r"\bmy name\b", message, re.I):
        return False  # a question about the friend itself (its persona answers it)
    if _ASKS_ABOUT_SELF.search(message):
        return True
    return bool(_QUESTION.search(message) and _ABOUT_ME.search(message) and _MEMORY_WORD.search(message)
                and not _ADVICE.search(message))


def _cues(fact: Fact) -> tuple[str, ...]:
    key = fact.key
    if key.endswith("'s name"):
        owned = key[:-len("'s name")]
        return (owned, *(("pet", "animal") if owned in _PETS else ()), *owned.split())
    if ":" in key:
        kind, thing = key.split(": ", 1)
        extra = {"likes": ("like", "love", "enjoy", "into", "hobby", "fan"), "dislikes": ("hate", "dislike", "stand"),
                 "allergic": ("allergic", "allergy", "eat"), "plays": ("play", "sport", "game"),
                 "has": ("have", "own", "got"),
                 "joined": ("join", "club", "sport", "class", "start", "team", "hobby", "took up", "signed up"),
                 "took up": ("took up", "start", "hobby", "sport", "new"),
                 "hobby": ("hobby", "hobbies", "free time", "for fun", "pastime", "into")}.get(kind, ())
        return (*extra, *[w for w in thing.split() if len(w) > 3])
    if key.startswith("favourite "):
        thing = key[len("favourite "):]
        return ("favourite", "favorite", *thing.split())
    return _CUES.get(key, ())


def _kind_words(fact: Fact) -> tuple[str, ...]:
    """The words naming what a fact is about: "dog" for the dog's name, "hobby" for a hobby."""
    key = fact.key
    if key.endswith("'s name"):
        return (key[:-len("'s name")],)
    if ":" in key:
        kind = key.split(": ", 1)[0]
        return {"hobby": ("hobby", "hobbies"), "allergic": ("allergic", "allergy", "allergies")}.get(kind, (kind,))
    return ()


def _mentions(question: str, cue: str) -> bool:
    return re.search(rf"\b{re.escape(cue)}", question) is not None


HINT_BAR = 0.15      # below QUOTE_BAR: given to the model as a hint, not insisted on
QUOTE_BAR = 0.3       # similarity + overlap an earlier sentence of the user's needs to answer a question
OVERLAP_WEIGHT = 0.2  # per content word the question and the sentence share (MiniLM alone ranks them poorly)
_GENERIC = set("""remember remind recall forget forgot forgotten name names named call called again told tell said say
mention mentioned know think question quiz random bet wait guess sure right thing things actually already scrolling
scroll please real gonna going want""".split())
_STOP = set("""a an the and or but so to of in on at for with from by about as is are was were be been am i me my
mine you your it its this that these those he she him her his they them their we our what who where when which how
do does did have has had not no yes just like really very too also then than there here can could would should will
up out over into off again ok okay lol haha yeah""".split())


@dataclass
class Recall:
    asked: bool               # the message asks about the user's own things
    facts: list[Fact]         # the facts that answer it
    quotes: list[str] = field(default_factory=list)  # else: the user's earlier sentences that answer it
    hints: list[str] = field(default_factory=list)   # sentences that may answer it (weaker: the model decides)
    answers: list[Answer] = field(default_factory=list)  # answers found inside the user's earlier sentences

    @property
    def answered(self) -> bool:
        return bool(self.facts or self.quotes or self.answers)

    @property
    def values(self) -> list[str]:
        """What a reply that remembers must say."""
        return [f.value for f in self.facts] + [a.value for a in self.answers]


class FactFinder:
    """`similarity(texts, to)` is MiniLM's (ml/sentence_encoder.py) or any stand-in in tests."""

    def __init__(self, similarity: Callable[[Sequence[str], str], list[float]] | None = None):
        self.similarity = similarity

    def find(self, message: str, facts: list[Fact], said: list[str] = ()) -> Recall:
        """`said`: earlier sentences of the user's, for what no fact pattern caught."""
        if not asks_about_self(message):
            return Recall(False, [])
        found = self._facts(message, facts) if facts else []
        # Sentences too, unless the facts answer it whole: "what do I play, and who's my sister?"
        # may have one part in a fact and the other only in the user's words.
        said = [s for s in said if not any(contains_value(s, f) for f in found)]
        if len(found) >= MAX_ANSWERS or not said or self.similarity is None:
            return Recall(True, found)
        answers = self._answers(message, found, facts, said)
        said = [s for s in said if not any(a.sentence == s for a in answers)]
        if len(found) + len(answers) >= MAX_ANSWERS or not said:
            return Recall(True, found, answers=answers)
        scores = self._scores(said, message)
        ranked = sorted(range(len(said)), key=lambda i: -scores[i])
        quotes = [] if answers else [said[i] for i in ranked[:MAX_QUOTES - len(found)] if scores[i] >= QUOTE_BAR]
        hints = ([said[i] for i in ranked[:MAX_QUOTES] if HINT_BAR <= scores[i] < QUOTE_BAR]
                 if not found + quotes + answers else [])
        return Recall(True, found, quotes, hints, answers)

    def _scores(self, said: Sequence[str], question: str) -> list[float]:
        return [similarity + OVERLAP_WEIGHT * shared_words(sentence, question)
                for sentence, similarity in zip(said, self.similarity(list(said), question))]

    def _answers(self, message: str, found: list[Fact], facts: list[Fact], said: list[str]) -> list[Answer]:
        """For each part of the question no fact answers, the answer inside the user's best
        matching sentences ("who did I go with?" -> "Arjun")."""
        parts = question_parts(message)
        answers: list[Answer] = []
        own_name = [f.value for f in facts if f.key == "name"]
        for part in parts:
            asks_own_name = _OWN_NAME.search(part)
            kind = answer_kind(part)
            covering = [f for f in found if (len(parts) == 1 or any(_mentions(part.lower(), c) for c in _cues(f)))
                        and (f.key == "name" or not asks_own_name) and fits(kind, f.value)]
            if covering:
                continue
            scores = self._scores(said, part)
            top = sorted(range(len(said)), key=lambda i: -scores[i])[:SPAN_SENTENCES]
            given = [f.value for f in found] + [a.value for a in answers]
            # "can you name both of my cats?": two answers from one part
            for _ in range(2 if re.search(r"\b(?:both|two|all)\b", part, re.I) else 1):
                answer = find_answer(part, [said[i] for i in top], [scores[i] for i in top],
                                     excluded=given + ([] if asks_own_name else own_name))
                if answer is None:
                    break
                answers.append(answer)
                given.append(answer.value)
        return answers[:MAX_ANSWERS - len(found)]

    def _facts(self, message: str, facts: list[Fact]) -> list[Fact]:
        question = message.lower()
        similarities = self.similarity([f.text for f in facts], message) if self.similarity else [0.0] * len(facts)
        scored = []
        for fact, similarity in zip(facts, similarities):
            bonus = CUE_BONUS if any(_mentions(question, cue) for cue in _cues(fact)) else 0.0
            if bonus and any(_mentions(question, word) for word in _kind_words(fact)):
                bonus += KIND_BONUS
            if fact.key == "name" and _OWN_NAME.search(message):
                bonus = OWN_NAME_BONUS
            if similarity + bonus >= ANSWER_BAR or (bonus and not self.similarity):
                scored.append((similarity + bonus, fact))
        scored.sort(key=lambda pair: -pair[0])
        return [fact for _, fact in scored[:MAX_ANSWERS]]


def contains_value(reply: str, fact: Fact) -> bool:
    """Does the reply say the fact's value? A long value ("nurse in Leeds") counts when most of
    its words are there."""
    reply_words = set(re.findall(r"[a-z0-9]+", reply.lower()))
    words = [w for w in re.findall(r"[a-z0-9]+", fact.value.lower()) if len(w) > 2 or w.isdigit()]
    if not words:
        return fact.value.lower() in reply.lower()
    return sum(w in reply_words for w in words) * 2 >= len(words)


def _stems(text: str) -> set[str]:
    return {w[:5] for w in re.findall(r"[a-z0-9']+", text.lower())
            if w not in _STOP and w not in _GENERIC and len(w) > 2}


def shared_words(sentence: str, question: str) -> int:
    return len(_stems(sentence) & _stems(question))


def quote_words(quote: str, question: str) -> set[str]:
    """The words of an earlier sentence that a reply drawing on it would say: not in the
    question, not small words."""
    asked = set(re.findall(r"[a-z0-9']+", question.lower()))
    return {w for w in re.findall(r"[a-z0-9']+", quote.lower()) if w not in _STOP and w not in asked and len(w) > 2}


def draws_on_quote(reply: str, quote: str, question: str) -> bool:
    words = quote_words(quote, question)
    return not words or bool(words & set(re.findall(r"[a-z0-9']+", reply.lower())))


# A question typed without its "?" ("how do parents of sporty kids survive") tells nothing.
_UNMARKED_QUESTION = re.compile(r"\s*(?:how (?:do|does|can|could|should|would|often|is|are)|why|should (?:i|we)|could (?:i|you)|would (?:i|you)|can (?:i|you)|"
                                r"is (?:it|there|that)|are (?:there|they)|does|do (?:you|i|people)|anyone|any (?:tips|ideas|advice))\b",
                                re.I)


def first_person_sentences(messages: Sequence[str]) -> list[str]:
    """The sentences of the user's messages that could tell something about them (not questions)."""
    sentences = []
    for message in messages:
        for sentence in re.split(r"(?<=[.!?])\s+|\n+", message):
            sentence = sentence.strip()
            if 2 <= len(sentence.split()) <= 60 and not sentence.endswith("?") \
                    and not _UNMARKED_QUESTION.match(sentence):  # 2: "it's Bartek."
                sentences.append(sentence)
    return sentences


class MiniLMSimilarity:
    """MiniLM loaded on first use (a memory question), from the model thread, once."""

    def __init__(self):
        import threading

        self._encoder = None
        self._lock = threading.Lock()

    def __call__(self, texts: Sequence[str], to: str) -> list[float]:
        with self._lock:
            if self._encoder is None:
                from ml.sentence_encoder import SentenceEncoder

                self._encoder = SentenceEncoder()
        return self._encoder.similarity(texts, to)


def says(reply: str, value: str) -> bool:
    """Does the reply say a value found in the user's words ("Arjun", "tour guide")?"""
    return contains_value(reply, Fact("", "", value))
