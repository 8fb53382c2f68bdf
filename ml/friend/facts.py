"""Facts a user tells about themselves ("my dog is called Biscuit", "I just moved to Lisbon"),
pulled out of their messages so the friend can bring them up later, after the turn itself has
left the prompt.

Each fact is kept in the third person ("The user's dog is called Biscuit"): the model is told
them as facts about the person it talks with, so it does not take them as its own. `value` is
the part a reply that remembers must contain ("Biscuit"), and what the identity check looks
for in a reply that claims it. Patterns, not a model: cheap, predictable, and easy to forget
on request. A key per fact, so a newer statement replaces an older one ("I live in Bergen").
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Fact:
    key: str    # what it is about: "dog's name", "name", "home", "plays", "likes: chess"
    text: str   # about the user, in the third person: "The user's dog is called Biscuit"
    value: str  # what answers a question about it: "Biscuit"

    @property
    def for_you(self) -> str:
        """The fact told back to the user: "Your dog is called Biscuit"."""
        return to_second_person(self.text)


_CAPITAL_NAME = r"([A-Z][a-zA-Z'’-]+(?: [A-Z][a-zA-Z'’-]+)?)"    # as typed: "Biscuit", "Mary Ann"
_ANY_NAME = r"([A-Za-z][a-zA-Z'’-]+(?: [A-Z][a-zA-Z'’-]+)?)"      # lowercase too: "call me jo"
_PHRASE = r"([^.!?,;]{2,60}?)"
_END = r"(?=\s*(?:[.!?,;:)]|$| and | but | so | because | now| btw| lol| haha| too\b| since| for | with | last | this | these days| on | every | at the))"
_OWNED = (r"(dog|puppy|cat|kitten|rabbit|bunny|hamster|parrot|bird|fish|horse|pet|son|daughter|kid|baby|"
          r"sister|brother|mum|mom|mother|dad|father|wife|husband|partner|girlfriend|boyfriend|fiance|fiancee|"
          r"fiancé|fiancée|friend|best friend|boss|roommate|flatmate|grandma|grandmother|grandpa|grandfather|"
          r"aunt|uncle|cousin|niece|nephew|twin|car|bike|band|team|plant|lizard|snake|tortoise|turtle|guinea pig|"
          r"ferret|goldfish|beagle|labrador|poodle|terrier|collie|spaniel|pug|husky)")
# Words that follow "I'm" capitalised without being a name.
NOT_A_NAME = set("""
I Im Ok Okay Fine Good Great Back Here Home Sorry Just So Not Really Very Still Also Always Never Sure
English Irish Scottish Welsh British American Canadian Mexican Brazilian Argentinian Chilean Peruvian Colombian
French German Dutch Belgian Swiss Austrian Italian Spanish Portuguese Greek Turkish Polish Czech Slovak Hungarian
Romanian Bulgarian Serbian Croatian Ukrainian Russian Swedish Norwegian Danish Finnish Icelandic Estonian Latvian
Lithuanian Chinese Japanese Korean Vietnamese Thai Filipino Indonesian Malaysian Indian Pakistani Bangladeshi
Nepali Iranian Iraqi Syrian Lebanese Israeli Egyptian Moroccan Nigerian Ghanaian Kenyan Ethiopian Somali
Australian Kiwi African Asian European Latina Latino Muslim Christian Jewish Hindu Buddhist Catholic Gay Trans
""".split())
_LANGUAGES = ("English|Spanish|Portuguese|French|German|Italian|Dutch|Greek|Turkish|Polish|Czech|Hungarian|Romanian|"
              "Ukrainian|Russian|Swedish|Norwegian|Danish|Finnish|Icelandic|Irish|Welsh|Gaelic|Japanese|Korean|Mandarin|"
              "Cantonese|Chinese|Vietnamese|Thai|Indonesian|Tagalog|Hindi|Urdu|Punjabi|Bengali|Arabic|Hebrew|Persian|"
              "Farsi|Swahili|Latin|Catalan|Basque|Esperanto|sign language|ASL|BSL")
_PAST = {"keeping": "kept", "playing": "played", "doing": "done", "making": "made", "growing": "grown",
         "running": "run", "knitting": "knitted", "painting": "painted", "collecting": "collected"}

_ARTICLE = re.compile(r"^(?:the|a|an|my|our|some)\s+", re.I)


def _value(phrase: str) -> str:
    return _ARTICLE.sub("", phrase.strip()).strip()


def _name_fact(match: re.Match) -> Fact | None:
    name = match[1].strip()
    if name.split()[0].capitalize() in NOT_A_NAME or len(name) < 2:
        return None
    name = name[:1].upper() + name[1:]
    return Fact("name", f"The user's name is {name}", name)


def _owned_name(match: re.Match) -> Fact:
    owned, name = match[1].lower(), match[2].strip()
    name = name[:1].upper() + name[1:]
    return Fact(f"{owned}'s name", f"The user's {owned} is called {name}", name)


def _phrase_fact(key: str, template: str):
    def make(match: re.Match) -> Fact | None:
        phrase = match[1].strip()
        value = _value(phrase)
        if not value or value.lower() in _EMPTY_OBJECTS or value.lower().startswith(("to ", "it ", "that ")):
            return None
        return Fact(key.format(value=value.lower()), template.format(phrase=phrase, value=value), value)
    return make


_PATTERNS: list[tuple[re.Pattern, callable]] = [
    # my dog is called Rex / my dog's name is Rex / my sister is named Ana / my dog, Rex,
    (re.compile(rf"\b(?i:my|our) {_OWNED}(?:'s name is|’s name is| is called| is named| called| named|'s called| name is)\s+{_ANY_NAME}"),
     _owned_name),
    (re.compile(rf"\b(?i:my|our) {_OWNED},? {_CAPITAL_NAME}\b"), _owned_name),
    # I have a dog named Rex / we adopted a beagle, his name's Waffles
    (re.compile(rf"\b(?:a|an) {_OWNED}\b[^.!?]{{0,40}}?\b(?:named|called|(?:his|her|its|their) name(?:'s| is))\s+{_ANY_NAME}", re.I),
     _owned_name),
    # my name is Ana / call me Ana / I'm called Ana / name's Ana / I'm Sam.
    (re.compile(rf"(?i:\bmy name is|\bmy name's|\bcall me|\bi am called|\bi'm called|\bim called|(?:^|[,.!:] )(?:the )?name's|^names)\s+{_ANY_NAME}"),
     _name_fact),
    (re.compile(rf"(?:^|[.!?,]\s*|\bhi,? |\bhey,? |\bhello,? )(?:[Ii]'m|[Ii]’m|[Ii] am|[Ii]m|this is)\s+{_CAPITAL_NAME}(?=\s*(?:[.!?,]|$| and | btw| here| by the way| from| -))"),
     _name_fact),
    # "Sigrid here 👋", "hi, Tom here": how people open a chat
    (re.compile(rf"(?:^|\bhi,? |\bhey,? |\bhello,? ){_CAPITAL_NAME} here\b"), _name_fact),
    (re.compile(rf"\b(?:i(?: am|'m|’m|m)|we(?:'re|’re| are)) (?:moving|about to move|going to move|relocating) to {_PHRASE}(?:{_END}|(?= in | next | soon\b))", re.I),
     _phrase_fact("moving to", "The user is moving to {phrase}")),
    (re.compile(rf"\bi (?:live|am living|'m living|’m living|am based|'m based|’m based|moved|just moved|recently moved|have moved|'ve moved|’ve moved|relocated) (?:in|to) {_PHRASE}{_END}", re.I),
     _phrase_fact("home", "The user lives in {phrase}")),
    (re.compile(rf"\bi(?: am|'m|’m|m) (?:originally )?from {_PHRASE}{_END}|\bi grew up in {_PHRASE}{_END}", re.I),
     lambda m: Fact("from", f"The user is from {(m[1] or m[2]).strip()}", _value(m[1] or m[2]))),
    (re.compile(rf"\bi work (?:as|at|in|for) {_PHRASE}{_END}", re.I),
     lambda m: Fact("job", f"The user works {m[0].split('work ', 1)[1].strip()}", _value(m[1]))),
    (re.compile(rf"\bmy job is {_PHRASE}{_END}|\bi(?:'m| am|’m) an? ((?:nurse|teacher|doctor|student|developer|programmer|engineer|designer|chef|cook|baker|lawyer|accountant|musician|writer|artist|farmer|pilot|driver|electrician|plumber|carpenter|mechanic|pharmacist|dentist|vet|scientist|researcher|librarian|barista|waiter|waitress|firefighter|paramedic|architect|photographer|translator|journalist|cashier|tutor|midwife|physiotherapist|software engineer|web developer|data scientist|graphic designer)){_END}", re.I),
     lambda m: Fact("job", f"The user works as {'a' if (m[1] or m[2])[0].lower() not in 'aeiou' else 'an'} {_value(m[1] or m[2])}", _value(m[1] or m[2]))),
    (re.compile(rf"\bi(?: am|'m|’m| study| am studying|'m studying|’m studying) (?:studying |a student of )?{_PHRASE}(?= at (?:uni|university|college|school)\b)", re.I),
     _phrase_fact("studies", "The user studies {phrase}")),
    (re.compile(rf"\bi (?:study|am studying|'m studying|’m studying) {_PHRASE}{_END}", re.I),
     _phrase_fact("studies", "The user studies {phrase}")),
    (re.compile(rf"\bi (?:play|have played|'ve played|’ve played|am learning|'m learning|’m learning) (?:the )?((?:piano|guitar|bass|cello|violin|viola|drums|flute|clarinet|saxophone|sax|trumpet|trombone|ukulele|harp|accordion|banjo|oboe|bassoon|harmonica|keyboard|organ|mandolin|double bass|tuba|french horn|bagpipes|sitar|tabla)){_END}", re.I),
     _phrase_fact("plays", "The user plays the {value}")),
    (re.compile(rf"\bi play ((?:football|soccer|basketball|tennis|chess|cricket|rugby|hockey|volleyball|golf|baseball|badminton|squash|handball|netball|padel|table tennis|ping pong|poker|[a-z]+ games?|video games)){_END}", re.I),
     _phrase_fact("plays: {value}", "The user plays {phrase}")),
    (re.compile(r"\bi(?: am|'m|’m) (\d{1,3})(?: years old| yrs old| y/o|\b(?! ?(?:minutes|hours|days|weeks|months|%|km|miles)))", re.I),
     lambda m: Fact("age", f"The user is {m[1]} years old", m[1])),
    (re.compile(rf"\bmy (?:absolute )?favou?rite ([a-z]+(?: [a-z]+)?) (?:is|are|has to be|would be) {_PHRASE}{_END}", re.I),
     lambda m: Fact(f"favourite {m[1].lower()}", f"The user's favourite {m[1].lower()} is {m[2].strip()}", _value(m[2]))),
    (re.compile(rf"\bi(?: am|'m|’m|m) (?:(?:so|very|really|seriously|severely|super|badly|deathly|quite|mildly) )?allergic to {_PHRASE}{_END}", re.I),
     _phrase_fact("allergic: {value}", "The user is allergic to {phrase}")),
    # "we joined a badminton club", "I just started pottery classes", "I took up running"
    # Chat often drops the "I": "signed up for a pottery class on wednesdays".
    (re.compile(r"(?:(?:\bi|\bwe|\bme and (?:my )?[a-z]+(?: [A-Z][a-z]+)?)(?: have|'ve|’ve)? |^\s*|[.!?]\s+)"
                r"(?:just |recently |finally )?"
                r"(?:joined|started|took up|signed up for|signed up to) "
                r"((?:a |an |the |some )?(?:[a-z]+ ){0,2}?(?:club|class|classes|lessons|team|course|group|choir|league))\b", re.I),
     _phrase_fact("joined: {value}", "The user joined {phrase}")),
    (re.compile(rf"\bi (?:took up|have taken up|'ve taken up|’ve taken up) {_PHRASE}{_END}", re.I),
     _phrase_fact("took up: {value}", "The user took up {phrase}")),
    (re.compile(rf"\b(?:i(?: am|'m|’m|m) learning|i(?: have|'ve|’ve)? (?:just )?started (?:learning|duolingo for|lessons in|classes in)|duolingo for|i(?: am|'m|’m) taking) "
                rf"({_LANGUAGES})\b", re.I),
     lambda m: Fact("learning", f"The user is learning {m[1][:1].upper() + m[1][1:]}", m[1][:1].upper() + m[1][1:])),
    # "i've kept bees for about four years", "I've been making bread for a year"
    (re.compile(rf"\bi(?: have|'ve|’ve) (?:been )?(kept|keeping|played|playing|done|doing|made|making|grown|growing|"
                rf"run|running|knitted|knitting|painted|painting|collected|collecting) {_PHRASE} "
                rf"((?:for|since) (?:about |over |nearly |almost |around )?(?:\d+|a|an|one|two|three|four|five|six|seven|"
                rf"eight|nine|ten|twenty|a few|several|many) (?:years?|months?))\b", re.I),
     lambda m: _long_kept(m[1], m[2], m[3])),
    (re.compile(rf"\bi (?:really )?(?:love|like|enjoy|adore) {_PHRASE}{_END}", re.I),
     _phrase_fact("likes: {value}", "The user likes {phrase}")),
    (re.compile(rf"\bi (?:really )?(?:hate|dislike|can't stand|can’t stand) {_PHRASE}{_END}", re.I),
     _phrase_fact("dislikes: {value}", "The user dislikes {phrase}")),
    (re.compile(rf"\bi (?:have|'ve got|’ve got|have got) ((?:a|an|two|three|four|\d+) [a-z]+(?: [a-z]+)?){_END}", re.I),
     _phrase_fact("has: {value}", "The user has {phrase}")),
]

def _long_kept(verb: str, phrase: str, duration: str) -> Fact | None:
    """A pastime the user has kept up: "The user has kept bees for about four years"."""
    value = _value(phrase)
    if value.lower() in _EMPTY_OBJECTS:
        return None
    done = _PAST.get(verb.lower(), verb.lower())
    return Fact(f"hobby: {value.lower()}", f"The user has {done} {phrase.strip()} {duration.lower()}", value)


# "I like you" or "I like it" say nothing worth remembering.
_EMPTY_OBJECTS = {"you", "it", "that", "this", "them", "him", "her", "to", "so", "a lot", "lot", "bit", "little",
                  "feeling", "question", "idea", "problem", "lot of work", "day", "good day", "bad day"}


# "my name is not Bartholomew. it's Bartek": the name comes after the denial, maybe a sentence later
_NAME_AFTER_DENIAL = re.compile(rf"(?i:\bmy name(?: is not|'s not|’s not| isn't| isn’t| isnt)\s+[\w'’-]+[.,;!]*\s+"
                                rf"(?:it's|it’s|its|it is|i'm|i’m|i am)\s+){_CAPITAL_NAME}\b")


def extract_facts(message: str) -> list[Fact]:
    found: dict[str, Fact] = {}
    denial = _NAME_AFTER_DENIAL.search(message)
    if denial and (fact := _name_fact(denial)) is not None:
        found["name"] = fact
    for sentence in re.split(r"(?<=[.!?])\s+|\n", message):
        if sentence.rstrip().endswith("?"):
            continue  # "do I like chess?" tells nothing
        for pattern, make in _PATTERNS:
            for match in pattern.finditer(sentence):
                fact = make(match)
                if fact is not None and fact.key not in found:
                    found[fact.key] = fact
    return list(found.values())


# ----- the user's facts told back to them ------------------------------------------------------
_IRREGULAR = {"is": "are", "has": "have", "was": "were", "does": "do", "goes": "go"}


def to_second_person(text: str) -> str:
    """"The user's dog is called Biscuit" -> "Your dog is called Biscuit"; "The user lives in
    Lisbon" -> "You live in Lisbon"."""
    if text.startswith("The user's "):
        return "Your " + text[len("The user's "):]
    if text.startswith("The user "):
        verb, _, rest = text[len("The user "):].partition(" ")
        if verb in _IRREGULAR:
            verb = _IRREGULAR[verb]
        elif verb.endswith("ies"):
            verb = verb[:-3] + "y"
        elif verb.endswith(("ches", "shes", "sses", "xes")):
            verb = verb[:-2]
        elif verb.endswith("s"):
            verb = verb[:-1]
        return f"You {verb} {rest}".strip()
    return text


_TO_YOU = {"i": "you", "i'm": "you're", "im": "you're", "i've": "you've", "ive": "you've", "i'd": "you'd",
           "i'll": "you'll", "my": "your", "me": "you", "mine": "yours", "myself": "yourself", "am": "are",
           "we": "you", "our": "your", "us": "you", "ours": "yours", "was": "were"}


def quote_to_second_person(sentence: str) -> str:
    """"my corgi biscuit dragged me round the park" -> "your corgi biscuit dragged you round the park"."""
    words = re.split(r"(\W+)", sentence.replace("’", "'"))
    out = []
    for index, word in enumerate(words):
        swapped = _TO_YOU.get(word.lower())
        if swapped and word.lower() == "was" and not (index >= 2 and words[index - 2].lower() in {"i", "we"}):
            swapped = None  # only "I was" becomes "you were"
        if swapped and word.lower() == "am" and not (index >= 2 and words[index - 2].lower() == "i"):
            swapped = None
        out.append(swapped if swapped else word)
    text = "".join(out)
    return text[:1].upper() + text[1:]


def value_of_stored(text: str) -> str:
    """The value of a fact stored before values were kept (its text's last words)."""
    for marker in (" is called ", " is named ", " is ", " in ", " as ", " at ", " the ", " likes ", " has "):
        if marker in text:
            return _value(text.rsplit(marker, 1)[1])
    return text.split()[-1] if text.split() else text
