"""Tone: passive aggression, hostility and sentiment, with the words that drove the verdict."""

SERVICE = "tone"
TONE_LABELS = ["friendly", "neutral", "passive_aggressive", "hostile"]
SENTIMENT_LABELS = ["negative", "neutral", "positive"]
PA = TONE_LABELS.index("passive_aggressive")
HOSTILE = TONE_LABELS.index("hostile")

PROGRESS_WEIGHTS = {"loading data": 0.02, "training": 0.88, "calibrating": 0.02, "testing": 0.08}

# Part of every cache key next to the model version: raise it whenever cleaning, the
# explanation or the answer's format changes (2: log-odds leave-one-out cues).
PIPELINE_VERSION = 2
