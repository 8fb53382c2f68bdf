"""What kind of message this is, and the reply that fits it when the model's own will not do.

Kinds: "crisis" (thoughts of self-harm or suicide), "sad" (lonely, grieving, anxious, venting),
"long" (asks for a story or a long answer), "greeting", "thanks", "question", "chat".

A crisis message never goes to the model: it gets a caring reply with emergency numbers and
crisis lines, written here, because a 135M model must not improvise that. For every other kind
the model writes the reply; the fallbacks below are for when no attempt passed the checks in
the time budget. They are short, written for the kind of message, never a refusal.
"""
from __future__ import annotations

import re

_CRISIS = re.compile(
    r"\b(?:kill(?:ing)? my ?self|suicid\w*|end(?:ing)? (?:my|it) (?:life|all)|take my (?:own )?life|"
    r"(?:hurt(?:ing)?|harm(?:ing)?|cut(?:ting)?) my ?self|self[- ]?harm\w*|want(?:ed)? to die|wanna die|don'?t want to (?:live|be alive|exist|wake up)|"
    r"better off (?:dead|without me)|no (?:reason|point) (?:to|in) (?:live|living|going on)|can'?t go on|"
    r"not (?:want|wanting) to be here anymore|(?:don'?t|do not) want to be (?:here|around|alive) any ?more|"
    r"(?:no|don'?t see the|what'?s the) point (?:in|of) (?:sticking around|living|going on|being here|being alive)|"
    r"feel like a burden|wish i (?:was|were) dead|wish i wasn'?t alive|overdose|not wake up)", re.I)
_SAD = re.compile(
    r"\b(?:lonely|alone|sad|down|depressed|depressing|anxious|anxiety|panic|stressed|stress|overwhelmed|exhausted|"
    r"burn(?:ed|t)? ?out|tired of|miss(?:ing)? (?:home|him|her|them|my)|homesick|heartbroken|broke up|breakup|"
    r"dumped|divorce|grief|grieving|passed away|died|funeral|lost my|cry|crying|cried|upset|awful|terrible|"
    r"horrible|worst|hate my|rough (?:day|week)|bad (?:day|week)|failed|fired|laid off|scared|afraid|worried|"
    r"hurts|hopeless|worthless|nobody|no one (?:cares|likes)|isolated|struggling|can'?t sleep|insomnia)\b", re.I)
_LONG = re.compile(r"\b(?:tell me a story|a story|write (?:me )?(?:a|an) \w+|in detail|explain|long(?:er)? (?:answer|reply|version)|"
                   r"poem|step by step|tell me (?:everything|more about))\b", re.I)
_GREETING = re.compile(r"^\s*(?:hi|hey|hello|hiya|howdy|yo|good (?:morning|afternoon|evening)|sup|what'?s up)\b", re.I)
_THANKS = re.compile(r"\b(?:thanks|thank you|thx|ty|cheers|appreciate it)\b", re.I)
_REFUSAL = re.compile(
    r"\b(?:i'?d rather not|i (?:can'?t|cannot|am unable to|'m unable to|won'?t) (?:help|assist|talk|discuss|answer|do that|"
    r"provide|engage|continue)|as an ai\b|i'?m (?:just )?an ai\b|i'?m not able to (?:help|discuss|talk)|"
    r"i (?:don'?t|do not) (?:feel comfortable|think i should)|not something i can)", re.I)


def kind_of(message: str) -> str:
    if _CRISIS.search(message):
        return "crisis"
    if _SAD.search(message):
        return "sad"
    if _LONG.search(message):
        return "long"
    if _THANKS.search(message) and len(message) < 80:
        return "thanks"
    if _GREETING.search(message) and len(message) < 60:
        return "greeting"
    if "?" in message:
        return "question"
    return "chat"


def is_refusal(reply: str) -> bool:
    return bool(_REFUSAL.search(reply))


CRISIS_REPLY = (
    "I'm really glad you told me, and I'm so sorry you're carrying this. You deserve support right now: "
    "if you might act on these thoughts or are in danger, please call your local emergency number "
    "(112 in Europe, 911 in the US and Canada, 999 in the UK, 000 in Australia). You can also talk to a crisis line "
    "any time: 988 in the US and Canada (call or text), Samaritans on 116 123 in the UK and Ireland, "
    "or find your country's line at findahelpline.com. Is there someone near you, a friend or family member, "
    "you could reach out to tonight? I'm here to keep talking too."
)

_FALLBACKS: dict[str, tuple[str, ...]] = {
    "crisis_follow_up": (
        "I'm still here, and I'm listening. You don't have to explain it perfectly, tell me whatever feels easiest.",
        "Thank you for staying and talking with me. What's weighing on you most right now?",
    ),
    "sad": (
        "That sounds really hard, and I'm glad you told me. Would it help to talk through what's been weighing on you?",
        "I'm sorry you're going through this. Be gentle with yourself today. What would make the next hour a little easier?",
        "That's a lot to carry. Is there one small thing, a walk, a call to someone you trust, that might help a bit right now?",
    ),
    "long": (
        "I'd love to, give me a second to think of a good one. What should it be about?",
        "Sure! Where should I start: the beginning, or the part you're most curious about?",
    ),
    "greeting": ("Hey! Good to hear from you. How's your day going?", "Hi there! What have you been up to?"),
    "thanks": ("Anytime! I'm happy to help.", "You're welcome! Anything else on your mind?"),
    "question": (
        "I'm not sure I know, but I'd love to hear what you think!",
        "That's a good one, and I'm glad you asked. What made you wonder about it?",
    ),
    "chat": ("I'd love to hear more, I'm listening!", "I'm glad you told me! How do you feel about it?"),
}


_PLACES = [  # where the user says they are -> the numbers that reach help there
    (r"\b(?:uk|united kingdom|england|scotland|wales|london|manchester|glasgow|edinburgh|ireland|dublin|belfast)\b",
     "In the UK and Ireland you can call Samaritans free on 116 123 any time, or 999 (UK) / 112 in an emergency."),
    (r"\b(?:us|usa|united states|america|canada|new york|california|texas|toronto|vancouver|chicago)\b",
     "In the US and Canada you can call or text 988 any time, or 911 in an emergency."),
    (r"\b(?:spain|madrid|barcelona|sevilla|seville|valencia)\b",
     "In Spain you can call 024 any time (free, confidential), or 112 in an emergency."),
    (r"\b(?:australia|sydney|melbourne|brisbane|perth)\b",
     "In Australia you can call Lifeline on 13 11 14 any time, or 000 in an emergency."),
]


def crisis_help_line(context: str) -> str:
    """One line pointing to help, for where the user is when they said so."""
    for pattern, line in _PLACES:
        if re.search(pattern, context, re.I):
            return line
    return ("If you're in danger, please call your local emergency number; findahelpline.com lists free crisis "
            "lines in every country.")


def is_crisis(message: str) -> bool:
    return bool(_CRISIS.search(message))


def fallback_reply(kind: str, seed: int) -> str:
    options = _FALLBACKS.get(kind) or _FALLBACKS["chat"]
    return options[seed % len(options)]


def unknown_fact_reply() -> str:
    return "I don't think you've told me that yet. What is it? I'd like to remember."
