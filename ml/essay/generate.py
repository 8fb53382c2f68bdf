"""Writing an essay with the LSTM: structure, length, topic and the plagiarism guard.

The essay is written sentence by sentence. For each sentence a few candidates are sampled
side by side (one batch), and one is kept:
- candidates that copy more than MAX_COPIED_RUN words in a row from the corpus are dropped
  (counting the words just before them), and the sentence is sampled again;
- of the rest, the one that mentions the topic most, and near the end the one whose length
  lands closest to the requested word count.
Paragraphs are asked for with the role tokens the model was trained on (<intro>, <body>,
<conclusion>), so introductions and conclusions read like the corpus's. The topic's words
get a logit bonus that fades each time they are used, and the topic is read by the model
as a short document before the essay begins, so its state starts on the subject.
"""
from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch

from ml.essay.plagiarism import MAX_COPIED_RUN, CorpusIndex, words_of
from ml.essay.request import EssayRequest, topic_words
from ml.essay.store import PublishedEssayModel
from ml.essay.tokenizer import BODY, CONCLUSION, END, INTRO

MAX_SENTENCE_TOKENS = 90
NO_REPEAT_TOKENS = 6  # never repeat a run of this many tokens within an essay
ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "gen", "gov", "sen", "rep", "hon", "no", "vs", "u.s",
                 "u.s.a", "i.e", "e.g", "etc", "co", "corp", "inc", "lt", "col", "capt", "messrs", "jan", "feb",
                 "aug", "sept", "oct", "nov", "dec"}
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*$")


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
    tokens: int = 0
    seconds: float = 0.0
    resampled_sentences: int = 0
    topic_mentions: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    def as_json(self) -> dict:
        data = asdict(self)
        data["essay"] = self.text
        del data["paragraphs"]
        return data

    def markdown(self) -> str:
        return f"# {self.title}\n\n{self.text}\n"


def title_for(topic: str) -> str:
    """The title is the topic itself, capitalised as a title (the corpus has no titles to learn)."""
    small = {"a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "with", "at", "by"}
    words = topic.split()
    return " ".join(w if w.isupper() and len(w) > 1 else (w.lower() if i and w.lower() in small else w[:1].upper() + w[1:])
                    for i, w in enumerate(words))


def paragraph_plan(words: int) -> list[tuple[str, int]]:
    """(role, word budget) for each paragraph, adding up to `words`: a short introduction and
    conclusion, and body paragraphs of about 140 words between them."""
    bodies = max(1, min(8, round(words / 140) - 1))
    intro = conclusion = max(20, round(words * 0.16))
    body_total = words - intro - conclusion
    bodies_plan = [(BODY, body_total // bodies + (1 if i < body_total % bodies else 0)) for i in range(bodies)]
    return [(INTRO, intro)] + bodies_plan + [(CONCLUSION, conclusion)]


def count_mentions(topic: str, text: str) -> int:
    """How often words starting with one of the topic's words appear ("farm" counts "farms")."""
    words = words_of(text)
    return sum(1 for w in words for t in topic_words(topic) if w.startswith(t))


class _Sampler:
    """Samples candidate sentences from a state, a batch of candidates at a time."""

    def __init__(self, published: PublishedEssayModel, request: EssayRequest, generator: torch.Generator):
        self.model = published.generation_model
        self.tokenizer = published.tokenizer
        self.request = request
        self.generator = generator
        vocab = self.tokenizer.vocab_size
        self.role_ids = list(self.tokenizer.role_ids.values())
        self.piece = [self.tokenizer.token_text(i) for i in range(vocab)]
        self.ends_sentence = torch.tensor([bool(_SENTENCE_END.search(p.strip())) for p in self.piece])
        self.topic_tokens = self._topic_tokens(topic_words(request.topic))
        self.topic_bonus = torch.zeros(vocab)
        for ids in self.topic_tokens.values():
            self.topic_bonus[ids] = request.topic_strength

    def _topic_tokens(self, words: list[str]) -> dict[str, list[int]]:
        """The first token of each topic word as written after a space, in lower and title case."""
        found = {}
        for word in words:
            ids = set()
            for form in (word, word.capitalize()):
                first = self.tokenizer.encode(" " + form)[0]
                # A short first piece (" f" of " farming") starts too many other words to boost.
                if len(self.piece[first].strip()) >= min(4, len(word)):
                    ids.add(first)
            found[word] = sorted(ids)
        return found

    def used_topic_word(self, text: str) -> None:
        """Fade the bonus of topic words already used, so the essay does not harp on one."""
        used = set(words_of(text))
        for word, ids in self.topic_tokens.items():
            if word in used:
                self.topic_bonus[ids] *= 0.6

    @torch.inference_mode()
    def feed(self, state, tokens: list[int]):
        if not tokens:
            return state, None
        logits, state = self.model(torch.tensor([tokens]), state)
        return state, logits[0, -1]

    def _is_end(self, tokens: list[int]) -> bool:
        """Does the sentence end with its last token? ("Mr." and "U.S." do not end one.)"""
        if not self.ends_sentence[tokens[-1]]:
            return False
        tail = "".join(self.piece[t] for t in tokens[-4:])  # enough to see the last word
        last_word = tail.rstrip(".!?\"')]").split()[-1:] or [""]
        return last_word[0].lower().strip("(\"'") not in ABBREVIATIONS

    @torch.inference_mode()
    def sentences(self, state, last_logits, history: list[int], count: int) -> list[dict]:
        """`count` candidate sentences continuing from (state, last_logits)."""
        h, c = state
        h, c = h.repeat(1, count, 1), c.repeat(1, count, 1)
        logits = last_logits.unsqueeze(0).repeat(count, 1)
        tokens: list[list[int]] = [[] for _ in range(count)]
        done = [False] * count
        essay_index = _repeat_index(history)
        own_index: list[dict] = [{} for _ in range(count)]  # each candidate's own runs
        tail = history[-(NO_REPEAT_TOKENS - 1):]
        for _ in range(MAX_SENTENCE_TOKENS):
            scores = logits.float() / self.request.temperature + self.topic_bonus
            scores[:, self.role_ids] = float("-inf")
            for row in range(count):
                context = tuple((tail + tokens[row])[-(NO_REPEAT_TOKENS - 1):])
                banned = essay_index.get(context, set()) | own_index[row].get(context, set())
                if banned:
                    scores[row, list(banned)] = float("-inf")
            choice = _top_p_sample(scores, self.request.top_p, self.generator)
            finished_before = list(done)
            for row in range(count):
                if done[row]:
                    continue
                token = int(choice[row])
                tokens[row].append(token)
                _remember(own_index[row], (tail + tokens[row])[-NO_REPEAT_TOKENS:])
                if self._is_end(tokens[row]):
                    done[row] = True
            step_logits, (h2, c2) = self.model(choice.view(count, 1), (h, c))
            # Rows finished before this step keep their state; the others (including rows that
            # just ended) take the state after reading this step's token.
            keep = torch.tensor(finished_before).view(1, count, 1)
            h, c = torch.where(keep, h, h2), torch.where(keep, c, c2)
            logits = torch.where(keep.view(count, 1), logits, step_logits[:, -1])
            if all(done):
                break
        results = []
        for row in range(count):
            text = self.tokenizer.decode(tokens[row]).strip()
            results.append({"tokens": tokens[row], "text": text, "finished": done[row],
                            "words": len(text.split()), "state": (h[:, row : row + 1].clone(), c[:, row : row + 1].clone()),
                            "logits": logits[row].clone()})
        return results


def _repeat_index(history: list[int]) -> dict[tuple[int, ...], set[int]]:
    index: dict[tuple[int, ...], set[int]] = {}
    n = NO_REPEAT_TOKENS
    for i in range(len(history) - n + 1):
        index.setdefault(tuple(history[i : i + n - 1]), set()).add(history[i + n - 1])
    return index


def _remember(index: dict, tokens: list[int]) -> None:
    n = NO_REPEAT_TOKENS
    if len(tokens) >= n:
        index.setdefault(tuple(tokens[-n:-1]), set()).add(tokens[-1])


TOP_K = 256  # top-p is taken within the likeliest 256 tokens: a full sort of 8,192 costs 2 ms a step


def _top_p_sample(scores: torch.Tensor, top_p: float, generator: torch.Generator) -> torch.Tensor:
    probs = torch.softmax(scores, dim=-1)
    sorted_probs, order = probs.topk(min(TOP_K, probs.shape[-1]), dim=-1)
    outside = sorted_probs.cumsum(-1) - sorted_probs > top_p  # keep the smallest set reaching top_p
    sorted_probs = sorted_probs.masked_fill(outside, 0)
    picked = torch.multinomial(sorted_probs, 1, generator=generator)
    return order.gather(1, picked).view(-1)


def copied_run_with(index: CorpusIndex, previous_words: list[str], sentence: str) -> int:
    """Longest run copied from the corpus that reaches into the new sentence, counting the
    words just before it (a copy may start in the previous sentence)."""
    words = previous_words[-MAX_COPIED_RUN:] + words_of(sentence)
    return index.longest_copied_run(words)


def acceptable(candidates: list[dict], previous_words: list[str], index: CorpusIndex) -> list[dict]:
    """Finished, non-empty candidates that keep every copied run within MAX_COPIED_RUN words."""
    return [c for c in candidates if c["finished"] and c["words"] > 0
            and copied_run_with(index, previous_words, c["text"]) <= MAX_COPIED_RUN]


class EssayWriter:
    def __init__(self, published: PublishedEssayModel):
        self.published = published.load_all()

    def write(self, request: EssayRequest, on_paragraph: Callable[[int, int], None] | None = None) -> Essay:
        """The essay for a request; on_paragraph(done, planned) is called after each paragraph."""
        request = request.validate()
        started = time.perf_counter()
        published, tokenizer = self.published, self.published.tokenizer
        generator = torch.Generator().manual_seed(request.seed)
        sampler = _Sampler(published, request, generator)
        roles = tokenizer.role_ids
        # The topic as a short document the essay follows: its state carries the subject.
        state, logits = sampler.feed(None, [roles[INTRO]] + tokenizer.encode(" " + request.topic.rstrip(".") + ".")
                                     + [roles[END]])
        history: list[int] = []
        paragraphs: list[str] = []
        all_words: list[str] = []
        total = 0
        resampled = 0
        plan = paragraph_plan(request.words)
        tolerance = max(3, round(request.words * 0.05))
        planned_so_far = 0
        for number, (role, planned) in enumerate(plan):
            last = number == len(plan) - 1
            # Make up in this paragraph for what the ones before ran over or under.
            budget = max(15, planned + planned_so_far - total)
            planned_so_far += planned
            slack = tolerance if last else 8
            state, logits = sampler.feed(state, [roles[role]])
            sentences: list[str] = []
            written = 0
            while True:
                remaining = budget - written
                closing = remaining <= 60  # near the end: choose sentences by how they land
                if sentences and remaining <= slack:
                    break
                count = request.candidates * (3 if closing else 1)
                chosen = None
                for attempt in range(6):
                    candidates = sampler.sentences(state, logits, history, count)
                    usable = acceptable(candidates, all_words, published.index)
                    if usable:
                        chosen = self._pick(usable, sampler, remaining, closing, first=not sentences and number == 0)
                        break
                    resampled += 1
                if chosen is None:  # nothing usable in six tries: stop this paragraph here
                    break
                sentences.append(chosen["text"])
                history += chosen["tokens"]
                all_words += words_of(chosen["text"])
                written += chosen["words"]
                state, logits = chosen["state"], chosen["logits"]
                sampler.used_topic_word(chosen["text"])
                if written >= budget - slack:
                    break
            if sentences:
                paragraphs.append(" ".join(sentences))
                total += written
            if on_paragraph is not None:
                on_paragraph(number + 1, len(plan))
        seconds = time.perf_counter() - started
        body_words = sum(len(p.split()) for p in paragraphs)
        return Essay(
            title=title_for(request.topic), paragraphs=paragraphs, words=body_words,
            longest_copied_run=published.index.longest_copied_run(words_of("\n".join(paragraphs))),
            model_version=published.version, topic=request.topic, seed=request.seed,
            temperature=request.temperature, top_p=request.top_p, tokens=len(history), seconds=round(seconds, 3),
            resampled_sentences=resampled, topic_mentions=count_mentions(request.topic, "\n".join(paragraphs)),
        )

    @staticmethod
    def _pick(usable: list[dict], sampler: _Sampler, remaining: int, closing: bool, first: bool) -> dict:
        topic = sampler.topic_tokens

        def mentions(c):
            return sum(1 for w in words_of(c["text"]) if w in topic)

        if closing:  # land on the requested length; running over is worse than stopping short
            return min(usable, key=lambda c: (abs(remaining - c["words"]) * (2 if c["words"] > remaining else 1),
                                              -mentions(c)))
        if first:  # the opening sentence should name the subject
            return max(usable, key=lambda c: (mentions(c) > 0, -abs(c["words"] - 25)))
        return max(usable, key=lambda c: (min(mentions(c), 2), -abs(c["words"] - 24)))
