"""Pages with no digit answer "no digits"; touching digits are split; big photos are read small."""
import io

import numpy as np
import pytest
from PIL import Image

from ml.digits.blank import Evidence, rejection, written
from ml.digits.imageio import QUICK_SIDE, decode_image
from ml.digits.pages import BLANK_KINDS, TUNE_SEEDS, blank_page, megapixel_photo, touching_number
from ml.digits.preprocess import prepare_digits, prepare_page
from ml.digits.reader import DigitReader
from ml.digits.touching import best_path
from ml.home import ModelHome
from tests.conftest import png_bytes


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def digits_of(mnist, wanted):
    return [int(np.flatnonzero(mnist.test_labels == d)[k]) for k, d in enumerate(wanted)]


@pytest.mark.parametrize("kind", BLANK_KINDS)
def test_blank_pages_are_read_as_no_digits(kind, tiny_model_root):
    reader = DigitReader(ModelHome(tiny_model_root).current("digits"))
    for seed in TUNE_SEEDS[:2]:
        reading = reader.read(blank_page(np.random.default_rng(seed), kind))
        assert reading.no_digits, (kind, seed, reading.as_json())
        assert reading.as_json()["digits"] is None and reading.top3 == [] and reading.model_input_png == b""


def test_a_plain_white_page_has_no_marks():
    assert prepare_page(decode_image(png_bytes(np.full((300, 400), 250, np.uint8)))).marks == []


def test_evidence_refuses_what_is_not_writing():
    digit = Evidence(contrast=80, edge=0.34, stroke=0.1, straightness=0.5, tilt=15, span=0.3, border=False)
    assert rejection(digit) is None and written(digit, 0.5)
    assert rejection(Evidence(**{**vars(digit), "contrast": 4.5})) == "faint"
    assert rejection(Evidence(**{**vars(digit), "stroke": 0.45})) == "blob"
    assert rejection(Evidence(**{**vars(digit), "straightness": 0.05, "tilt": 70})) == "dash"
    one = Evidence(**{**vars(digit), "straightness": 0.05, "tilt": 10})
    assert rejection(one) is None  # a 1 is a straight stroke too, but upright


def test_digits_on_paper_are_still_read(tiny_model_root, mnist):
    """Blank-page refusal must not swallow real digits (the tiny model reads them, right or not)."""
    from ml.digits.synthetic import render_photo

    reader = DigitReader(ModelHome(tiny_model_root).current("digits"))
    rng = np.random.default_rng(5)
    for index in range(12):
        reading = reader.read(render_photo([mnist.train_images[index]], rng))
        assert not reading.no_digits and reading.best_guess


def test_touching_digits_can_be_cut_into_the_right_pieces(mnist):
    """Among the mark's cuts is a path of four pieces, each like the digit written there."""
    wanted = [2, 0, 2, 6]
    indices = digits_of(mnist, wanted)
    references = [prepare_digits(decode_image(png_bytes(mnist.test_images[i])))[0].image for i in indices]
    image = touching_number([mnist.test_images[i] for i in indices], np.random.default_rng(6), "plain")
    marks = prepare_page(decode_image(image)).marks
    assert len(marks) == 1, "the digits touch: one mark"
    mark = marks[0]
    alike = {key: [similarity(crop.image, ref) for ref in references] for key, crop in mark.pieces.items()}

    def paths(start: int, digit: int):  # every way to cover the mark with pieces like the digits in turn
        if digit == len(references):
            return [[]] if start == len(mark.cuts) - 1 else []
        return [[key, *rest] for key in alike if key[0] == start and alike[key][digit] > 0.55
                for rest in paths(key[1], digit + 1)]

    assert paths(0, 0), "no cuts leave four pieces that look like 2, 0, 2, 6"


def test_best_path_prefers_confident_pieces():
    # cuts 0..3: reading (0,3) whole is 40% sure; three pieces at 99% each win.
    scores = {(0, 3): np.log(0.4), (0, 1): np.log(0.99), (1, 2): np.log(0.99), (2, 3): np.log(0.99),
              (0, 2): np.log(0.3)}
    assert best_path(4, scores) == [(0, 1), (1, 2), (2, 3)]
    assert best_path(4, {(0, 3): np.log(0.9), (0, 1): np.log(0.5), (1, 3): np.log(0.5)}) == [(0, 3)]


def test_a_narrow_digit_is_not_cut_and_a_wide_one_is_offered_whole(mnist):
    """Cutting is tried only on marks wider than SPLIT_ASPECT x their height, and reading the
    mark whole is always among the choices: the model's reading decides."""
    from ml.digits.touching import SPLIT_ASPECT

    for index in range(40):
        image = png_bytes(255 - mnist.test_images[index])
        [mark] = prepare_page(decode_image(image)).marks
        width, height = mark.box[2] - mark.box[0], mark.box[3] - mark.box[1]
        assert (0, len(mark.cuts) - 1) in mark.pieces, index
        if width <= SPLIT_ASPECT * height - 1:
            assert list(mark.pieces) == [(0, 1)], index


def test_a_megapixel_jpeg_is_decoded_small():
    data = megapixel_photo([np.pad(np.full((20, 8), 255, np.uint8), 4)], np.random.default_rng(0))
    assert Image.open(io.BytesIO(data)).size == (1152, 864)
    decoded = decode_image(data, QUICK_SIDE)
    assert decoded.reduced and QUICK_SIDE <= max(decoded.rgb.shape[:2]) < 2 * QUICK_SIDE
    assert decoded.original_size == (1152, 864)
    full = decode_image(data)
    assert not full.reduced and full.rgb.shape[:2] == (864, 1152)


def test_a_large_png_is_reduced_by_whole_cells():
    data = png_bytes(np.full((1000, 1400), 200, np.uint8))
    decoded = decode_image(data, QUICK_SIDE)
    assert decoded.reduced and decoded.rgb.shape[:2] == (1000 // 5, 1400 // 5)


def test_small_digits_on_a_big_photo_get_a_second_full_size_look(tiny_model_root, mnist):
    reader = DigitReader(ModelHome(tiny_model_root).current("digits"))
    page = np.full((1200, 1600), 245, np.uint8)
    small = np.asarray(Image.fromarray(255 - mnist.test_images[0]).resize((100, 100)))
    page[500:600, 700:800] = np.minimum(page[500:600, 700:800], small)
    buffer = io.BytesIO()
    Image.fromarray(page).save(buffer, format="JPEG", quality=90)
    stages = []
    reading = reader.read(buffer.getvalue(), stages.append)
    assert "decode again, full size" in stages and not reading.no_digits
