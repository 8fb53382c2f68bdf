"""Judging candidate sentences: is it on the paragraph's point, is it fluent, is it new?

Two readers, both already on the machine:
- MiniLM (all-MiniLM-L6-v2, the tone model's encoder before fine-tuning) embeds sentences;
  cosine similarity to the paragraph's point and to the topic says whether a candidate is
  on the subject.
- SmolLM2-135M (the friend's model) reads the essay so far and the candidate and gives the
  candidate's mean log-likelihood per token: a second opinion on fluency from a model trained
  on far more (and more modern) English than the essay corpus (ml/essay/fluency.py).

SmolLM2 reads only a shortlist: the candidates that MiniLM and the LSTM rank highest, and only
on a close call: when the best candidate leads the next by more than CLOSE_CALL_MARGIN, no
fluency opinion could change the choice in practice, so SmolLM2 is not asked (the kept sentence
is read into its cache at the next close call). When the friend model is not built, the fluency opinion is the LSTM's own (the essay still comes,
with a note saying so).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import torch

from ml.sentence_encoder import SentenceEncoder  # noqa: F401  (the essay's MiniLM reader)

log = logging.getLogger(__name__)

# How the scores combine (set by reading essays, not fitted): being on the point matters
# most, the topic keeps every paragraph tied to the whole, fluency breaks ties between
# relevant candidates, and a sentence that says again what the essay said is pushed down.
POINT_WEIGHT = 1.0
TOPIC_WEIGHT = 1.2
FLUENCY_WEIGHT = 0.12   # per nat of mean log-likelihood per token
REPEAT_WEIGHT = 1.0     # applied to how far the closest earlier sentence is above REPEAT_FREE
REPEAT_FREE = 0.6
# A lead the fluency judge is not asked to overturn, measured by bench/essay_close_calls.py
# (SmolLM2 reading every sentence's shortlist: how often and at what first-pass lead it changed
# the choice; bench/results/essay_close_calls.json). 0.1 is 0.83 nats of per-token fluency at
# FLUENCY_WEIGHT: a measured margin, not a bound.
CLOSE_CALL_MARGIN = 0.1


@dataclass
class Scored:
    index: int          # position in the candidates given to the judge
    point: float        # similarity to the paragraph's point
    topic: float        # similarity to the topic
    repeat: float       # highest similarity to a sentence already in the essay
    fluency: float      # mean log-likelihood per token (SmolLM2, or the LSTM's own)
    fluency_by: str     # "smollm2" or "lstm"
    extra: float = 0.0  # the writer's own terms (how the length lands)
    score: float = 0.0
    first_score: float = 0.0  # the score with the LSTM's own fluency, before SmolLM2 was asked
    shortlisted: bool = False
    vector: torch.Tensor | None = None  # the MiniLM embedding

    def as_dict(self) -> dict:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in self.__dict__.items() if k != "vector"}


class SentenceJudge:
    def __init__(self, encoder: SentenceEncoder, fluency, shortlist: int = 3, margin: float = CLOSE_CALL_MARGIN):
        """`fluency`: a judge from ml/essay/fluency.py, or None (the LSTM's own opinion);
        `margin`: a first-pass lead above this is kept without asking it (inf: always ask)."""
        self.encoder = encoder
        self.fluency = fluency
        self.shortlist = shortlist
        self.margin = margin

    @staticmethod
    def relevance(s: Scored) -> float:
        return (POINT_WEIGHT * s.point + TOPIC_WEIGHT * s.topic
                - REPEAT_WEIGHT * max(0.0, s.repeat - REPEAT_FREE) + s.extra)

    def judge(self, texts: Sequence[str], lstm_fluency: Sequence[float], point: torch.Tensor, topic: torch.Tensor,
              written: torch.Tensor, context: str, extra: Sequence[float] | None = None) -> list[Scored]:
        """Scores for each candidate. `point`, `topic`: unit vectors; `written`: [n, d] vectors
        of the essay's sentences so far; `context`: the text the candidate follows; `extra`:
        terms the writer adds to each score."""
        vectors = self.encoder.embed(texts)
        repeat = (vectors @ written.T).max(1).values if len(written) else torch.zeros(len(texts))
        extra = extra or [0.0] * len(texts)
        scored = [Scored(i, float(vectors[i] @ point), float(vectors[i] @ topic), float(repeat[i]),
                         float(lstm_fluency[i]), "lstm", float(extra[i]), vector=vectors[i])
                  for i in range(len(texts))]
        # First pass: relevance with the LSTM's own fluency; the best go to SmolLM2.
        for s in scored:
            s.score = s.first_score = self.relevance(s) + FLUENCY_WEIGHT * s.fluency
        shortlist = sorted(scored, key=lambda s: -s.score)[: self.shortlist]
        if len(shortlist) > 1 and shortlist[0].score - shortlist[1].score > self.margin:
            shortlist = shortlist[:1]  # a clear lead: SmolLM2 is not asked
        if self.fluency is not None and len(shortlist) > 1:
            opinions = self.fluency.mean_log_likelihoods(context, [texts[s.index] for s in shortlist])
            for s, value in zip(shortlist, opinions):
                s.fluency, s.fluency_by = value, "smollm2"
                s.score = self.relevance(s) + FLUENCY_WEIGHT * s.fluency
        for s in shortlist:
            s.shortlisted = True
        return scored

    @staticmethod
    def best(scored: list[Scored]) -> Scored:
        """The kept candidate: the best score among those read by the fluency judge."""
        return max((s for s in scored if s.shortlisted), key=lambda s: s.score)
