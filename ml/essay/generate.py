"""Writing an essay: a plan, then sentences proposed by the LSTM and judged one by one.

1. Plan (ml/essay/plan.py): a title, a thesis and three to five points. The introduction and
   the conclusion are about the thesis, each body paragraph about one point.
2. Propose (ml/essay/propose.py): before each paragraph the LSTM reads its role token and the
   paragraph's point, so its state starts on the subject; then for every sentence it samples
   `candidates` sentences side by side (one batch).
3. Judge (ml/essay/judge.py): candidates that copy more than MAX_COPIED_RUN words from the
   corpus, or carry the corpus's ceremony ("Mr. Speaker..."), are dropped; the rest are
   scored for closeness to the point and the topic (MiniLM), fluency after the sentence
   before (SmolLM2 on a shortlist), repetition of what the essay already said, and near a
   paragraph's end, how well the length lands. The best-scored is kept.
Every word of the essay is the LSTM's: the plan steers it, but is not pasted in.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Callable

import torch

from ml.essay.ceremony import is_ceremony
from ml.essay.judge import FluencyJudge, Scored, SentenceEncoder, SentenceJudge
from ml.essay.plagiarism import MAX_COPIED_RUN, CorpusIndex, words_of
from ml.essay.plan import EssayPlan, Planner, plan_without_planner, points_for
from ml.essay.propose import LstmProposer, TokenPieces
from ml.essay.request import EssayRequest, topic_words
from ml.essay.store import PublishedEssayModel
from ml.essay.tokenizer import BODY, CONCLUSION, END, INTRO
from ml.home import ModelHome

log = logging.getLogger(__name__)

FRIEND_SERVICE = "friend"  # the SmolLM2 model the planner and fluency judge use
MIN_SENTENCE_WORDS = 4
PROPOSE_TRIES = 5
# Length terms of a candidate's score: near a paragraph's end, each word that misses the
# remaining budget costs this much (running over counts double); elsewhere a mild pull
# towards sentences of about IDEAL_SENTENCE_WORDS.
CLOSING_WORDS = 60
CLOSING_LENGTH_WEIGHT = 0.02
IDEAL_SENTENCE_WORDS = 22
LENGTH_WEIGHT = 0.004
SELF_REPEAT_WEIGHT = 0.05  # per content word used again within the candidate

Progress = Callable[[str], None]


@dataclass
class Essay:
    title: str
    paragraphs: list[str]
    words: int
    longest_copied_run: int
    model_version: str
    topic: str
    seed: int
    temperature: float
    top_p: float
    plan: dict = field(default_factory=dict)
    tokens: int = 0
    seconds: float = 0.0
    stage_seconds: dict = field(default_factory=dict)  # plan, propose, judge
    resampled_sentences: int = 0
    topic_mentions: int = 0
    on_topic: float = 0.0  # mean MiniLM similarity of the paragraphs to the topic
    proposer: str = "lstm"
    fluency_judge: str = "smollm2"
    judgements: list[dict] = field(default_factory=list)  # per sentence: kept and best scores
    notes: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    def as_json(self) -> dict:
        data = asdict(self)
        data["essay"] = self.text
        del data["paragraphs"], data["judgements"]
        return data

    def markdown(self) -> str:
        return f"# {self.title}\n\n{self.text}\n"


def paragraph_budgets(words: int, points: int) -> list[tuple[str, int]]:
    """(role, word budget) for each paragraph, adding up to `words`: a short introduction and
    conclusion, and one body paragraph per point (at least one) between them."""
    bodies = max(1, points)
    intro = conclusion = max(20, round(words * 0.15))
    body_total = words - intro - conclusion
    plan = [(BODY, body_total // bodies + (1 if i < body_total % bodies else 0)) for i in range(bodies)]
    return [(INTRO, intro)] + plan + [(CONCLUSION, conclusion)]


def count_mentions(topic: str, text: str) -> int:
    """How often words starting with one of the topic's words appear ("farm" counts "farms")."""
    words = words_of(text)
    return sum(1 for w in words for t in topic_words(topic) if w.startswith(t))


def copied_run_with(index: CorpusIndex, previous_words: list[str], sentence: str) -> int:
    """Longest run copied from the corpus that reaches into the new sentence, counting the
    words just before it (a copy may start in the previous sentence)."""
    words = previous_words[-MAX_COPIED_RUN:] + words_of(sentence)
    return index.longest_copied_run(words)


def acceptable(candidates: list[dict], previous_words: list[str], index: CorpusIndex,
               ceremony: bool = False) -> list[dict]:
    """Finished candidates of a few words that keep every copied run within MAX_COPIED_RUN
    words and, unless the corpus's ceremony was asked for, carry none of it."""
    return [c for c in candidates if c["finished"] and c["words"] >= MIN_SENTENCE_WORDS
            and (ceremony or not is_ceremony(c["text"]))
            and copied_run_with(index, previous_words, c["text"]) <= MAX_COPIED_RUN]


def self_repetition(text: str) -> int:
    """Uses of content words beyond their first within one sentence ("the city of city" -> 1)."""
    words = [w for w in words_of(text) if len(w) > 3]
    return len(words) - len(set(words))


def length_term(words: int, remaining: int) -> float:
    if remaining <= CLOSING_WORDS:  # land on the budget; running over is worse than stopping short
        return -CLOSING_LENGTH_WEIGHT * abs(remaining - words) * (2 if words > remaining else 1)
    return -LENGTH_WEIGHT * abs(words - IDEAL_SENTENCE_WORDS)


class EssayJudges:
    """The readers the writer borrows: MiniLM (always there, it ships in a package) and
    SmolLM2 (once the friend model is built), loaded on first use."""

    def __init__(self, home: ModelHome):
        self.home = home
        self._fluency: FluencyJudge | None = None

    @cached_property
    def encoder(self) -> SentenceEncoder:
        return SentenceEncoder()

    def fluency(self) -> FluencyJudge | None:
        if self._fluency is None:
            ref = self.home.current(FRIEND_SERVICE)
            if ref is not None:
                self._fluency = FluencyJudge(ref.path)
        return self._fluency


class EssayWriter:
    def __init__(self, published: PublishedEssayModel, home: ModelHome | None = None):
        self.published = published.load_all()
        if home is None:
            home = ModelHome(published.ref.path.parents[2])  # <home>/models/<service>/<version>
        self.judges = EssayJudges(home)
        self.pieces = TokenPieces(self.published.tokenizer)

    def make_plan(self, request: EssayRequest) -> EssayPlan:
        fluency = self.judges.fluency()
        if fluency is None:
            return plan_without_planner(request.topic)
        return Planner(fluency, self.judges.encoder).plan(request.topic, points_for(request.words), request.seed)

    def proposer(self, request: EssayRequest, generator: torch.Generator):
        return LstmProposer(self.published.generation_model, self.published.tokenizer, request, generator,
                            self.pieces)

    def write(self, request: EssayRequest, on_progress: Progress | None = None, plan: EssayPlan | None = None,
              proposer=None) -> Essay:
        """The essay for a request. `plan` and `proposer` replace the planner and the LSTM
        (the evaluation gives the Kneser-Ney writer the LSTM's plan)."""
        request = request.validate()
        started = time.perf_counter()
        report = on_progress or (lambda stage: None)
        tokenizer, index = self.published.tokenizer, self.published.index
        report("planning")
        plan = plan or self.make_plan(request)
        plan_seconds = time.perf_counter() - started
        fluency = self.judges.fluency()
        judge = SentenceJudge(self.judges.encoder, fluency, shortlist=request.shortlist)
        encoder = self.judges.encoder
        generator = torch.Generator().manual_seed(request.seed)
        proposer = proposer or self.proposer(request, generator)
        roles = tokenizer.role_ids
        # The topic as a short document the essay follows: its state carries the subject.
        context = proposer.feed(None, [roles[INTRO]] + tokenizer.encode(" " + request.topic.rstrip(".") + ".")
                                + [roles[END]])
        topic_vector = encoder.embed([request.topic])[0]
        budgets = paragraph_budgets(request.words, len(plan.points))
        targets = [plan.thesis] + (plan.points or [request.topic]) + [plan.thesis]
        target_vectors = encoder.embed(targets)
        history: list[int] = []
        paragraphs: list[str] = []
        all_words: list[str] = []
        written_vectors = torch.zeros(0, target_vectors.shape[1])
        judgements: list[dict] = []
        propose_seconds = judge_seconds = 0.0
        total = resampled = planned_so_far = 0
        tolerance = max(3, round(request.words * 0.05))
        for number, (role, planned) in enumerate(budgets):
            last = number == len(budgets) - 1
            report(f"writing paragraph {number + 1} of {len(budgets)}")
            # Make up in this paragraph for what the ones before ran over or under.
            budget = max(15, planned + planned_so_far - total)
            planned_so_far += planned
            slack = tolerance if last else 8
            point = targets[number]
            proposer.focus.focus(request.topic, point if plan.points else None)
            # The paragraph's point is read, not written: the state starts on the subject.
            context = proposer.feed(context, [roles[role]] + tokenizer.encode(" " + point))
            sentences: list[str] = []
            written = 0
            previous = point
            while True:
                remaining = budget - written
                if sentences and remaining <= slack:
                    break
                clock = time.perf_counter()
                usable: list[dict] = []
                for _ in range(PROPOSE_TRIES):
                    candidates = proposer.sentences(context, history, request.candidates)
                    usable = acceptable(candidates, all_words, index, request.ceremony)
                    if usable:
                        break
                    resampled += 1
                propose_seconds += time.perf_counter() - clock
                if not usable:  # nothing usable in five tries: stop this paragraph here
                    break
                clock = time.perf_counter()
                scored = judge.judge([c["text"] for c in usable], [c["fluency"] for c in usable],
                                     target_vectors[number], topic_vector, written_vectors, previous,
                                     extra=[length_term(c["words"], remaining)
                                            - SELF_REPEAT_WEIGHT * self_repetition(c["text"]) for c in usable])
                best = SentenceJudge.best(scored)
                judge_seconds += time.perf_counter() - clock
                judgements.append(_judgement(number, scored, best))
                chosen = usable[best.index]
                sentences.append(chosen["text"])
                history += chosen["tokens"]
                all_words += words_of(chosen["text"])
                written += chosen["words"]
                written_vectors = torch.cat([written_vectors, best.vector.unsqueeze(0)])
                context = chosen["context"]
                previous = chosen["text"]
                proposer.focus.used(chosen["text"])
                if written >= budget - slack:
                    break
            if sentences:
                paragraphs.append(" ".join(sentences))
                total += written
        report("finishing")
        text = "\n\n".join(paragraphs)
        on_topic = encoder.similarity(paragraphs, request.topic) if paragraphs else [0.0]
        notes = list(plan.notes)
        if fluency is None:
            notes.append("fluency judged by the LSTM itself: SmolLM2 (the friend model) is not built yet")
        return Essay(
            title=plan.title, paragraphs=paragraphs, words=sum(len(p.split()) for p in paragraphs),
            longest_copied_run=index.longest_copied_run(words_of(text)),
            model_version=self.published.version, topic=request.topic, seed=request.seed,
            temperature=request.temperature, top_p=request.top_p, plan=plan.as_json(), tokens=len(history),
            seconds=round(time.perf_counter() - started, 3),
            stage_seconds={"plan": round(plan_seconds, 3), "propose": round(propose_seconds, 3),
                           "judge": round(judge_seconds, 3)},
            resampled_sentences=resampled, topic_mentions=count_mentions(request.topic, text),
            on_topic=round(sum(on_topic) / len(on_topic), 4), proposer=proposer.name,
            fluency_judge="smollm2" if fluency is not None else "lstm", judgements=judgements, notes=notes,
        )


def _judgement(paragraph: int, scored: list[Scored], best: Scored) -> dict:
    return {"paragraph": paragraph, "candidates": len(scored), "kept": best.index,
            "kept_score": round(best.score, 4), "kept_point": round(best.point, 4),
            "scores": [s.as_dict() for s in scored]}
