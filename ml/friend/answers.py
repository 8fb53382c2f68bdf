"""The answer inside something the user said in passing: "who dragged me round the park?" ->
"biscuit", out of "my corgi biscuit dragged me round the entire park for like an hour".

No fact pattern catches most things told in passing, and telling the whole sentence back reads
oddly (the tone model took "You told me: your cats are a criminal duo" as hostile). So the
question says what kind of answer it wants (a name, a place, a number, or the thing after one
of its verbs), and each candidate of that kind in the user's best-matching sentences is scored
by how near it stands to the question's own words. Rules, not a reading model: the friend's
135M chat model answers no better, and these are cheap and testable.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from ml.friend.facts import NOT_A_NAME


@dataclass(frozen=True)
class Answer:
    value: str      # what a reply that remembers must say: "Biscuit"
    sentence: str   # the user's sentence it came from
    kind: str       # "name", "place", "number" or "thing"


ANSWER_BAR = 0.6  # sentence match + the candidate's own signs: below it, no answer is better than a guess
_WORD = re.compile(r"[^\W\d_][\w'’-]*|\d+(?:[.,]\d+)?", re.UNICODE)
# Words that never answer: small words, and ordinary words a capital or a "my X" may precede.
_SMALL = set("""a an the and or but so to of in on at for with from by about as is are was were be been being am i
me my mine you your yours it its this that these those he she him her his they them their we our us what who where
when which how why do does did done have has had not no yes just like really very too also then than there here can
could would should will shall may might must up out over into off again ok okay lol haha yeah yes nah oh ah um
some any all every each both one two three four five six seven eight nine ten first last next new old little big
more most much many such own same other another only even still already ever never always sometimes today tonight
tomorrow yesterday now later soon week weekend month year years day days time morning evening night home work
honestly literally actually basically probably maybe kinda sorta anyway btw omg lmao rn pls thanks thank please
got get gets getting go goes going went gone come came make made take took say said says tell told know knew think
thought want wanted need needed feel felt keep kept let put see saw look looked try tried give gave find found
love loves loved like likes liked hate hated mean means meant call called named name everyone everything someone
something nothing nobody somebody anyone anything people person thing things way lot bit kind sort whole entire
""".split())
_MONTHS_DAYS = set("""january february march april may june july august september october november december monday
tuesday wednesday thursday friday saturday sunday christmas easter""".split())
# The animals a user may keep, and the nouns for the people and animals in a user's life: the
# word after one may be a name ("my corgi biscuit", "my sister Claire").
_ANIMALS = set("""dog puppy cat kitten rabbit bunny hamster parrot bird fish horse lizard snake tortoise turtle gecko
ferret goldfish beagle labrador poodle terrier collie spaniel pug husky corgi greyhound dachshund retriever chihuahua
budgie cockatiel pony dragon""".split())
_RELATION = _ANIMALS | {"dogs", "cats", "pet", "pets"} | set("""son daughter kid kids baby sister brother sibling mum
mom mother dad father parents wife husband partner girlfriend boyfriend fiance fiancee fiancé fiancée friend mate bestie
boss manager colleague coworker roommate flatmate housemate neighbour neighbor grandma gran nan granny grandmother
grandpa grandad granddad grandfather aunt auntie uncle cousin niece nephew twin teacher coach doctor therapist""".split())
_KIND_OF_ANIMAL = re.compile(r"\b(?:kind|type|breed|sort) of (?:dog|cat|pet|animal|bird|snake|lizard|fish)\b|"
                             r"\bwhat (?:pet|animal)\b", re.I)
_APPOSITIVE = re.compile(r"\s*(?:\(|,|,? (?:is|was|who'?s|who is))\s*(?:my|our) (?:\w+ )?(\w+)")
_DOING = set("""has had is was and just keeps kept got said says will can does did sat ran ate came went knocked
loves hates wants thinks""".split())
_INTRO_BEFORE = re.compile(r"(?:^|[^\w'’])(?:it'?s|it’s|i'?m|i’m|i am|this is|call me|me,)\s*$", re.I)
_OWN_NAME = re.compile(r"\b(?:my (?:real |actual )?name|who am i|call me|which one of us am i)\b", re.I)
_CUE_BEFORE_NAME = re.compile(r"\b(?:named|called|name(?:'s|’s| is| was))\s*$", re.I)
_PLACE_BEFORE = re.compile(r"\b(?:in|to|from|at|near|around|visiting|visit|left|leaving)\s*$", re.I)
_PLACE_CUE = re.compile(r"\b(?:live|living|lived|based|moved|moving|move|from|grew up|here in|back in|out in|"
                        r"relocated|settled)\b[^.!?]{0,25}$", re.I)
_NUMBER_WORDS = set("""one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen
seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred""".split())
_TITLE = re.compile(r"\b(?:The |A )?[A-Z][\w'’-]+(?: (?:of|the|and|in|on|a|de|del|la|le|[A-Z][\w'’-]+))*"
                    r" [A-Z][\w'’-]+\b")
_JOB = re.compile(r"\b(?:i'?m|i’m|im|i am|being|work(?:ing)? as|job as|trained as|as) (?:a|an|the) "
                  r"((?:[a-z-]+ ){0,2}?[a-z-]+?)(?= in | at | for | on | with | and | but | so | here| there| who|"
                  r"[,.!;:)(]|$)", re.I)
# Where one works or what one studies, said without "I'm a ...": "six years at the aquarium now",
# "second year of marine biology", "doing a degree in law".
_WORKPLACE = re.compile(r"\b(?:work(?:ing|s)? (?:at|in|for)|job (?:at|in)|years? (?:at|with)|shifts? at|"
                        r"employed (?:at|by))\s+(?:the |a |an )?((?:[\w'’-]+ ){0,2}?[\w'’-]+?)"
                        r"(?= now| for| in | and | but | so |[,.!;:)(]|$)", re.I)
_STUDY = re.compile(r"\b(?:year of|studying|degree in|major(?:ing)? in|phd in|masters? in|course in|"
                    r"diploma in|student of|(?:thesis|dissertation) (?:on|about))\s+(?:the |a |an )?"
                    r"((?:[\w'’-]+ ){0,2}?[\w'’-]+?)(?= and | but | so | at | in | for |[,.!;:)(]|$)", re.I)
_STUDY_QUESTION = re.compile(r"\b(?:study|studying|studies|major|degree|course|thesis|dissertation|subject)\b", re.I)
_JOB_QUESTION = re.compile(r"\b(?:work|job|living|profession|career)\b|\bwhat\b.*\bi do\b", re.I)


def answer_kind(question: str) -> str:
    q = question.lower()
    if re.search(r"\bhow (?:old|many|much|long)\b|\bwhat age\b|\bwhich year\b|\bnumber\b", q):
        return "number"
    if re.search(r"\bwhere\b|\b(?:city|town|country|village|place|based)\b", q):
        return "place"
    if re.search(r"\bwho(?:'s|’s| is| was| did| do| were)?\b|\bname\w*\b|\bcalled\b|\bcall me\b|\bspell\b|"
                 r"\bwhich one of us\b", q):
        return "name"
    return "thing"


def question_parts(question: str) -> list[str]:
    """"what do I play, and who's the sister?" -> two questions, each answered on its own."""
    parts = re.split(r"(?:[,;?]\s*|\s)(?:and|&|also|plus)\s+(?=(?:what|who|where|which|how|when|whats|what's)\b)"
                     r"|\?\s+(?=\w)", question, flags=re.I)
    parts = [p.strip() for p in parts if p and len(p.split()) >= 2]
    return parts or [question]


def _words(sentence: str) -> list[re.Match]:
    return list(_WORD.finditer(sentence))


def _stem(word: str) -> str:
    return word.lower().replace("’", "'")[:5]


def _ordinary(word: str) -> bool:
    w = word.lower().replace("’", "'")
    return (w in _SMALL or w in _MONTHS_DAYS or w in _RELATION or "'" in w or len(w) < 2
            or w.endswith(("ing", "ly")) or (w.endswith("ed") and len(w) > 4))


def _name_candidates(sentence: str, words: list[re.Match], own: bool = False) -> list[tuple[int, float]]:
    """(word index, prior) for words that may be a name. `own`: the user's own name is asked
    for, so "I'm Kofi" counts for more and "my dad Kwame" against."""
    others = -0.8 if own else 0.8
    found = []
    for i, match in enumerate(words):
        word = match[0]
        if _ordinary(word) or word.isdigit() or word in NOT_A_NAME:
            continue
        before = sentence[:match.start()]
        prior = 0.0
        starts = not i or bool(re.search(r"[.!?]\s*$", before))
        doing = i + 1 < len(words) and words[i + 1][0].lower() in _DOING and \
            not re.search(r"[,.!?;:]", sentence[match.end():words[i + 1].start()])
        if word[0].isupper():
            prior += 0.3 if starts else 0.5  # sentence-initial capitals are weaker...
        if doing and (word[0].isupper() or starts or i and words[i - 1][0].lower() == "and"):
            prior += 0.3  # ...unless someone does something: "Gustave has been", "and chutney just sat"
        if _INTRO_BEFORE.search(before) or (starts and re.match(r"\s*(?:here|speaking)\b", sentence[match.end():])):
            prior += 1.0 if own else 0.5  # "it's Bartek", "I'm Kofi", "Sigrid here"
        if _PLACE_BEFORE.search(before):
            prior -= 0.4  # "in Gdańsk" is more likely a place
        if _CUE_BEFORE_NAME.search(before):
            prior += 1.0
        if i and words[i - 1][0].lower() in _RELATION:
            prior += others  # "my corgi biscuit", "my sister Claire"
        appositive = _APPOSITIVE.match(sentence[match.end():match.end() + 40].lower())
        if appositive and appositive[1] in _RELATION:
            prior += others  # "Arjun (my partner", "Renata, my girlfriend", "he's my leopard gecko"
        if prior >= 0.5 or (doing and prior >= 0.3):
            found.append((i, prior))
    return found


def _place_candidates(sentence: str, words: list[re.Match]) -> list[tuple[int, float]]:
    found = []
    for i, match in enumerate(words):
        word = match[0]
        if _ordinary(word) or word.isdigit():
            continue
        before = sentence[:match.start()]
        prior = 0.0
        if _PLACE_BEFORE.search(before):
            prior += 0.5
            if _PLACE_CUE.search(before):
                prior += 0.5
        if word[0].isupper() and i and not re.search(r"[.!?]\s*$", before):
            prior += 0.4
        elif not prior:
            continue
        if i and words[i - 1][0].lower() in _RELATION | {"my", "the", "a", "an"}:
            continue  # "my brother", "the shipyard": not a place's name
        if prior >= 0.5:
            found.append((i, prior))
    return found


def _direction_bonus(question: str, sentence: str, at: re.Match) -> float:
    """"where did I move from?" wants the place after "from"; "where do I live now?" the one after "to"/"in"."""
    before = sentence[:at.start()].lower().rstrip()
    wants_from = re.search(r"\bfrom\b|\boriginally\b|\bgrew up\b|\bborn\b", question, re.I)
    if before.endswith("from"):
        return 0.4 if wants_from else -0.2
    if before.endswith((" to", " in")) and not wants_from:
        return 0.2
    return 0.0


def _number_candidates(sentence: str, words: list[re.Match]) -> list[tuple[int, float]]:
    found = []
    for i, m in enumerate(words):
        if not (m[0].isdigit() or m[0].lower() in _NUMBER_WORDS):
            continue
        prior = 0.8 if m[0].isdigit() else 0.5
        after, before = sentence[m.end():m.end() + 12].lower(), sentence[max(0, m.start() - 12):m.start()].lower()
        if re.match(r"\s+of (?:mine|ours|us)\b", after) or re.search(r"\b(?:my|our|i have|i've got|ive got)\s+$", before):
            prior += 1.4  # "all four of mine", "my 3 kids": the user's own count, above a count near the asked word
        elif re.search(r"(?:'s|’s|s')\s+$", before):
            prior -= 0.4  # "my neighbour's two": someone else's
        found.append((i, prior))
    return found


def _counts_what_was_asked(question_stems: set[str], words: list[re.Match], at: int) -> bool:
    """"how many guests?" and "90 guests": the number counts the thing asked about."""
    return any(_stem(w[0]) in question_stems for w in words[at + 1:at + 3])


def _thing_span(question: str, sentence: str) -> tuple[str, float] | None:
    """The thing after the question's own verb in the sentence ("what do I play?" + "I play
    oboe in a band" -> "oboe"), or the job a job question asks for."""
    if _JOB_QUESTION.search(question):
        for pattern in (_JOB, _WORKPLACE):
            if (job := pattern.search(sentence)) and job[1].split()[0].lower() not in _SMALL:
                return job[1].strip(), 1.0
    if _KIND_OF_ANIMAL.search(question):
        # "what kind of dog do I have?" + "my greyhound has discovered the sofa" -> "greyhound"
        animal = re.search(r"\b(?:my|our) (?:[\w-]+ )?(" + "|".join(sorted(_ANIMALS)) + r")s?\b", sentence, re.I)
        if animal and animal[1].lower() not in question.lower():
            return animal[1], 1.0
    if _STUDY_QUESTION.search(question) and (study := _STUDY.search(sentence)) \
            and study[1].split()[0].lower() not in _SMALL:
        return study[1].strip(), 1.0
    asked = [w[0].lower() for w in _words(question) if w[0].lower() not in _SMALL and len(w[0]) > 2]
    asked_set = set(asked)
    words = _words(sentence)
    if re.search(r"\b(?:what|which) (?:book|film|movie|show|song|album|band|game|team|series|play)\b", question, re.I) \
            and (title := _TITLE.search(sentence)):
        return title[0], 0.9  # "The Remains of the Day"
    for i, match in enumerate(words):
        if not any(_stem(match[0]) == _stem(a) for a in asked):
            continue
        span, end = [], match.end()
        for following in words[i + 1:i + 6]:
            w, gap = following[0].lower(), sentence[end:following.start()]
            if re.search(r"[,.!?;:()]", gap):
                break
            end = following.end()
            if not span and w in {"the", "a", "an", "my", "our", "some", "about", "with", "on"}:
                continue
            if w in _SMALL:
                break
            if w in asked_set:
                if span:
                    break
                continue
            span.append(following[0])
            if len(span) == 3:
                break
        if span:
            return " ".join(span), 0.7
    return None


def _near(question_stems: set[str], words: list[re.Match], at: int, window: int = 7) -> int:
    lo, hi = max(0, at - window), at + window + 1
    return sum(_stem(w[0]) in question_stems for j, w in enumerate(words[lo:hi], lo) if j != at)


_CANDIDATES = {"name": _name_candidates, "place": _place_candidates, "number": _number_candidates}


def find_answer(question: str, sentences: Sequence[str], scores: Sequence[float],
                excluded: Sequence[str] = ()) -> Answer | None:
    """The best span of the kind the question asks for, among the sentences (scores: how well
    each matches the question, best first or not). `excluded`: values it must not be (the
    user's own name when asking about someone else)."""
    kind = answer_kind(question)
    if kind == "place" and _JOB_QUESTION.search(question):
        kind = "thing"  # "where do I work?": the workplace, said any way ("years at the aquarium")
    question_stems = {_stem(w[0]) for w in _words(question) if w[0].lower() not in _SMALL and len(w[0]) > 2}
    question_words = {w[0].lower().replace("’", "'").split("'")[0] for w in _words(question)}
    skip = {e.lower() for e in excluded}
    best: tuple[float, Answer] | None = None
    for sentence, score in zip(sentences, scores):
        if kind == "thing":
            found = _thing_span(question, sentence)
            if found:
                value, prior = found
                candidate = (score + prior, Answer(value, sentence, kind))
                if best is None or candidate[0] > best[0]:
                    best = candidate
            continue
        words = _words(sentence)
        candidates = (_name_candidates(sentence, words, own=bool(_OWN_NAME.search(question))) if kind == "name"
                      else _CANDIDATES[kind](sentence, words))
        for at, prior in candidates:
            value = words[at][0]
            if kind in ("name", "place"):  # "Torres del Paine", "Lech Poznań": capitals that follow
                end = at + 1
                while end < len(words) and words[end][0][:1].isupper() and not _ordinary(words[end][0]) \
                        and sentence[words[end - 1].end():words[end].start()] == " " and end - at < 3:
                    end += 1
                value = sentence[words[at].start():words[end - 1].end()]
            if value.lower().split("'")[0] in question_words or value.lower() in skip:
                continue  # the question's own words are not its answer
            total = score + prior + 0.3 * _near(question_stems, words, at)
            if kind == "place":
                total += _direction_bonus(question, sentence, words[at])
            if kind == "number" and _counts_what_was_asked(question_stems, words, at):
                total += 0.6
            if best is None or total > best[0]:
                best = (total, Answer(value[:1].upper() + value[1:] if kind == "name" else value, sentence, kind))
    return best[1] if best and best[0] >= ANSWER_BAR else None


def told_back(answers: Sequence[Answer]) -> str:
    """A short reply that says what was remembered without repeating the user's sentence (told
    back whole, the tone model read some as hostile): "Oboe and Claire! I remember you telling me."."""
    values = [a.value for a in answers]
    said = values[0] if len(values) == 1 else ", ".join(values[:-1]) + " and " + values[-1]
    # "..., if I remember right!" read as passive-aggressive to the tone model for 2 of 19
    # values ("90, if I remember right!"); this phrasing for none of them.
    return f"{said[:1].upper() + said[1:]}! I remember you telling me."


def fits(kind: str, value: str) -> bool:
    """Can a remembered value answer a question of this kind? ("how many guests?" is not
    answered by "kieran")."""
    if kind == "number":
        return bool(re.search(r"\d", value)) or any(w in _NUMBER_WORDS for w in value.lower().split())
    return True
