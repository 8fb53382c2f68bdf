"""Real uploads prepared the way MNIST was made, whatever the photo looks like."""
import io

import numpy as np
import pytest
from PIL import Image

from ml.digits.imageio import decode_image
from ml.digits.preprocess import TARGET_STROKE_RATIO, prepare_digits, stroke_width, _resize
from tests.conftest import png_bytes

DIGIT_INDEX = 0  # a 7 in MNIST's test set


def reference(mnist, index=DIGIT_INDEX) -> np.ndarray:
    return prepare_digits(decode_image(png_bytes(mnist.test_images[index])))[0].image


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def paper_photo(digit: np.ndarray, canvas=(600, 800), top_left=(150, 200), height=200,
                paper=(250, 250, 245), ink=(20, 20, 30)) -> np.ndarray:
    """Dark ink on paper: the MNIST digit enlarged and pasted onto a larger page."""
    enlarged = np.asarray(Image.fromarray(digit).resize((height, height), Image.Resampling.BICUBIC), np.float32) / 255
    alpha = np.zeros(canvas, np.float32)
    y, x = top_left
    alpha[y : y + height, x : x + height] = enlarged
    page = np.array(paper, np.float32) * (1 - alpha[..., None]) + np.array(ink, np.float32) * alpha[..., None]
    return page.clip(0, 255).astype(np.uint8)


def test_mnist_itself_passes_through_almost_unchanged(mnist):
    original = mnist.test_images[DIGIT_INDEX].astype(np.float32) / 255
    assert similarity(reference(mnist), original) > 0.8


def test_inverted_dark_ink_on_white(mnist):
    inverted = 255 - mnist.test_images[DIGIT_INDEX]
    seen = prepare_digits(decode_image(png_bytes(inverted)))
    assert len(seen) == 1 and similarity(seen[0].image, reference(mnist)) > 0.9


def test_off_centre_on_a_large_canvas(mnist):
    photo = paper_photo(mnist.test_images[DIGIT_INDEX], canvas=(1500, 2000), top_left=(1100, 80), height=300)
    seen = prepare_digits(decode_image(png_bytes(photo)))
    assert len(seen) == 1 and similarity(seen[0].image, reference(mnist)) > 0.8


def test_coloured_background_with_uneven_light_and_texture(mnist):
    photo = paper_photo(mnist.test_images[DIGIT_INDEX], paper=(255, 230, 120), ink=(30, 40, 150)).astype(np.float32)
    ramp = np.linspace(1.0, 0.55, photo.shape[1], dtype=np.float32)[None, :, None]  # a shadow across the page
    grain = np.random.default_rng(0).normal(0, 6, photo.shape[:2])[..., None]
    photo = (photo * ramp + grain).clip(0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, format="JPEG", quality=80)
    seen = prepare_digits(decode_image(buffer.getvalue()))
    assert len(seen) == 1 and similarity(seen[0].image, reference(mnist)) > 0.75


def test_other_digits_are_not_similar(mnist):
    """Keeps the thresholds above honest: a different digit scores far lower."""
    two = int(np.flatnonzero(mnist.test_labels == 2)[0])
    assert similarity(reference(mnist), reference(mnist, two)) < 0.5


def test_transparent_png_with_dark_strokes(mnist):
    alpha = np.asarray(Image.fromarray(mnist.test_images[DIGIT_INDEX]).resize((140, 140)))
    rgba = np.zeros((140, 140, 4), np.uint8)
    rgba[..., 3] = alpha  # black strokes whose only signal is their opacity
    seen = prepare_digits(decode_image(png_bytes(rgba, mode="RGBA")))
    assert len(seen) == 1 and similarity(seen[0].image, reference(mnist)) > 0.85


def test_transparent_png_with_white_strokes(mnist):
    alpha = np.asarray(Image.fromarray(mnist.test_images[DIGIT_INDEX]).resize((140, 140)))
    rgba = np.full((140, 140, 4), 255, np.uint8)
    rgba[..., 3] = alpha
    seen = prepare_digits(decode_image(png_bytes(rgba, mode="RGBA")))
    assert len(seen) == 1 and similarity(seen[0].image, reference(mnist)) > 0.85


def test_exif_orientation_is_applied(mnist):
    photo = paper_photo(mnist.test_images[DIGIT_INDEX], canvas=(400, 400), top_left=(100, 100))
    rotated = Image.fromarray(photo).rotate(90, expand=True)  # stored sideways...
    exif = Image.Exif()
    exif[0x0112] = 6  # ...with the tag that says "rotate 90° clockwise to view"
    buffer = io.BytesIO()
    rotated.save(buffer, format="JPEG", exif=exif, quality=95)
    seen = prepare_digits(decode_image(buffer.getvalue()))
    assert similarity(seen[0].image, reference(mnist)) > 0.8


def test_gif_first_frame_is_read(mnist):
    frames = [Image.fromarray(255 - mnist.test_images[DIGIT_INDEX]), Image.fromarray(np.full((28, 28), 255, np.uint8))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    seen = prepare_digits(decode_image(buffer.getvalue()))
    assert similarity(seen[0].image, reference(mnist)) > 0.85


def test_several_digits_are_read_left_to_right(mnist):
    labels = mnist.test_labels
    wanted = [2, 0, 2, 6]
    indices = [int(np.flatnonzero(labels == d)[0]) for d in wanted]
    strip = np.concatenate([np.pad(255 - mnist.test_images[i], ((10, 10), (6, 6)), constant_values=255)
                            for i in indices], axis=1)
    seen = prepare_digits(decode_image(png_bytes(strip)))
    assert len(seen) == 4
    xs = [crop.box[0] for crop in seen]
    assert xs == sorted(xs)
    for crop, index in zip(seen, indices):
        assert similarity(crop.image, reference(mnist, index)) > 0.8


def test_output_is_mnist_shaped(mnist):
    image = reference(mnist)
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert 0 <= image.min() and image.max() <= 1.0
    ys, xs = np.nonzero(image > 0.05)
    assert max(ys.max() - ys.min(), xs.max() - xs.min()) <= 21  # fits the 20x20 box (+ anti-aliasing)
    cy, cx = (np.indices(image.shape) * image).sum(axis=(1, 2)) / image.sum()
    assert abs(cy - 14) < 1.5 and abs(cx - 14) < 1.5


def test_mnist_stroke_ratio(mnist):
    """TARGET_STROKE_RATIO is what MNIST's own digits measure."""
    ratios = []
    for image in mnist.train_images[:200]:
        mask = _resize(image.astype(np.float32) / 255, (224, 224)) >= 0.5
        ys, xs = np.nonzero(mask)
        ratios.append(stroke_width(mask) / (max(np.ptp(ys), np.ptp(xs)) + 1))
    assert np.median(ratios) == pytest.approx(TARGET_STROKE_RATIO, rel=0.15)
