"""What an essay request may ask for, checked before any model is loaded (no torch here)."""
from __future__ import annotations

from dataclasses import dataclass

from ml.errors import InputError
from ml.essay.plagiarism import words_of

MIN_WORDS, MAX_WORDS = 100, 1500
MAX_TOPIC_CHARS = 200
STOPWORDS = set("""a an the and or but of to in on for with about at by from as is are was were be been being
this that these those it its into over under our your their my his her we you they i he she them us me do does
did how why what when where who which should would could can will shall may might must not no yes vs versus
""".split())


@dataclass
class EssayRequest:
    topic: str
    words: int = 500
    seed: int = 0
    temperature: float = 0.8
    top_p: float = 0.92
    candidates: int = 16          # sentences the LSTM proposes for each one kept
    topic_strength: float = 3.5  # logit bonus for the topic's and the point's words (0: none)
    shortlist: int = 2           # candidates SmolLM2 reads for fluency on a close call (1-16); the
                                 # third-ranked was kept 1 time in 60 with 3 (ml/essay/judge.py)
    ceremony: bool = False       # allow the corpus's salutations ("Mr. Speaker...")
    passages: int = 3            # corpus passages on the subject read into the proposer's cache (0: none)

    def validate(self) -> "EssayRequest":
        topic = " ".join(self.topic.replace("\u200b", "").split())
        if not words_of(topic):
            raise InputError("give a topic: a few words to write about, such as `the future of farming`")
        if len(topic) > MAX_TOPIC_CHARS:
            raise InputError(f"a topic is at most {MAX_TOPIC_CHARS} characters (this one has {len(topic)})")
        if not MIN_WORDS <= self.words <= MAX_WORDS:
            raise InputError(f"words must be between {MIN_WORDS} and {MAX_WORDS} (asked for {self.words})")
        if not 0.2 <= self.temperature <= 1.5:
            raise InputError("temperature must be between 0.2 and 1.5")
        if not 0.5 <= self.top_p <= 1.0:
            raise InputError("top_p must be between 0.5 and 1.0")
        if not 1 <= self.candidates <= 32:
            raise InputError("candidates must be between 1 and 32")
        if not 0 <= self.passages <= 8:
            raise InputError("passages must be between 0 and 8")
        return EssayRequest(topic, self.words, self.seed, self.temperature, self.top_p, self.candidates,
                            self.topic_strength, min(16, max(1, self.shortlist)), bool(self.ceremony), self.passages)



def topic_words(topic: str) -> list[str]:
    return [w for w in words_of(topic) if w not in STOPWORDS and len(w) > 2] or words_of(topic)
