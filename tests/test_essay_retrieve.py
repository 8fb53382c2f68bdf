"""Retrieval priming: corpus passages on the subject, read into the proposer's cache."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ml.essay.generate import EssayWriter
from ml.essay.kn_propose import KneserNeyAsModel
from ml.essay.ngram import KneserNey
from ml.essay.request import EssayRequest
from ml.essay.retrieve import PassageCache, PassageIndex, read_passages
from ml.essay.store import load_published
from ml.home import ModelHome


@pytest.fixture(scope="module")
def small(tiny_essay_root):
    return load_published(ModelHome(tiny_essay_root), "small").load_all()


@pytest.fixture(scope="module")
def index(small):
    return PassageIndex(small.tokenizer, small.streams().train)


def test_the_nearest_passages_are_about_the_query(index):
    found = index.nearest("space exploration: rockets, satellites and the moon", 3)
    assert found, "the 1950s-60s addresses speak of space"
    assert any(word in index.texts[found[0]].lower() for word in ("space", "rocket", "satellite", "moon"))
    assert all(len(index.texts[i].split()) >= 40 for i in found)
    assert index.nearest("zzzz qqqq", 3) == []  # words no passage has: nothing, not noise


def test_the_neural_cache_brings_back_what_followed_a_similar_state():
    keys = torch.eye(4) * 10
    cache = PassageCache(keys, torch.tensor([7, 8, 9, 7]), vocab=12, theta=1.0, share=0.5)
    p = cache.probabilities(keys[1:2], 1)[0]
    assert p.argmax() == 8 and p.sum() == pytest.approx(1.0)
    mixed = cache.mix(torch.zeros(1, 12), keys[1:2]).exp()[0]  # a flat model: the cache decides
    assert mixed.sum() == pytest.approx(1.0) and mixed.argmax() == 8
    assert float(mixed[8]) == pytest.approx(0.5 / 12 + 0.5 * float(p[8]), rel=1e-4)


def test_a_model_without_states_gets_a_unigram_cache(small):
    kn = KneserNeyAsModel(KneserNey(small.tokenizer.vocab_size, 3).fit(small.streams().train[:5000]))
    passage = np.array([5, 6, 6, 6, 9], dtype=np.int32)
    cache = read_passages(kn, [passage], small.tokenizer.vocab_size)
    assert cache.keys is None
    p = cache.probabilities(None, 2)
    assert float(p[0, 6]) == pytest.approx(0.75) and float(p[1, 9]) == pytest.approx(0.25)


def test_only_passages_on_the_topic_are_kept(index):
    from ml.essay.retrieve import MIN_TOPIC_SIMILARITY, passages_on_topic
    from ml.sentence_encoder import SentenceEncoder

    encoder = SentenceEncoder()
    farming = passages_on_topic(index, encoder, "farm prices and farmers", "farm prices and farmers", 3)
    assert len(farming) == 3
    assert min(encoder.similarity([index.texts[i] for i in farming], "farm prices and farmers")) >= MIN_TOPIC_SIMILARITY
    # The 1950s addresses never speak of games: passages that share a word are not passages on the topic.
    assert passages_on_topic(index, encoder, "video games and teenagers", "video games, teenagers", 3) == []


def test_a_primed_essay_reads_passages_and_names_them(tiny_essay_root):
    writer = EssayWriter(load_published(ModelHome(tiny_essay_root), "small"))
    topic = "farm prices and farmers"
    primed = writer.write(EssayRequest(topic, words=120, seed=2, candidates=4))
    plain = writer.write(EssayRequest(topic, words=120, seed=2, candidates=4, passages=0))
    assert primed.passages and all(p.endswith("...") for p in primed.passages) and plain.passages == []
    assert primed.text != plain.text  # the cache changed what the LSTM proposed
    assert primed.longest_copied_run <= 12  # the passages are corpus text: the guard still holds
    again = writer.write(EssayRequest(topic, words=120, seed=2, candidates=4))
    assert again.text == primed.text  # same seed, same primed essay


def test_passages_must_be_a_small_count():
    from ml.errors import InputError

    with pytest.raises(InputError, match="passages must be between 0 and 8"):
        EssayRequest("bees", passages=20).validate()
