"""The `mlbot` command line, run as a user would: a real subprocess."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import mnist_png, png_bytes

MLBOT = [sys.executable, "-m", "bot.adapters.cli"]


def run(args, home, **kwargs):
    env = {**os.environ, "MLBOT_HOME": str(home.root), "MLBOT_TORCH_THREADS": "1"}
    return subprocess.run(MLBOT + args, env=env, capture_output=True, text=True, timeout=120, **kwargs)


@pytest.mark.parametrize("args", [[], ["console"], ["run"], ["train"], ["eval"], ["digit"]])
def test_help_everywhere(args, home):
    result = run(args + ["--help"], home)
    assert result.returncode == 0 and "usage: mlbot" in result.stdout


def test_digit_batch_json_keeps_going_past_bad_files(home_with_model, mnist, tmp_path):
    good = tmp_path / "seven.png"
    good.write_bytes(mnist_png(mnist, 0))
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    blank = tmp_path / "blank.png"
    blank.write_bytes(png_bytes(np.full((200, 160), 235, np.uint8)))
    result = run(["digit", str(good), str(text), str(tmp_path / "missing.png"), str(empty), str(good), str(blank),
                  "--json"], home_with_model)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 1
    assert [line["file"] for line in lines] == [str(good), str(text), str(tmp_path / "missing.png"), str(empty),
                                                str(good), str(blank)]
    first = lines[0]
    assert first["no_digits"] is False
    assert lines[5]["no_digits"] is True and lines[5]["digits"] is None  # a blank page: no digits, no guess
    assert set(first) >= {"file", "digits", "confidence", "top3"}
    assert first["top3"][0]["digits"] == first["digits"] or first["digits"] is None
    assert "not an image" in lines[1]["error"]
    assert "no such file" in lines[2]["error"]
    assert "empty" in lines[3]["error"]
    assert lines[4]["digits"] == first["digits"]


def test_digit_human_output(home_with_model, mnist, tmp_path):
    good = tmp_path / "seven.png"
    good.write_bytes(mnist_png(mnist, 0))
    result = run(["digit", str(good)], home_with_model)
    assert result.returncode == 0
    assert result.stdout.startswith(f"{good}: ") and "top 3" in result.stdout


def test_eval_json_reports_accuracy_and_baseline(home_with_model):
    result = run(["eval", "digits", "--json", "--photos", "6", "--other-writers", "0"], home_with_model)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["n"] == 10_000
    assert 0.85 < figures["accuracy"] <= 1
    assert 0.85 < figures["baseline_accuracy"] < 0.95  # logistic regression on pixels: about 0.92
    assert figures["model_version"].startswith("digits-")
    assert figures["photo_n"] == 6
    assert "other_writers" not in figures  # --other-writers 0 skips that set


def test_unknown_service_is_one_clear_line(home):
    result = run(["train", "poetry"], home)
    assert result.returncode == 2 and "unknown service 'poetry'" in result.stderr
    result = run(["eval", "digits"], home)
    assert result.returncode == 2 and "not built yet" in result.stderr


def test_train_quick_publishes_a_model_with_progress_bars(home):
    result = run(["train", "digits", "--quick"], home)
    assert result.returncode == 0, result.stderr
    assert "training" in result.stderr and "%" in result.stderr  # tqdm bars
    ref = home.current("digits")
    assert ref is not None and "published " + ref.version in result.stdout
