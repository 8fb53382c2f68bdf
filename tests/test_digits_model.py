"""A tiny model trained in seconds on a slice of MNIST: it learns, it is deterministic, it resumes."""

import numpy as np
import pytest

from ml.digits.reader import DigitReader, top_readings
from ml.digits.train import TrainConfig, train_digits
from ml.home import ModelHome
from ml.progress import Progress, TrainingCancelled
from tests.conftest import cancel_during, mnist_png


def test_tiny_model_beats_chance_by_far(tiny_model_root):
    ref = ModelHome(tiny_model_root).current("digits")
    card = ref.card
    assert card["metrics"]["test_accuracy"] > 0.85  # chance is 0.10
    assert card["data"]["test_images"] == 10_000
    for key in ("data", "metrics", "calibration", "training", "libraries", "version"):
        assert key in card
    assert card["training"]["seed"] == 0 and "torch" in card["libraries"]
    assert 0.05 < card["calibration"]["temperature"] < 20
    assert 0.4 <= card["calibration"]["threshold"] <= 0.9


def test_reader_reads_mnist_digits(tiny_model_root, mnist):
    reader = DigitReader(ModelHome(tiny_model_root).current("digits"))
    right = sum(reader.read(mnist_png(mnist, i)).best_guess == str(mnist.test_labels[i]) for i in range(40))
    assert right >= 32
    reading = reader.read(mnist_png(mnist, 0))
    assert len(reading.top3) == 3 and abs(sum(p for _, p in reading.top3)) <= 1.0 + 1e-6
    assert reading.model_input_png.startswith(b"\x89PNG")


def test_same_seed_same_model_and_resume_is_exact(tmp_path, mnist):
    config = TrainConfig(width=4, epochs=2, train_limit=1200, val_size=200, max_lr=0.1)
    straight = train_digits(ModelHome(tmp_path / "a"), config, data=mnist)
    again = train_digits(ModelHome(tmp_path / "b"), config, data=mnist)
    assert straight.version == again.version

    interrupted_home = ModelHome(tmp_path / "c")
    progress = Progress("digits")
    cancel_during(progress, 16)  # in the second epoch (12 steps each, drawings and pieces included)
    with pytest.raises(TrainingCancelled):
        train_digits(interrupted_home, config, progress, data=mnist)
    assert interrupted_home.current("digits") is None
    assert (interrupted_home.work_dir("digits") / "checkpoint.pt").exists()
    resumed = train_digits(interrupted_home, config, data=mnist)
    assert resumed.version == straight.version
    assert not (interrupted_home.work_dir("digits") / "checkpoint.pt").exists()


def test_top_readings_ranks_whole_numbers():
    probabilities = np.zeros((2, 10))
    probabilities[0, [2, 7]] = [0.9, 0.1]
    probabilities[1, [0, 6]] = [0.6, 0.4]
    top = top_readings(probabilities)
    assert [text for text, _ in top] == ["20", "26", "70"]
    assert top[0][1] == pytest.approx(0.54)


def test_idx_folder_is_an_alternative_source(tmp_path, mnist, monkeypatch):
    from ml.digits.data import load_mnist, write_idx

    folder = tmp_path / "idx"
    folder.mkdir()
    write_idx(folder / "train-images-idx3-ubyte.gz", mnist.train_images[:300])
    write_idx(folder / "train-labels-idx1-ubyte.gz", mnist.train_labels[:300])
    write_idx(folder / "t10k-images-idx3-ubyte", mnist.test_images[:100])
    write_idx(folder / "t10k-labels-idx1-ubyte", mnist.test_labels[:100])
    monkeypatch.setenv("MLBOT_MNIST_DIR", str(folder))
    data = load_mnist()
    assert data.train_images.shape == (300, 28, 28) and data.test_labels.shape == (100,)
    assert (data.train_images == mnist.train_images[:300]).all()
    assert "IDX files" in data.source
    (folder / "t10k-labels-idx1-ubyte").write_bytes(b"\0\0\x08\x01" + (5).to_bytes(4, "big") + b"12")
    from ml.digits.data import DataMissing

    with pytest.raises(DataMissing, match="header says 5"):
        load_mnist()
