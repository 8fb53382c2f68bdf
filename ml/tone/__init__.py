"""Tone: passive aggression, hostility and sentiment, with the words that drove the verdict."""

SERVICE = "tone"
TONE_LABELS = ["friendly", "neutral", "passive_aggressive", "hostile"]
SENTIMENT_LABELS = ["negative", "neutral", "positive"]
PA = TONE_LABELS.index("passive_aggressive")
HOSTILE = TONE_LABELS.index("hostile")

PROGRESS_WEIGHTS = {"loading data": 0.02, "training": 0.88, "calibrating": 0.02, "testing": 0.08}
