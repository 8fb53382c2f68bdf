"""Who is who: a reply must not take the user's facts as the bot's own, nor call the user by a
name they never gave.

Rules, not a model: SmolLM2-135M mixes up "you" and "I" often enough that it needs a check,
and the check has to be exact to be worth its retry. Two mistakes are caught:
  * claiming: a sentence that says a remembered value (Biscuit, the cello, Lisbon) with the
    bot as its owner: a first-person word ("my", "I", "I've") nearer before the value than
    any "you"/"your" ("my dog Biscuit", "I play the cello too", "I love living in Lisbon");
  * naming: the user addressed by a name ("Hi Amar!", "Amar, a cello player!", "Nice to meet
    you, Amar.", "your name is Amar") that is neither their display name, nor a name they told,
    nor a name that appears in what they said.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ml.friend.facts import NOT_A_NAME, Fact

_SENTENCES = re.compile(r"(?<=[.!?…])\s+|\n+")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
_FIRST_PERSON = {"i", "i'm", "i’m", "i've", "i’ve", "i'd", "i’d", "i'll", "i’ll", "my", "mine", "me", "myself", "we", "our"}
_SECOND_PERSON = {"you", "your", "yours", "you're", "you’re", "you've", "you’ve", "yourself", "you'd", "you'll", "u", "ur"}
CLAIM_WINDOW = 6  # words before the value in which a first-person owner counts

# Words that stand where a name would ("Well, ...", "Hi there") but are not names.
_NOT_NAMES = set("""
well oh ah aw aww ahh wow ooh yay phew whoa hmm hm um uh ugh haha hah lol yes yeah yep yup no nope nah sure
okay ok alright right true exactly agreed absolutely definitely totally indeed honestly seriously actually
anyway anyways so now then still also plus but and or first next finally lastly however besides meanwhile
sadly luckily unfortunately fortunately personally basically perhaps maybe hey hi hello hiya howdy yo
thanks thank sorry welcome congrats congratulations cheers great good nice cool awesome perfect fine lovely
wonderful amazing friend friends buddy pal mate dear darling sweetie sweetheart love hun honey there everyone
all folks guys you sir madam listen look see remember imagine wait please bye goodbye morning evening night
afternoon aha gosh geez jeez man dude bro sis boss champ superstar stranger neighbour neighbor
""".split())
_GREETING = r"(?:hi|hey|hello|hiya|howdy|dear|thanks|thank you|welcome|congrats|congratulations|sorry|cheers|bye|goodbye|good (?:morning|evening|night|afternoon)|oh|aw+|wow|yo)"
_NAME = r"([A-Z][a-z'’-]+)"
_ADDRESSING = [
    re.compile(rf"\b(?i:{_GREETING})[,!]?\s+{_NAME}\b"),               # "Hi Amar", "thanks, Amar"
    re.compile(rf"^{_NAME}[,!]\s"),                                     # "Amar, a cello player!"
    re.compile(rf",\s+{_NAME}\s*[.!?…]"),                               # "Nice to meet you, Amar."
    re.compile(rf"\byour name(?:'s| is)\s+{_NAME}\b", re.I),            # "your name is Amar"
    re.compile(rf"\byou(?:'re| are)\s+{_NAME}\b(?![ -]?(?:\w+ )?(?:player|fan))"),  # "you're Amar"
]


@dataclass(frozen=True)
class Problem:
    kind: str    # "claims" or "names"
    what: str    # for the log: "claims the user's cello"

    def __str__(self) -> str:
        return self.what


def _words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


def claimed_fact(reply: str, facts: list[Fact]) -> Problem | None:
    """The first user fact the reply speaks of as the bot's own, if any."""
    for sentence in _SENTENCES.split(reply):
        words = _words(sentence)
        for fact in facts:
            value = _words(fact.value)
            if not value:
                continue
            for at in range(len(words) - len(value) + 1):
                if words[at:at + len(value)] != value:
                    continue
                owner = None
                for word in reversed(words[max(0, at - CLAIM_WINDOW):at]):
                    if word in _FIRST_PERSON or word in _SECOND_PERSON:
                        owner = word
                        break
                if owner in _FIRST_PERSON:
                    return Problem("claims", f"claims the user's {fact.value} as its own")
    return None


ECHO_SHARE = 0.7  # a first-person reply sentence made mostly of the user's own words is their life, not the bot's


def echoes_user(reply: str, user_messages: list[str]) -> Problem | None:
    """The user's own first-person sentence said back as the bot's ("I'm a welder", after
    the user said "long week at the shipyard, I'm a welder")."""
    told = [set(_words(m)) for m in user_messages]
    for sentence in _SENTENCES.split(reply):
        words = [w for w in _words(sentence) if len(w) > 2]
        if len(words) < 3 or not _FIRST_PERSON & set(_words(sentence)):
            continue
        for said in told:
            if sum(w in said for w in words) >= ECHO_SHARE * len(words):
                return Problem("claims", f"says the user's own words as its own: {sentence[:60]!r}")
    return None


def names_used(reply: str) -> set[str]:
    """Names the reply addresses someone by."""
    found = set()
    for sentence in _SENTENCES.split(reply.strip()):
        for pattern in _ADDRESSING:
            for match in pattern.finditer(sentence):
                name = match.group(1)
                if name.lower() not in _NOT_NAMES:
                    found.add(name)
    return found


def wrong_name(reply: str, known_names: set[str]) -> Problem | None:
    known = {n.lower() for n in known_names}
    for name in sorted(names_used(reply)):
        if name.lower() not in known:
            return Problem("names", f"calls the user {name}, a name they never gave")
    return None


def known_names(*texts: str) -> set[str]:
    """Every capitalised word in what was said (the user's messages, facts, the persona, the
    display name): a name the reply uses must come from somewhere in here."""
    return {word for text in texts for word in _WORD.findall(text or "")}


_SELF_NAMING = re.compile(r"\b(?:I'?m|I’m|I am|my name is|my name's|call me|this is)\s+([A-Z][a-zA-Z'’-]+)\b|^([A-Z][a-z]+) here\b")
_PERSONA_NAME = re.compile(r"\bYou are ([A-Z][a-zA-Z'’-]+)\b")


def persona_name(persona: str) -> str | None:
    """"You are Robin, a warm ..." -> "Robin"."""
    found = _PERSONA_NAME.search(persona or "")
    return found.group(1) if found and found.group(1).lower() not in _NOT_NAMES else None


_PERSONA_CLAUSE = re.compile(r"\byou ((?:live|work|have|love|like|grew up|are from|come from)\b[^,.;]*(?-i:, [A-Z][^,.;]*)?)", re.I)
_ABOUT_YOU_CUES = {  # what a question about the friend asks -> the persona clause that answers it
    "live": r"\bwhere (?:do|did) you (?:live|stay)|\bvisit you\b|\bwhere(?:'s|’s| is) your home|\bwhere are you (?:from|based)|\bwhere(?:'d| would) .*\byou live|\byour (?:city|town)\b",
    "work": r"\b(?:what do you do|your job|do you work|for (?:a )?living|for work|where do you work)\b",
    "have": r"\b(?:pets?|cats?|dogs?|animals?)\b",
    "love": r"\b(?:hobb\w+|for fun|free time|what do you (?:like|love|enjoy)|interests?|do you like)\b",
}


def persona_answer(persona: str, question: str) -> tuple[str, str] | None:
    """For a question about the friend, (the word the reply must say, the persona's own sentence):
    "where do you live?" -> ("Galway", "I live in Galway, Ireland")."""
    clauses = {m.group(1).split()[0].lower(): m.group(1).strip() for m in _PERSONA_CLAUSE.finditer(persona or "")}
    for verb, cue in _ABOUT_YOU_CUES.items():
        if verb in clauses and re.search(cue, question, re.I):
            clause = clauses[verb]
            key = re.findall(r"\b[A-Z][a-z]+\b", clause) or [w for w in clause.split()[1:] if len(w) > 3][-1:]
            return (key[-1] if verb == "have" else key[0]) if key else clause, "I " + clause
    return None


def takes_another_name(reply: str, own_name: str | None) -> Problem | None:
    """The bot calling itself by a name that is not its persona's ("I'm DAN", "I'm Nova")."""
    if not own_name:
        return None
    for sentence in _SENTENCES.split(reply):
        for match in _SELF_NAMING.finditer(sentence):
            name = match.group(1) or match.group(2)
            if name.lower() not in _NOT_NAMES and name.lower() != own_name.lower() and name not in NOT_A_NAME:
                return Problem("self", f"calls itself {name}, not {own_name}")
    return None


def identity_problem(reply: str, facts: list[Fact], names: set[str], own_name: str | None = None,
                     user_messages: list[str] = ()) -> Problem | None:
    return (claimed_fact(reply, facts) or wrong_name(reply, names) or takes_another_name(reply, own_name)
            or echoes_user(reply, list(user_messages)))
