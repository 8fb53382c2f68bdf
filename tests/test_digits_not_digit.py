"""The eleventh class: pieces of touching digits that are not one digit."""
import dataclasses

import numpy as np

from ml.digits.not_digit import NOT_DIGIT, is_not_digit, not_digit_images, piece_owner, straightness
from ml.digits.pages import TUNE_SEEDS
from ml.digits.reader import DigitReader
from ml.digits.train import TrainConfig, train_digits
from ml.home import ModelHome


def two_layers() -> list[np.ndarray]:
    left, right = np.zeros((20, 30), bool), np.zeros((20, 30), bool)
    left[2:18, 2:12] = True
    right[2:18, 12:24] = True
    return [left, right]


def test_whose_ink_a_piece_holds_decides_its_label():
    layers = two_layers()
    assert piece_owner(layers[0], layers) == (1.0, 1.0)                   # one whole digit
    assert not is_not_digit(*piece_owner(layers[0], layers))
    both = layers[0] | layers[1]
    assert is_not_digit(*piece_owner(both, layers))                        # two digits as one
    half = layers[1].copy()
    half[:, 18:] = False
    assert is_not_digit(*piece_owner(half, layers))                        # half a digit


def test_a_single_straight_stroke_is_never_taught_as_not_a_digit():
    stroke = np.zeros((30, 30), bool)
    stroke[2:28, 14:17] = True  # looks like a 1, whatever it was cut from
    assert straightness(stroke) < 0.3
    ring = np.zeros((30, 30), bool)
    ring[4:26, 4:26] = True
    ring[8:22, 8:22] = False
    assert straightness(ring) > 0.9


def test_pieces_are_drawn_from_a_seed(mnist):
    first = not_digit_images(mnist.train_images[:300], 20, np.random.default_rng(3))
    again = not_digit_images(mnist.train_images[:300], 20, np.random.default_rng(3))
    assert first.shape == (20, 28, 28) and first.dtype == np.uint8 and (first == again).all()
    assert (first.reshape(20, -1).max(axis=1) > 200).all()  # every piece has ink


def test_a_model_with_the_class_reads_ten_digits_whose_shares_leave_room_for_it(tmp_path, mnist):
    config = dataclasses.replace(TrainConfig.quick(), epochs=2, train_limit=2000, not_digit_share=0.25)
    ref = train_digits(ModelHome(tmp_path), config, data=mnist)
    assert ref.card["data"]["not_digit_pieces"] == 500
    reader = DigitReader(ref)
    assert reader.model.classifier.out_features == NOT_DIGIT + 1
    probabilities = reader.probabilities(mnist.test_images[:50] / 255.0)
    assert probabilities.shape == (50, 10) and (probabilities.sum(axis=1) <= 1 + 1e-6).all()
    # It learnt the class: pieces that are not one digit leave more to it than digits do.
    pieces = not_digit_images(mnist.test_images[:300], 50, np.random.default_rng(TUNE_SEEDS[0])) / 255.0
    left_to_the_class = 1 - reader.probabilities(pieces).sum(axis=1)
    assert left_to_the_class.mean() > 2 * (1 - probabilities.sum(axis=1)).mean()
