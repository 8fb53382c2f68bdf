"""Tone: input cleaning, explanations, rewrites, caching and the CLI, on a tiny trained model."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from ml.errors import InputError
from ml.home import ModelHome
from ml.tone import PA, TONE_LABELS
from ml.tone.rewrite import kinder_rewrite, rule_based_rewrite
from ml.tone.text import MAX_CHARS, clean_message


@pytest.fixture
def tone_home(home, tiny_tone_root):
    shutil.copytree(tiny_tone_root / "models", home.root / "models", dirs_exist_ok=True)
    return home


def test_bad_inputs_get_one_line_or_a_note():
    with pytest.raises(InputError, match="no text"):
        clean_message("   ")
    with pytest.raises(InputError, match="only invisible"):
        clean_message("\u200b\u200b")
    cleaned = clean_message("fine\u200b.")
    assert cleaned.text == "fine." and "zero-width" in cleaned.notes[0]
    long = clean_message("word " * 1000)
    assert len(long.text) == MAX_CHARS and "first 4000 characters" in long.notes[0]
    assert clean_message("🙂🙂").low_confidence
    assert clean_message("Je ne sais pas pourquoi tu as fait cela encore une fois").low_confidence
    assert not clean_message("I can't believe you did that again, honestly").low_confidence


def test_rule_based_rewrite_drops_the_devices():
    assert "per my last" not in rule_based_rewrite("Per my last email, the report is due Friday.").lower()
    assert rule_based_rewrite("No worries, I'll just do it myself.") == \
        "Could you help me with this? I can't do it all alone."
    assert "🙂" not in rule_based_rewrite("Great job as usual 🙂")
    assert rule_based_rewrite("k.").startswith("Okay.")


def test_stacked_reminders_become_one_and_a_bare_reminder_is_not_offered():
    assert rule_based_rewrite("As I said before, as previously mentioned, we ship Monday.") == "To recap, we ship Monday."
    assert rule_based_rewrite("Per my last email, as I already said.") == ""  # was "To recap, to recap,."
    assert kinder_rewrite("Per my last email, as I already said.", lambda t: (0.0, 0.0)) is None


def test_a_rewrite_is_offered_only_if_the_model_accepts_it():
    assert kinder_rewrite("Per my last email, send it.", lambda t: (0.1, 0.0)) is not None
    assert kinder_rewrite("Per my last email, send it.", lambda t: (0.9, 0.0)) is None


def test_explanation_points_at_the_phrase_that_drives_the_verdict(tiny_tone_root):
    from ml.tone.predictor import TonePredictor

    class PhraseScorer(TonePredictor):
        """The real leave-one-out code over a scorer that only reacts to 'last email'."""
        def probabilities(self, texts, batch=64):
            tone = np.full((len(texts), 4), 0.1, np.float32)
            for row, text in zip(tone, texts):
                row[PA] = 0.9 if "last email" in text else 0.2
                row /= row.sum()
            return tone, np.full((len(texts), 3), 1 / 3, np.float32)

    predictor = PhraseScorer(ModelHome(tiny_tone_root).current("tone"))
    verdict = predictor.check("As I said in my last email the deadline is Friday")
    assert verdict.label == TONE_LABELS[PA]
    assert {c["text"] for c in verdict.cues} == {"last", "email"}
    assert "**last email**" in verdict.highlighted


def test_tiny_model_card_and_scores(tiny_tone_root):
    card = ModelHome(tiny_tone_root).current("tone").card
    for key in ("pa_f1", "pa_auc", "macro_f1", "sentiment_accuracy"):
        assert 0 <= card["metrics"][key] <= 1
    assert card["metrics"]["pa_auc"] > 0.6  # 300 messages and two epochs already beat chance


async def test_tone_command_caches_by_text(tone_home):
    from bot.app import App
    from bot.commands import CommandContext, run_command

    async with App(tone_home) as app:
        ctx = CommandContext(app, "console", "u")
        first = await run_command("tone", ctx, text="Thanks for finally replying, I guess.")
        calls = app.runtime("tone").calls
        second = await run_command("tone", ctx, text="Thanks for finally replying,  I guess.")  # same after cleaning
        assert not first.is_error, first.text
        assert second.data["cached"] is True and app.runtime("tone").calls == calls
        assert first.data["label"] in TONE_LABELS and 0 <= first.data["passive_aggression"] <= 1
        empty = await run_command("tone", ctx, text="  ")
        assert empty.is_error and empty.text == "there is no text to check"


def test_cli_tone_file_json(tone_home, tmp_path):
    messages = tmp_path / "messages.txt"
    messages.write_text("Per my last email, the file is attached.\nThank you so much, you're a star!\n\n")
    env = {**os.environ, "MLBOT_HOME": str(tone_home.root), "MLBOT_TORCH_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "bot.adapters.cli", "tone", "--file", str(messages), "--json"],
                            env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 2
    for line in lines:
        assert set(line) >= {"text", "label", "passive_aggression", "sentiment", "cues"}
        assert line["label"] in TONE_LABELS
