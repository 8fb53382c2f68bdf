"""The operations both inference backends run: a batched form answers as the single one does."""
from __future__ import annotations

import pytest

from bot.inference.operations import BATCHED, OPERATIONS, check_tone, check_tones, score_tone
from ml.home import ModelHome


@pytest.fixture(scope="module")
def predictor(tiny_tone_root):
    load = OPERATIONS["tone"][0]
    return load(ModelHome(tiny_tone_root).current("tone"))


def test_a_batch_of_tone_checks_answers_as_one_at_a_time(predictor):
    texts = ["Thanks for finally replying.", "Great work, I love it!", "Per my last email, as I said before.",
             "ok", "Could you maybe, if it's not too much trouble, actually read the document this time?"]
    together = check_tones(predictor, [(t, False) for t in texts])
    for text, batched in zip(texts, together):
        alone = check_tone(predictor, text, False)
        assert batched["label"] == alone["label"]
        for name, score in alone["tone_scores"].items():  # padding may move the last digits
            assert batched["tone_scores"][name] == pytest.approx(score, abs=0.02)
    scores = BATCHED[("tone", "score")](predictor, [(t,) for t in texts])
    assert [s["passive_aggression"] for s in scores] == pytest.approx(
        [score_tone(predictor, t)["passive_aggression"] for t in texts], abs=0.02)
