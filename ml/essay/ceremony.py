"""The corpus's ceremony: salutations and sign-offs of speeches to Congress.

An LSTM trained on State of the Union addresses learns to open with "Mr. Speaker, Mr. Vice
President..." or "To the Senate and House of Representatives:" and to close with "God bless
America". Those lines are not an essay's, so candidates that carry them are dropped unless
the request asks for the corpus's ceremony (`ceremony=True`).
"""
from __future__ import annotations

import re

_CEREMONY = re.compile("|".join([
    r"\b(Mr|Mrs|Madam|Madame)\.? (Speaker|President|Vice President|Chief Justice)\b",
    r"\bTo the (Senate|House|Congress)\b",
    r"\bSenate and House of Representatives\b",
    r"^\W*(Fellow[- ]citizens|Gentlemen|Ladies and gentlemen|My fellow (Americans|citizens)|"
    r"Members of (the )?Congress|Distinguished guests)\b",
    r"\bdistinguished guests\b",
    r"\bGod bless\b",
    r"^\W*Thank you\b",
]), re.IGNORECASE)


def is_ceremony(sentence: str) -> bool:
    return _CEREMONY.search(sentence) is not None
