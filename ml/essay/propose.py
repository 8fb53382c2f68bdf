"""Proposing candidate sentences with the essay LSTM, a batch of candidates side by side.

A proposer keeps a *context* (for the LSTM: its state and the logits of the next token),
reads text into it (`feed`) and samples `count` candidate sentences from it (`sentences`),
each returned with the context after it, so the writer can go on from the one it keeps.
Words of the paragraph's focus (the topic, the point) get a logit bonus that fades each time
they are used; a run of NO_REPEAT_TOKENS tokens is never repeated within an essay.
"""
from __future__ import annotations

import math
import re

import torch

from ml.essay.plagiarism import words_of
from ml.essay.request import EssayRequest, topic_words

MAX_SENTENCE_TOKENS = 90
NO_REPEAT_TOKENS = 6  # never repeat a run of this many tokens within an essay
POINT_BONUS_SHARE = 0.6  # a point's own words get this share of the topic words' bonus
WITHIN_SENTENCE_FADE = 0.2  # a focus word's bonus after a candidate used it once
ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "gen", "gov", "sen", "rep", "hon", "no", "vs", "u.s",
                 "u.s.a", "i.e", "e.g", "etc", "co", "corp", "inc", "lt", "col", "capt", "messrs", "jan", "feb",
                 "aug", "sept", "oct", "nov", "dec"}
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*$")
# Stop sampling once this share of the candidates has ended its sentence: the last few are the
# longest, every step waits for them, and the judge has enough to choose from without them.
ENOUGH_FINISHED = 0.75
TOP_K = 256  # top-p is taken within the likeliest 256 tokens: a full sort of 8,192 costs 2 ms a step


class TokenPieces:
    """What each token id of a tokenizer stands for, and which tokens end a sentence."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.piece = [tokenizer.token_text(i) for i in range(tokenizer.vocab_size)]
        self.ends_sentence = torch.tensor([bool(_SENTENCE_END.search(p.strip())) for p in self.piece])
        self.role_ids = list(tokenizer.role_ids.values())

    def is_end(self, tokens: list[int]) -> bool:
        """Does the sentence end with its last token? ("Mr." and "U.S." do not end one.)"""
        if not self.ends_sentence[tokens[-1]]:
            return False
        tail = "".join(self.piece[t] for t in tokens[-4:])  # enough to see the last word
        last_word = tail.rstrip(".!?\"')]").split()[-1:] or [""]
        return last_word[0].lower().strip("(\"'") not in ABBREVIATIONS

    def first_tokens(self, word: str) -> list[int]:
        """The first token of a word as written after a space, in lower and title case."""
        ids = set()
        for form in (word, word.capitalize()):
            first = self.tokenizer.encode(" " + form)[0]
            # A short first piece (" f" of " farming") starts too many other words to boost.
            if len(self.piece[first].strip()) >= min(4, len(word)):
                ids.add(first)
        return sorted(ids)


class FocusBonus:
    """A logit bonus for the words a paragraph is about, fading as they are used."""

    def __init__(self, pieces: TokenPieces, strength: float):
        self.pieces = pieces
        self.strength = strength
        self.bonus = torch.zeros(pieces.tokenizer.vocab_size)
        self.words: dict[str, list[int]] = {}
        self.word_of_token: dict[int, str] = {}

    def focus(self, topic: str, point: str | None) -> None:
        """The topic's words at full strength and the point's other words at a share of it."""
        self.bonus.zero_()
        self.words = {}
        for word in topic_words(topic):
            self.words[word] = ids = self.pieces.first_tokens(word)
            self.bonus[ids] = self.strength
        for word in (topic_words(point) if point else []):
            if word not in self.words:
                self.words[word] = ids = self.pieces.first_tokens(word)
                self.bonus[ids] = torch.maximum(self.bonus[ids], torch.tensor(self.strength * POINT_BONUS_SHARE))
        self.word_of_token = {token: word for word, ids in self.words.items() for token in ids}

    def used(self, text: str) -> None:
        used = set(words_of(text))
        for word, ids in self.words.items():
            if word in used:
                self.bonus[ids] *= 0.6


class LstmProposer:
    """Candidate sentences from the essay LSTM (or a model that answers like it, such as
    kn_propose.KneserNeyAsModel). The context is (state, next-token logits)."""

    def __init__(self, model, tokenizer, request: EssayRequest, generator: torch.Generator,
                 pieces: TokenPieces | None = None, name: str = "lstm"):
        self.name = name
        self.model = model
        self.tokenizer = tokenizer
        self.request = request
        self.generator = generator
        self.pieces = pieces or TokenPieces(tokenizer)
        self.focus = FocusBonus(self.pieces, request.topic_strength)
        self.cache = None  # a retrieve.PassageCache mixed into every next-token distribution

    def _run(self, tokens: torch.Tensor, state):
        """Next-token scores after `tokens` [batch, time] (log-probabilities once a passage
        cache is mixed in; the sampler treats both alike) and the state after them."""
        if self.cache is None:
            logits, state = self.model(tokens, state)
            return logits[:, -1], state
        if not hasattr(self.model, "features"):  # the Kneser-Ney baseline: a unigram cache
            logits, state = self.model(tokens, state)
            return self.cache.mix(logits[:, -1], None), state
        out, state = self.model.features(tokens, state)
        last = out[:, -1]
        return self.cache.mix(self.model.decode(last), last), state

    @torch.inference_mode()
    def feed(self, context, tokens: list[int]):
        if not tokens:
            return context
        state = context[0] if context else None
        logits, state = self._run(torch.tensor([tokens]), state)
        return state, logits[0]

    @torch.inference_mode()
    def sentences(self, context, history: list[int], count: int) -> list[dict]:
        """`count` candidate sentences continuing from the context."""
        (h, c), last_logits = context
        h, c = h.repeat(1, count, 1), c.repeat(1, count, 1)
        logits = last_logits.unsqueeze(0).repeat(count, 1)
        tokens: list[list[int]] = [[] for _ in range(count)]
        log_prob = torch.zeros(count)
        done = [False] * count
        essay_index = repeat_index(history)
        own_index: list[dict] = [{} for _ in range(count)]  # each candidate's own runs
        tail = history[-(NO_REPEAT_TOKENS - 1):]
        # Each candidate's own copy of the bonus: a focus word it has used fades for it at once,
        # so a strong bonus cannot make one sentence say "city, city and city".
        bonus = self.focus.bonus.repeat(count, 1)
        enough = max(1, math.ceil(ENOUGH_FINISHED * count))
        for _ in range(MAX_SENTENCE_TOKENS):
            raw = logits.float()
            scores = raw / self.request.temperature + bonus
            scores[:, self.pieces.role_ids] = float("-inf")
            for row in range(count):
                context_run = tuple((tail + tokens[row])[-(NO_REPEAT_TOKENS - 1):])
                banned = essay_index.get(context_run, set()) | own_index[row].get(context_run, set())
                if banned:
                    scores[row, list(banned)] = float("-inf")
            choice = top_p_sample(scores, self.request.top_p, self.generator)
            # The model's own log-likelihood of what was sampled (before bonus and temperature):
            # the judge's fluency opinion when SmolLM2 is not there.
            step_log_prob = raw.log_softmax(-1).gather(1, choice.view(-1, 1)).view(-1)
            for row, token in enumerate(choice.tolist()):
                if token in self.focus.word_of_token:  # fade every form of that word for this row
                    bonus[row, self.focus.words[self.focus.word_of_token[token]]] *= WITHIN_SENTENCE_FADE
            finished_before = list(done)
            for row in range(count):
                if done[row]:
                    continue
                token = int(choice[row])
                tokens[row].append(token)
                log_prob[row] += step_log_prob[row]
                remember(own_index[row], (tail + tokens[row])[-NO_REPEAT_TOKENS:])
                if self.pieces.is_end(tokens[row]):
                    done[row] = True
            step_logits, (h2, c2) = self._run(choice.view(count, 1), (h, c))
            # Rows finished before this step keep their state; the others (including rows that
            # just ended) take the state after reading this step's token.
            keep = torch.tensor(finished_before).view(1, count, 1)
            h, c = torch.where(keep, h, h2), torch.where(keep, c, c2)
            logits = torch.where(keep.view(count, 1), logits, step_logits)
            if sum(done) >= enough:
                break
        results = []
        for row in range(count):
            text = self.tokenizer.decode(tokens[row]).strip()
            results.append({"tokens": tokens[row], "text": text, "finished": done[row], "words": len(text.split()),
                            "fluency": float(log_prob[row]) / max(1, len(tokens[row])),
                            "context": ((h[:, row: row + 1].clone(), c[:, row: row + 1].clone()),
                                        logits[row].clone())})
        return results


def repeat_index(history: list[int]) -> dict[tuple[int, ...], set[int]]:
    index: dict[tuple[int, ...], set[int]] = {}
    n = NO_REPEAT_TOKENS
    for i in range(len(history) - n + 1):
        index.setdefault(tuple(history[i: i + n - 1]), set()).add(history[i + n - 1])
    return index


def remember(index: dict, tokens: list[int]) -> None:
    n = NO_REPEAT_TOKENS
    if len(tokens) >= n:
        index.setdefault(tuple(tokens[-n:-1]), set()).add(tokens[-1])


def top_p_sample(scores: torch.Tensor, top_p: float, generator: torch.Generator) -> torch.Tensor:
    probs = torch.softmax(scores, dim=-1)
    sorted_probs, order = probs.topk(min(TOP_K, probs.shape[-1]), dim=-1)
    outside = sorted_probs.cumsum(-1) - sorted_probs > top_p  # keep the smallest set reaching top_p
    sorted_probs = sorted_probs.masked_fill(outside, 0)
    picked = torch.multinomial(sorted_probs, 1, generator=generator)
    return order.gather(1, picked).view(-1)
