"""The planned, judged essay: the plan's checks, the judge's choice, the ceremony filter, the
fallback without SmolLM2, the Kneser-Ney proposer and the neural cache."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ml.essay.ceremony import is_ceremony
from ml.essay.generate import EssayWriter, acceptable
from ml.essay.fluency import TorchFluencyJudge
from ml.essay.judge import SentenceEncoder, SentenceJudge
from ml.friend.engine import llama_cpp_available
from ml.essay.plagiarism import CorpusIndex
from ml.essay.plan import Planner
from ml.essay.request import EssayRequest
from ml.essay.store import load_published
from ml.home import ModelHome
from tests.conftest import install_models


@pytest.fixture(scope="module")
def encoder():
    return SentenceEncoder()


@pytest.fixture(scope="module")
def judged_home(tmp_path_factory, tiny_essay_root, tiny_friend_root):
    """The tiny essay LSTM and the tiny friend model (as planner and fluency judge) in one home."""
    home = ModelHome(tmp_path_factory.mktemp("judged-home"))
    install_models(home, tiny_essay_root)
    return install_models(home, tiny_friend_root)


@pytest.fixture(scope="module")
def judged_writer(judged_home):
    return EssayWriter(load_published(judged_home, "small"), judged_home)


# --- the plan -------------------------------------------------------------------------------

def test_plan_keeps_points_on_the_topic_and_drops_repeats(judged_home, encoder, monkeypatch):
    """The planner's lines are checked: an off-topic point and a repeat are asked for again."""
    lines = iter([
        "Kitchens Teach Patience",                                            # title
        "Cooking at home teaches patience, thrift and care for others.",     # thesis
        "Cooking a meal at home teaches you to plan and to wait.",          # point 1
        "The receipts of the Treasury for the fiscal year were large.",      # off topic: asked again
        "Cooking a meal at home teaches you to plan and to wait",           # a repeat: asked again
        "Home cooking saves money that restaurants and takeaways would cost.",  # point 2
        "Sharing food you cooked yourself brings family and friends together.",  # point 3
    ])
    planner = Planner(TorchFluencyJudge(judged_home.current("friend").path), encoder)
    monkeypatch.setattr(planner, "_line", lambda *args, **kwargs: next(lines))
    plan = planner.plan("learning to cook at home", 3, seed=0)
    assert plan.title == "Kitchens Teach Patience" and plan.thesis.startswith("Cooking at home")
    assert len(plan.points) == 3 and not any("Treasury" in p for p in plan.points)
    assert len({p.rstrip(".") for p in plan.points}) == 3
    similarities = encoder.similarity(plan.points, "learning to cook at home")
    assert min(similarities) >= 0.25
    assert plan.as_json()["points"] == plan.points and plan.planner == "smollm2"


def test_a_plan_from_the_real_frame_has_a_title_thesis_and_points(judged_writer):
    """The tiny random planner talks nonsense, but the frame holds: a title, a thesis that is
    a sentence, and only points that passed the topic check."""
    plan = judged_writer.make_plan(EssayRequest("the space program", words=300).validate())
    assert plan.title and plan.thesis.endswith((".", "!", "?"))
    assert len(plan.points) <= 3
    if plan.points:
        assert min(judged_writer.judges.encoder.similarity(plan.points, "the space program")) >= 0.25


# --- the judge ------------------------------------------------------------------------------

def test_every_sentence_is_judged_and_the_best_scored_is_kept(judged_writer):
    essay = judged_writer.write(EssayRequest("the space program", words=200, seed=4, candidates=6))
    assert essay.fluency_judge == "smollm2" and essay.plan["planner"] == "smollm2"
    paragraphs = {j["paragraph"] for j in essay.judgements}
    assert paragraphs == set(range(len(essay.paragraphs)))  # every paragraph was judged
    sentences = sum(len([s for s in p.split(". ") if s]) for p in essay.paragraphs)
    assert len(essay.judgements) >= len(essay.paragraphs) and len(essay.judgements) <= sentences + 5
    for judgement in essay.judgements:
        shortlisted = [s for s in judgement["scores"] if s["shortlisted"]]
        assert shortlisted
        # SmolLM2 read the shortlist on a close call; otherwise the lead was clear.
        assert judgement["smollm2"] == (len(shortlisted) > 1)
        assert all(s["fluency_by"] == ("smollm2" if judgement["smollm2"] else "lstm") for s in shortlisted)
        assert judgement["kept_score"] == max(s["score"] for s in shortlisted)
        assert judgement["kept"] in [s["index"] for s in shortlisted]
    assert set(essay.stage_seconds) == {"plan", "retrieve", "propose", "judge"}
    assert essay.smollm2_tokens["plan"] > 0
    assert essay.close_calls == sum(j["smollm2"] for j in essay.judgements)
    assert (essay.smollm2_tokens["judge"] > 0) == (essay.close_calls > 0)
    assert -1 <= essay.on_topic <= 1


def test_relevance_decides_between_candidates(encoder):
    judge = SentenceJudge(encoder, None, shortlist=2)
    point = encoder.embed(["Bees need flowers to make honey."])[0]
    topic = encoder.embed(["keeping bees in the city"])[0]
    texts = ["The revenue of the customs has grown this year.", "City gardens give honey bees the flowers they need."]
    scored = judge.judge(texts, [-3.0, -3.0], point, topic, torch.zeros(0, 384), "Bees are busy.")
    assert judge.best(scored).index == 1
    # A sentence that says again what the essay said is pushed down.
    written = encoder.embed(["City gardens give honey bees the flowers they need."])
    again = judge.judge(texts, [-3.0, -3.0], point, topic, written, "Bees are busy.")
    assert again[1].score < scored[1].score


class CountingFluency:
    """Records what the judge asks SmolLM2 to read; prefers the last candidate strongly."""

    def __init__(self):
        self.asked: list[list[str]] = []

    def mean_log_likelihoods(self, context, candidates):
        self.asked.append(list(candidates))
        return [-6.0] * (len(candidates) - 1) + [-1.0]


def test_smollm2_is_asked_only_on_a_close_call(encoder):
    from ml.essay.judge import CLOSE_CALL_MARGIN

    fluency = CountingFluency()
    judge = SentenceJudge(encoder, fluency, shortlist=2)
    point = encoder.embed(["Bees need flowers to make honey."])[0]
    topic = encoder.embed(["keeping bees in the city"])[0]
    clear = ["The revenue of the customs has grown this year.", "City gardens give honey bees the flowers they need."]
    scored = judge.judge(clear, [-3.0, -3.0], point, topic, torch.zeros(0, 384), "Bees are busy.")
    lead = abs(scored[1].score - scored[0].score)
    assert lead > CLOSE_CALL_MARGIN and fluency.asked == []  # nothing for SmolLM2 to decide
    assert [s.shortlisted for s in scored] == [False, True] and judge.best(scored).index == 1
    # Two near-equal candidates: SmolLM2 reads both, and its preference decides.
    close = ["City gardens give honey bees the flowers they need.", "City gardens give the honey bees flowers they need."]
    scored = judge.judge(close, [-3.0, -3.0], point, topic, torch.zeros(0, 384), "Bees are busy.")
    assert len(fluency.asked) == 1 and sorted(fluency.asked[0]) == sorted(close)
    assert all(s.fluency_by == "smollm2" for s in scored)
    assert judge.best(scored).fluency == -1.0
    # The first-pass score (the LSTM's fluency) is kept beside the final one.
    assert all(s.score - s.first_score == pytest.approx(0.12 * (s.fluency + 3.0)) for s in scored)


def test_fluency_of_candidates_read_side_by_side_equals_reading_each_alone(judged_home):
    judge = TorchFluencyJudge(judged_home.current("friend").path)
    context, candidates = "Bees are busy in spring.", ["They make honey.", "Flowers open early in the warm parks."]
    together = judge.mean_log_likelihoods(context, candidates)
    alone = [judge.mean_log_likelihoods(context, [c])[0] for c in candidates]
    assert together == pytest.approx(alone, abs=1e-3)
    ids = judge.chat.encode_text(context)
    row = judge.chat.encode_text(" " + candidates[1])
    with torch.inference_mode():
        logits = judge.model(input_ids=torch.tensor([ids + row])).logits[0].float().log_softmax(-1)
    direct = sum(float(logits[len(ids) - 1 + j, row[j]]) for j in range(len(row))) / len(row)
    assert together[1] == pytest.approx(direct, abs=1e-3)
    assert judge.perplexity("Bees are busy in spring. They make honey.") > 1


@pytest.fixture(scope="module")
def shipped_llama():
    from ml.friend.convert import find_gguf
    from ml.friend.llama_engine import LlamaChatModel

    return LlamaChatModel(find_gguf())  # the shipped Q4_1 SmolLM2: the same code path as the Q8_0 one


@pytest.mark.skipif(not llama_cpp_available(), reason="llama-cpp-python was not built at set-up")
def test_llama_judge_agrees_with_reading_each_candidate_after_the_whole_text(shipped_llama):
    from ml.essay.fluency import LlamaFluencyJudge

    judge = LlamaFluencyJudge(shipped_llama)
    context = "Keeping Bees\n\nBees are busy in spring."
    candidates = ["They make honey from the nectar of flowers.", "The bank rate fell sharply in March.",
                  "Gardens on city roofs give them food."]
    together = judge.mean_log_likelihoods(context, candidates)
    # Each alone, by a fresh judge that runs context and candidate as one text.
    for candidate, value in zip(candidates, together):
        fresh = LlamaFluencyJudge(shipped_llama)
        alone = fresh.mean_log_likelihoods(context, [candidate])[0]
        assert value == pytest.approx(alone, abs=0.05)  # llama.cpp's sums depend a little on batch shape
    assert together[0] > together[1]  # honey after bees reads better than the bank rate


@pytest.mark.skipif(not llama_cpp_available(), reason="llama-cpp-python was not built at set-up")
def test_llama_judge_keeps_the_essay_and_the_kept_candidate_in_its_cache(shipped_llama):
    from ml.essay.fluency import LlamaFluencyJudge

    judge = LlamaFluencyJudge(shipped_llama)
    context = "Keeping Bees\n\nBees are busy in spring."
    first = ["They make honey from the nectar of flowers.", "Gardens on city roofs give them food."]
    judge.mean_log_likelihoods(context, first)
    read = judge.tokens_read
    longer = context + " " + first[1]
    following = ["Keepers check the hives every week.", "Honey is sold at the market."]
    values = judge.mean_log_likelihoods(longer, following)
    new_tokens = sum(len(shipped_llama.encode_text(" " + c)) for c in following)
    # Only the candidates and the context's last token ran: the kept sentence was already there.
    assert judge.tokens_read - read == new_tokens + 1
    fresh = LlamaFluencyJudge(shipped_llama).mean_log_likelihoods(longer, following)
    assert values == pytest.approx(fresh, abs=0.05)


# --- ceremony -------------------------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "Mr. Speaker, Mr. Vice President, members of Congress, my fellow Americans:",
    "To the Senate and House of Representatives:",
    "Fellow-Citizens of the Senate and of the House of Representatives:",
    "God bless you, and God bless America.",
    "Madam Speaker, distinguished guests, tonight we meet.",
])
def test_ceremony_lines_are_recognised(line):
    assert is_ceremony(line)


def test_ceremony_is_dropped_unless_asked_for():
    assert not is_ceremony("Speaking plainly helps a friend understand you.")
    index = CorpusIndex.build(["nothing to copy here at all"])
    candidates = [{"text": "Mr. Speaker, my fellow Americans, we gather here.", "words": 8, "finished": True},
                  {"text": "A library lends books to anyone who asks.", "words": 8, "finished": True}]
    assert [c["words"] for c in acceptable(candidates, [], index)] == [8]
    assert acceptable(candidates, [], index)[0]["text"].startswith("A library")
    assert len(acceptable(candidates, [], index, ceremony=True)) == 2


# --- without SmolLM2 ------------------------------------------------------------------------

def test_without_the_friend_model_the_essay_still_comes_with_a_note(tiny_essay_root):
    writer = EssayWriter(load_published(ModelHome(tiny_essay_root), "small"))
    essay = writer.write(EssayRequest("the space program", words=150, seed=1, candidates=4))
    assert essay.words >= 135 and essay.plan["planner"] == "none" and essay.fluency_judge == "lstm"
    assert any("friend model is not built" in note for note in essay.notes)
    assert all(s["fluency_by"] == "lstm" for j in essay.judgements for s in j["scores"])


def test_same_seed_same_judged_essay(judged_writer):
    request = EssayRequest("the price of bread", words=120, seed=9, candidates=4)
    first, second = judged_writer.write(request), judged_writer.write(request)
    assert first.text == second.text and first.plan == second.plan
    assert judged_writer.write(EssayRequest("the price of bread", words=120, seed=10, candidates=4)).text != first.text


# --- the baseline writer and the neural cache -------------------------------------------------

def test_kneser_ney_next_distribution_matches_its_stream_probabilities():
    from ml.essay.ngram import KneserNey

    rng = np.random.default_rng(0)
    stream = rng.integers(0, 30, 4000)
    stream[::5] = 7
    kn = KneserNey(30, 5).fit(stream)
    test = rng.integers(0, 30, 40)
    expected = kn.log_probabilities(test)
    for t in range(4, 40):
        distribution = kn.next_distribution(test[:t])
        assert distribution.sum() == pytest.approx(1.0)
        assert np.log(distribution[test[t]]) == pytest.approx(expected[t])


def test_the_kneser_ney_writer_runs_through_the_same_sampler(judged_writer):
    from ml.essay.kn_propose import KneserNeyAsModel
    from ml.essay.ngram import KneserNey
    from ml.essay.propose import LstmProposer

    published = judged_writer.published
    kn = KneserNeyAsModel(KneserNey(published.tokenizer.vocab_size, 5).fit(published.streams().train))
    request = EssayRequest("the space program", words=120, seed=2, candidates=4).validate()
    plan = judged_writer.make_plan(request)
    proposer = LstmProposer(kn, published.tokenizer, request, torch.Generator().manual_seed(2), judged_writer.pieces,
                            name="kneser-ney-5")
    essay = judged_writer.write(request, plan=plan, proposer=proposer)
    assert essay.plan == plan.as_json() and essay.proposer == "kneser-ney-5" and abs(essay.words - 120) <= 15 and essay.longest_copied_run <= 12


def test_neural_cache_finds_a_token_seen_in_the_same_context():
    from ml.essay.evaluate import _cache_probabilities

    features = torch.eye(6, 8)  # unit vectors, each unlike the others (a random draw can make two alike)
    features[4] = features[1]  # position 4 looks like position 1, whose next token was 9
    targets = torch.tensor([3, 9, 5, 6, 9, 2])
    p = _cache_probabilities(features, targets, theta=20.0)
    assert p[0] == 0  # nothing in the cache yet
    assert p[4] > 0.9 and p[5] < 0.1


def test_self_repetition_counts_content_words_used_again():
    from ml.essay.generate import self_repetition

    assert self_repetition("The city of city is the city where bees live.") == 2
    assert self_repetition("Bees need flowers near the city.") == 0


def test_a_focus_word_fades_within_one_candidate(judged_writer):
    """Even a huge bonus cannot make a candidate repeat the topic word over and over."""
    from ml.essay.propose import LstmProposer

    published = judged_writer.published
    request = EssayRequest("government", words=100, topic_strength=10.0, candidates=8).validate()
    proposer = LstmProposer(published.generation_model, published.tokenizer, request,
                            torch.Generator().manual_seed(0), judged_writer.pieces)
    proposer.focus.focus("government", None)
    context = proposer.feed(None, published.tokenizer.encode(" The"))
    candidates = proposer.sentences(context, [], 8)
    uses = [c["text"].lower().count("government") for c in candidates]
    assert max(uses) >= 1 and max(uses) <= 3, uses


# --- the evaluations --------------------------------------------------------------------------

def test_eval_essay_reports_the_curve_and_skips_the_cache_with_one_held_out_document(judged_home):
    from ml.essay.evaluate import evaluate_essay

    figures = evaluate_essay(judged_home, "small")  # a user's small folder: one essay held out
    assert "one" in figures["neural_cache"]["skipped"]
    assert figures["curve"][-1]["bpc"] == figures["bpc"] and figures["int8_bpc"] > 0


def test_neural_cache_is_tuned_on_one_half_and_reported_on_the_other(judged_home):
    from ml.essay.evaluate import _first_tokens_mask, neural_cache_figures
    from ml.essay.ngram import KneserNey
    from ml.essay.train import Streams

    published = load_published(judged_home, "small")
    streams = published.streams()
    quarter = len(streams.held_out) // 4  # the one held-out essay read as four documents
    lengths = np.array([quarter] * 3 + [len(streams.held_out) - 3 * quarter])
    split = Streams(streams.train, streams.held_out, lengths, streams.held_out_characters)
    kn = KneserNey(published.tokenizer.vocab_size, 3).fit(streams.train).log_probabilities(streams.held_out)
    cache = neural_cache_figures(published.model, split, kn[_first_tokens_mask(lengths)])
    assert cache["reported_on"] == "the other 2 held-out documents" and cache["theta"] > 0
    assert cache["bpc_reduction"] == pytest.approx(1 - cache["bpc"] / cache["kneser_ney_bpc"], abs=2e-4)
    assert cache["bpc"] <= cache["plain_bpc"] + 0.01  # lambda was chosen to help, on the other half


def test_eval_writers_puts_three_writers_side_by_side(judged_home):
    from ml.essay.evaluate_writers import evaluate_writers

    figures = evaluate_writers(judged_home, "small", topics=("the price of bread",), words=100)
    writers = figures["writers"]
    assert set(writers) == {"lstm", "kneser_ney_5", "human"}
    for name in ("lstm", "kneser_ney_5"):
        assert writers[name]["longest_copied_run_max"] <= 12 and writers[name]["length_error_max"] <= 0.2
        assert writers[name]["judge_perplexity"] > 1 and 0 < writers[name]["distinct_2"] <= 1
    assert writers["human"]["on_topic"] > 0 and set(figures["goals"]) >= {"copied_run_at_most_12"}
    assert figures["per_topic"]["lstm"][0]["topic"] == "the price of bread"
