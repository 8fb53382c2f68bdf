"""The essay writer: corpus, tokenizer, Kneser-Ney baseline, plagiarism guard, a tiny LSTM
trained in seconds, and the essays it writes."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ml.errors import InputError, ModelNotReady
from ml.essay.corpus import CorpusError, load_corpus, split_paragraphs
from ml.essay.generate import EssayWriter, acceptable, paragraph_budgets
from ml.essay.request import EssayRequest
from ml.essay.ngram import KneserNey
from ml.essay.plagiarism import CorpusIndex, suffix_array, words_of
from ml.essay.store import load_published
from ml.essay.styles import known_styles
from ml.essay.tokenizer import EssayTokenizer
from ml.home import ModelHome
from tests.conftest import cancel_during


# --- corpus -------------------------------------------------------------------------------

def test_cleaning_drops_editors_notes_and_crowd_lines():
    text = ("The President. Thank you all. [Applause] We meet tonight.\n\n"
            "Audience members. U.S.A.! U.S.A.!\n\nJOHN SMITH\n\nA second\nparagraph, joined.")
    assert split_paragraphs(text) == ("Thank you all. We meet tonight.", "A second paragraph, joined.")


def test_empty_or_small_corpus_folder_says_what_is_needed(tmp_path):
    with pytest.raises(CorpusError, match="needs at least"):
        load_corpus(tmp_path)
    (tmp_path / "one.txt").write_text("Only a few words here.\n\nAnd a second paragraph.")
    with pytest.raises(CorpusError, match=r"1 essays with 9 words.*needs at least 3"):
        load_corpus(tmp_path)
    with pytest.raises(CorpusError, match="not a folder"):
        load_corpus(tmp_path / "missing")


def test_default_corpus_split_is_by_document_and_stable():
    first, second = load_corpus(), load_corpus()
    assert [d.name for d in first.held_out] == [d.name for d in second.held_out]
    assert not {d.name for d in first.held_out} & {d.name for d in first.train}
    assert 10 <= len(first.held_out) <= 40 and len(first.documents) >= 240


# --- tokenizer ----------------------------------------------------------------------------

def test_tokenizer_round_trip_keeps_paragraphs_and_every_character():
    paragraphs = ["We meet tonight, friends: the café's 3 new rules — and “quotes”.",
                  "Second paragraph!\tTabs and    spaces.", "Fin."]
    tokenizer = EssayTokenizer.train(paragraphs * 20, vocab_size=300)
    ids = tokenizer.encode_document(paragraphs)
    assert tokenizer.decode_document(ids) == paragraphs
    assert ids[0] == tokenizer.role_ids["<intro>"] and ids[-1] == tokenizer.role_ids["<end>"]
    assert tokenizer.role_ids["<conclusion>"] in ids and tokenizer.role_ids["<body>"] in ids
    again = EssayTokenizer.from_json(tokenizer.to_json())
    assert again.encode_document(paragraphs) == ids


# --- Kneser-Ney ---------------------------------------------------------------------------

def test_kneser_ney_is_a_distribution_and_uses_context():
    rng = np.random.default_rng(0)
    stream = np.concatenate([[1, 2, 3, 4] * 50, rng.integers(0, 9, 300)])
    model = KneserNey(10, 3).fit(stream)
    context = [1, 2]
    total = sum(math.exp(model.log_probabilities(np.array(context + [w]))[-1]) for w in range(10))
    assert total == pytest.approx(1.0, abs=1e-9)
    held = np.array([1, 2, 3, 4] * 10)
    assert model.log_probabilities(held).mean() > KneserNey(10, 1).fit(stream).log_probabilities(held).mean() + 1


# --- plagiarism guard ---------------------------------------------------------------------

def test_suffix_array_sorts_suffixes():
    ids = np.random.default_rng(1).integers(0, 4, 300)
    expected = sorted(range(len(ids)), key=lambda i: tuple(ids[i:]))
    assert suffix_array(ids).tolist() == expected


def test_longest_copied_run_matches_brute_force():
    corpus = ["the cat sat on the mat and the dog sat on the log", "a bird flew over the mat and away"]
    index = CorpusIndex.build(corpus)
    essay = words_of("so the dog sat on the mat and the bird flew over the log")
    text = [words_of(c) for c in corpus]

    def brute():
        best = 0
        for i in range(len(essay)):
            for j in range(i + 1, len(essay) + 1):
                run = essay[i:j]
                if any(any(doc[k:k + len(run)] == run for k in range(len(doc))) for doc in text):
                    best = max(best, len(run))
        return best

    assert index.longest_copied_run(essay) == brute() == 6  # "sat on the mat and the"
    assert index.longest_copied_run(words_of("nothing here matches zebra")) == 0
    assert CorpusIndex.from_bytes(index.to_bytes()).longest_copied_run(essay) == 6
    # The writer's quick question agrees with the measured run at every limit.
    for limit in range(0, 9):
        assert index.copies_more_than(essay, limit) == (brute() > limit)
    assert not index.copies_more_than(words_of("zebra the cat sat"), 3)  # unknown words match nothing
    assert index.copies_more_than(words_of("zebra the cat sat"), 2)


def test_guard_drops_candidates_that_copy_more_than_twelve_words():
    source = " ".join(f"word{i}" for i in range(40))
    index = CorpusIndex.build([source])
    copied = " ".join(f"word{i}" for i in range(10, 24)) + "."  # 14 words in a row
    short_copy = " ".join(f"word{i}" for i in range(10, 18)) + " and more."  # 8 in a row
    candidates = [{"text": copied, "words": 14, "finished": True},
                  {"text": short_copy, "words": 10, "finished": True},
                  {"text": "unfinished", "words": 1, "finished": False}]
    assert [c["text"] for c in acceptable(candidates, [], index)] == [short_copy]
    # A copy may start in the previous sentence: 6 words before + 8 now = 14 in a row.
    lead_in = [f"word{i}" for i in range(4, 10)]
    assert acceptable(candidates[1:2], lead_in, index) == []


# --- plan and title -----------------------------------------------------------------------

@pytest.mark.parametrize("words", [100, 250, 500, 1000, 1500])
def test_paragraph_budgets_have_intro_one_body_per_point_conclusion_and_add_up(words):
    from ml.essay.plan import points_for

    points = points_for(words)
    assert 3 <= points <= 5
    plan = paragraph_budgets(words, points)
    assert plan[0][0] == "<intro>" and plan[-1][0] == "<conclusion>" and len(plan) == points + 2
    assert all(role == "<body>" for role, _ in plan[1:-1])
    assert sum(b for _, b in plan) == words


# --- a tiny trained model -----------------------------------------------------------------

@pytest.fixture(scope="module")
def small_model(tiny_essay_root):
    return load_published(ModelHome(tiny_essay_root), "small")


def test_training_lowers_held_out_loss_and_reports_baselines(small_model):
    from ml.essay.evaluate import lstm_log_probabilities
    from ml.essay.model import EssayLSTM

    metrics = small_model.ref.card["metrics"]
    assert set(metrics) >= {"perplexity", "bpc", "baseline_bpc", "tokens", "baselines"}
    streams = small_model.streams()
    torch.manual_seed(0)
    untrained = EssayLSTM(small_model.model.shape)
    before = -lstm_log_probabilities(untrained, streams.held_out, streams.held_out_lengths).mean()
    after = -lstm_log_probabilities(small_model.model, streams.held_out, streams.held_out_lengths).mean()
    assert after < before - 1.0  # nats per token: from ~log(V) to well below it
    assert metrics["perplexity"] == pytest.approx(math.exp(after), rel=0.02)
    assert metrics["baseline_bpc"] == min(b["bpc"] for name, b in metrics["baselines"].items() if "tokens" in name)
    curve = metrics["curve"]  # held-out bpc against training time, the last point the final figure
    assert [p["step"] for p in curve] == sorted(p["step"] for p in curve) and len(curve) >= 2
    assert curve[-1]["bpc"] == metrics["bpc"] and curve[0]["bpc"] > curve[-1]["bpc"]


def test_known_styles_and_unknown_style(tiny_essay_root):
    home = ModelHome(tiny_essay_root)
    assert known_styles(home) == ["small"]
    with pytest.raises(InputError, match="unknown style 'poetry'; known styles: small"):
        load_published(home, "poetry")
    with pytest.raises(ModelNotReady, match="mlbot train essay"):
        load_published(ModelHome(tiny_essay_root / "nowhere"))


@pytest.fixture(scope="module")
def writer(small_model):
    return EssayWriter(small_model)


@pytest.mark.parametrize("words", [100, 400])
def test_essay_has_structure_and_the_asked_length(writer, words):
    essay = writer.write(EssayRequest("the space program", words=words, seed=3, candidates=6))
    assert abs(essay.words - words) <= 0.1 * words, essay.words
    assert len(essay.paragraphs) >= 3
    assert all(p[-1] in ".!?\"')]" for p in essay.paragraphs)  # paragraphs end at a sentence end
    assert essay.title == "The Space Program"  # no planner in this home: the topic stands in
    assert essay.longest_copied_run <= 12
    assert essay.longest_copied_run == writer.published.index.longest_copied_run(words_of(essay.text))


def test_same_seed_same_essay_and_another_seed_another(writer):
    request = EssayRequest("taxes and the budget", words=150, seed=7, candidates=4)
    first, second = writer.write(request), writer.write(request)
    assert first.text == second.text
    assert writer.write(EssayRequest("taxes and the budget", words=150, seed=8, candidates=4)).text != first.text


def test_topic_words_are_kept_in_play(writer):
    # "government" is one token even in the tiny model's 1,024-token vocabulary
    assert len(writer.published.tokenizer.encode(" government")) == 1
    kept = [writer.write(EssayRequest("government", words=150, seed=s, candidates=4)) for s in (1, 2)]
    plain = [writer.write(EssayRequest("government", words=150, seed=s, topic_strength=0, candidates=4))
             for s in (1, 2)]
    with_bonus, without = sum(e.topic_mentions for e in kept), sum(e.topic_mentions for e in plain)
    assert with_bonus >= 2 * without and with_bonus >= without + 4, (with_bonus, without)


@pytest.mark.parametrize("request_, message", [
    (EssayRequest("   "), "give a topic"),
    (EssayRequest("\u200b\u200b"), "give a topic"),
    (EssayRequest("x" * 300), "at most 200 characters"),
    (EssayRequest("farms", words=5), "between 100 and 1500"),
    (EssayRequest("farms", words=10**9), "between 100 and 1500"),
    (EssayRequest("farms", temperature=9), "temperature"),
])
def test_bad_requests_get_one_line_answers(writer, request_, message):
    with pytest.raises(InputError, match=message):
        writer.write(request_)


def test_an_interrupted_training_resumes_to_the_same_model(tiny_essay_root, small_essay_corpus, tmp_path):
    from ml.essay.train import EssayTrainConfig, train_essay
    from ml.progress import Progress, TrainingCancelled

    straight = ModelHome(tiny_essay_root).current("essay-small").version
    config = EssayTrainConfig.quick()
    config.corpus, config.style = str(small_essay_corpus), "small"
    home = ModelHome(tmp_path / "home")
    progress = Progress("essay-small")
    cancel_during(progress, 45, "training")  # after the checkpoint at step 40
    with pytest.raises(TrainingCancelled):
        train_essay(home, config, progress)
    assert home.current("essay-small") is None
    resumed, started_at = Progress("essay-small"), {}
    original_stage = resumed.stage

    def record_stage(name, total, done=0):
        started_at[name] = done
        original_stage(name, total, done)

    resumed.stage = record_stage
    assert train_essay(home, config, resumed).version == straight
    assert started_at["training"] == 40  # it went on from the checkpoint, not from the start
