"""Digits only a few pixels high (issue 17): the scaling up is undone and the grey ink is
scaled smoothly into MNIST's box, so a tiny scan is read as one digit, not as broken strokes."""

import numpy as np
import pytest
from PIL import Image

from ml.digits.small_ink import native_scale, small_digit_image, small_digits
from ml.digits.writers import draw_digit, to_mnist


def _tiny(digit: int, seed: int, grid: int = 10) -> np.ndarray:
    """A digit as an ink map `grid` px high (ink 1.0), the way a low-resolution scan holds it."""
    ink = to_mnist(draw_digit(digit, seed, side=64))
    return np.asarray(Image.fromarray(ink, mode="F").resize((grid, grid), Image.Resampling.BOX), np.float32)


@pytest.mark.parametrize("zoom", [7, 12, 19, 30])
@pytest.mark.parametrize("resample", [Image.Resampling.NEAREST, Image.Resampling.BILINEAR])
def test_native_scale_finds_how_much_a_small_image_was_scaled_up(zoom, resample):
    small = _tiny(3, 11, grid=12)
    big = np.asarray(Image.fromarray(small, mode="F").resize((12 * zoom, 12 * zoom), resample), np.float32)
    assert native_scale(big) == pytest.approx(zoom, rel=0.1)


def test_a_drawing_at_full_resolution_is_not_taken_for_a_scaled_up_one():
    drawing = draw_digit(5, 3, side=200)
    assert native_scale(drawing) < 2.5
    assert small_digits(drawing) is None  # 140 px high: the main path reads it


def test_a_scaled_up_tiny_scan_becomes_one_mnist_like_digit():
    tiny = _tiny(7, 5, grid=9)
    big = np.asarray(Image.fromarray(tiny, mode="F").resize((9 * 20, 9 * 20), Image.Resampling.NEAREST), np.float32)
    found = small_digits(big)
    assert found is not None and len(found) == 1
    image, box = found[0]
    assert image.shape == (28, 28) and image.max() == pytest.approx(1.0)
    ys, xs = np.nonzero(image > 0.1)
    assert 18 <= max(ys.max() - ys.min(), xs.max() - xs.min()) + 1 <= 23  # MNIST's 20 px box
    assert abs(np.average(np.arange(28), weights=image.sum(1)) - 14) < 1.5  # centred by mass
    # Smooth, not blocky: many grey levels, as MNIST's anti-aliased digits have.
    assert len(np.unique(np.round(image[image > 0.05], 2))) > 20
    assert box[2] - box[0] <= 9 * 20 and box[3] - box[1] <= 9 * 20


def test_two_tiny_digits_side_by_side_are_two_digits():
    pair = np.concatenate([_tiny(2, 1), np.zeros((10, 3), np.float32), _tiny(8, 2)], axis=1)
    found = small_digits(pair)
    assert found is not None and len(found) == 2
    assert found[0][1][0] < found[1][1][0]


def test_specks_do_not_become_digits():
    tiny = _tiny(4, 9, grid=10)
    page = np.zeros((14, 20), np.float32)
    page[2:12, 2:12] = tiny
    page[6, 17] = 0.5  # a speck of dust beside the digit
    found = small_digits(page)
    assert found is not None and len(found) == 1


def test_small_digit_image_stretches_faint_ink():
    faint = _tiny(0, 4) * 0.3
    assert small_digit_image(faint).max() == pytest.approx(1.0)


def test_the_evaluation_tiny_scans_take_the_small_ink_path():
    from io import BytesIO

    from ml.digits.other_writers import tiny_scan

    rng = np.random.default_rng(1)
    taken = 0
    for seed in range(20):
        picture = Image.open(BytesIO(tiny_scan(draw_digit(seed % 10, seed, side=96), rng))).convert("L")
        ink = 1 - np.asarray(picture, np.float32) / 255
        found = small_digits(ink)
        taken += found is not None and len(found) == 1
    assert taken >= 17  # measured 20 of 20 (bilinear and nearest, 8-32x)


def test_paper_noise_is_measured_on_the_paper_not_on_a_digit_filling_the_frame():
    from ml.digits.preprocess import paper_noise

    def usual(page):
        return 1.4826 * np.median(np.abs(page - np.median(page)))
    rng = np.random.default_rng(0)
    page = rng.normal(0.0, 0.01, (200, 200))
    page[20:180, 50:150] += 0.8  # ink over 40% of the picture
    assert paper_noise(page) < usual(page) / 1.4
    page[10:190, 30:170] += 0.8  # over 63%: the usual deviation, never a worse one
    assert paper_noise(page) == pytest.approx(usual(page))


def test_a_scan_scaled_up_from_a_few_pixels_is_kept_as_a_scan_not_refused_as_a_smudge():
    from ml.digits.imageio import decode_image
    from ml.digits.other_writers import tiny_scan
    from ml.digits.preprocess import prepare_page
    from ml.digits.writers import pen_digits

    images, _ = pen_digits(6, range(20_000_000, 21_000_000))
    rng = np.random.default_rng(3)
    pages = [prepare_page(decode_image(tiny_scan(ink, rng))) for ink in images]
    assert all(len(page.marks) == 1 for page in pages)  # each read as one digit, none refused
    assert sum(page.marks[0].evidence.scanned for page in pages) >= 3  # its grid found: judged as a scan
