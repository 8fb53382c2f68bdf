"""Turn a photo or drawing into 28x28 images prepared the way MNIST's digits were.

MNIST digits are white ink on black, fitted into a 20x20 box keeping their aspect
ratio, anti-aliased, and centred by centre of mass in 28x28. Real uploads are mostly
dark ink on paper, unevenly lit, with texture, margins and other marks, so the steps are:

1. flatten transparency onto a background that contrasts with what is drawn;
2. pick the colour channel where ink stands out most, and the ink's polarity;
3. subtract a smooth estimate of the local background (shadows, gradients);
4. threshold, drop specks and marks cut by the image border, group the remaining
   strokes into digits left to right;
5. for each digit: even out the stroke width, scale into 20x20, centre by mass.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
from PIL import Image
from scipy import ndimage

from ml.digits.blank import Evidence, rejection
from ml.digits.imageio import DecodedImage
from ml.digits.small_ink import native_scale, small_digits
from ml.digits.touching import best_path, cut_columns, pieces
from ml.errors import InputError

MAX_DIGITS = 12
# Median stroke width / longer side of MNIST digits once thresholded (measured on the
# training set by tests/test_digits_preprocess.py::test_mnist_stroke_ratio).
TARGET_STROKE_RATIO = 0.093
WORK_SIDE = 160  # a digit is normalized at this resolution before the final 20x20
MIN_ANALYSIS_SIDE = 256  # smaller images are enlarged to this before thresholding


@dataclass
class DigitCrop:
    image: np.ndarray                # (28, 28) float32 in [0, 1], white ink on black
    box: tuple[int, int, int, int]   # x0, y0, x1, y1 in the (possibly reduced) image


def luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def flatten_alpha(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Composite onto white when what is drawn is dark, onto black when it is light."""
    if alpha is None:
        return rgb
    opaque = alpha > 0.5
    drawn_is_dark = (not opaque.any()) or luminance(rgb[opaque]).mean() < 0.5
    background = 1.0 if drawn_is_dark else 0.0
    return rgb * alpha[..., None] + background * (1.0 - alpha[..., None])


def ink_signal(rgb: np.ndarray) -> np.ndarray:
    """One channel where ink is high: the channel and polarity with the most contrast."""
    # Statistics from a few thousand pixels are as good as from all of them, and far cheaper.
    step = max(1, int(np.sqrt(rgb.shape[0] * rgb.shape[1] / 4_000)))
    sample = rgb[::step, ::step].reshape(-1, 3)
    channels = np.concatenate([luminance(sample)[:, None], sample], axis=1)  # (n, 4)
    low, mid, high = np.percentile(channels, [0.5, 50, 99.5], axis=0)
    spread = np.median(np.abs(channels - mid), axis=0)
    dark_ink = (mid - low) >= (high - mid)
    contrast = np.where(dark_ink, mid - low, high - mid)
    score = contrast / (spread + 0.02) * np.array([1.15, 1.0, 1.0, 1.0])  # prefer plain brightness
    index = int(np.argmax(score))
    channel = luminance(rgb) if index == 0 else rgb[..., index - 1]
    best = (mid[index] - channel) if dark_ink[index] else (channel - mid[index])
    return np.asarray(best, dtype=np.float32)


def _resize(array: np.ndarray, size: tuple[int, int], resample=Image.Resampling.BILINEAR) -> np.ndarray:
    """size is (width, height)."""
    return np.asarray(Image.fromarray(array.astype(np.float32), mode="F").resize(size, resample))


def subtract_background(signal: np.ndarray, clip: bool = True) -> np.ndarray:
    """Remove lighting gradients and large dark areas (a desk beside the paper)."""
    height, width = signal.shape
    if max(height, width) < 100:  # drawings and MNIST-sized inputs: the median is the background
        return np.clip(signal, 0, None) if clip else signal
    scale = 64 / max(height, width)
    small = _resize(signal, (max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BOX)
    window = max(3, round(max(small.shape) / 5)) | 1
    # Grey opening erases bright structures narrower than the window (the strokes) and
    # keeps broad ones (lighting, shadows, table edges), which are then subtracted.
    background = ndimage.grey_opening(small, size=(window, window))
    background = ndimage.gaussian_filter(background, window / 4)
    residual = signal - _resize(background, (width, height))
    return np.clip(residual, 0, None) if clip else residual


def _otsu(values: np.ndarray) -> float:
    hist, edges = np.histogram(values, bins=128)
    centers = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(hist)
    weight_high = weight_low[-1] - weight_low
    mean_low = np.cumsum(hist * centers) / np.maximum(weight_low, 1)
    total = (hist * centers).sum()
    mean_high = (total - np.cumsum(hist * centers)) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(centers[np.argmax(between)])


def ink_mask(ink: np.ndarray) -> np.ndarray | None:
    """Pixels that are ink, or None when nothing on the page stands out (a blank page)."""
    sample = ink[:: max(1, ink.shape[0] // 300), :: max(1, ink.shape[1] // 300)]
    # The usual deviation: `ink` is clipped at zero, so paper_noise's other side is not there.
    noise = robust_sigma(sample)
    if ink.size > 2000:  # the 99.95th percentile, by a partial sort of every other row
        flat = ink[:: 2 if ink.size > 40_000 else 1].ravel()
        peak = float(np.partition(flat, int(0.9995 * (flat.size - 1)))[int(0.9995 * (flat.size - 1))])
    else:
        peak = float(ink.max())
    if peak < 0.08:
        return None
    threshold = max(_otsu(ink[ink > 0.02 * peak]) if (ink > 0.02 * peak).sum() > 10 else 0.5 * peak,
                    0.2 * peak, float(np.median(sample)) + 4 * noise)
    return ink >= threshold


@dataclass
class _Component:
    label: int
    area: int
    x0: int
    y0: int
    x1: int
    y1: int
    touches_border: bool


def _components(mask: np.ndarray) -> tuple[np.ndarray, list[_Component]]:
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return labels, []
    areas = ndimage.sum_labels(mask, labels, index=np.arange(1, count + 1))
    height, width = mask.shape
    found = []
    for index, slices in enumerate(ndimage.find_objects(labels)):
        ys, xs = slices
        found.append(_Component(
            label=index + 1, area=int(areas[index]), x0=xs.start, y0=ys.start, x1=xs.stop, y1=ys.stop,
            touches_border=xs.start == 0 or ys.start == 0 or xs.stop == width or ys.stop == height,
        ))
    return labels, found


def _keep_marks(components: list[_Component]) -> list[_Component]:
    largest = max(c.area for c in components)
    marks = [c for c in components if c.area >= max(4, 0.04 * largest)]
    inner = [c for c in marks if not c.touches_border]
    if not inner:
        return marks  # a tightly cropped digit touches the border itself
    # A mark cut by the border is kept when it is shaped like the digits inside (a digit
    # at the edge of the frame); paper edges, table edges and shadows are far taller or wider.
    tallest = max(c.y1 - c.y0 for c in inner)
    return [
        c for c in marks
        if not c.touches_border or (c.y1 - c.y0 <= 1.6 * tallest and c.x1 - c.x0 <= 1.5 * tallest)
    ]


def _group_into_digits(marks: list[_Component]) -> list[list[_Component]]:
    """Strokes that overlap horizontally belong to one digit (a 5's flag, a broken 4)."""
    groups: list[list[_Component]] = []
    if not marks:
        return groups
    for mark in sorted(marks, key=lambda c: c.x0):
        for group in groups:
            gx0, gx1 = min(c.x0 for c in group), max(c.x1 for c in group)
            overlap = min(gx1, mark.x1) - max(gx0, mark.x0)
            if overlap >= 0.5 * min(gx1 - gx0, mark.x1 - mark.x0):
                group.append(mark)
                break
        else:
            groups.append([mark])
    tallest = max(max(c.y1 for c in g) - min(c.y0 for c in g) for g in groups)
    # Dots, dashes and specks between digits are much shorter than the digits themselves.
    groups = [g for g in groups if max(c.y1 for c in g) - min(c.y0 for c in g) >= 0.4 * tallest]
    return sorted(groups, key=lambda g: min(c.x0 for c in g))


def stroke_width(mask: np.ndarray) -> float:
    """About 2 * area / perimeter: exact for long strokes of even width."""
    area = mask.sum()
    if area == 0:
        return 0.0
    eroded = ndimage.binary_erosion(mask, structure=np.ones((3, 3), dtype=bool), border_value=0)
    perimeter = max(1, int(area - eroded.sum()))
    return 2.0 * area / perimeter


def _shrink_keeping_strokes(mask: np.ndarray, side: int) -> np.ndarray:
    """Reduce a binary mask so its longer side is about `side`, never losing thin strokes."""
    factor = int(np.ceil(max(mask.shape) / side))
    if factor <= 1:
        return mask
    height = -(-mask.shape[0] // factor) * factor
    width = -(-mask.shape[1] // factor) * factor
    padded = np.zeros((height, width), dtype=bool)
    padded[: mask.shape[0], : mask.shape[1]] = mask
    # A cell is ink if at least a fifth of it is: thin strokes survive, specks do not grow.
    cells = padded.reshape(height // factor, factor, width // factor, factor).mean(axis=(1, 3))
    return cells >= 0.2


def normalize_digit(mask: np.ndarray) -> np.ndarray:
    """A binary crop of one digit -> 28x28 float, MNIST-style."""
    mask = _shrink_keeping_strokes(mask, WORK_SIDE)
    pad = 4
    mask = np.pad(mask, pad)
    side = max(mask.shape) - 2 * pad
    width = stroke_width(mask)
    target = TARGET_STROKE_RATIO * side
    if width < 0.7 * target:  # pencil on a big photo: thicken
        radius = (target - width) / 2
        mask = ndimage.distance_transform_edt(~mask) <= radius
    elif width > 1.5 * target:  # marker: thin, but never erase the digit
        radius = (width - target) / 2
        thinner = ndimage.distance_transform_edt(mask) > radius
        if thinner.sum() >= 0.25 * mask.sum():
            mask = thinner
    ys, xs = np.nonzero(mask)
    mask = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32)
    height, width_px = mask.shape
    scale = 20.0 / max(height, width_px)
    new_size = (max(1, round(width_px * scale)), max(1, round(height * scale)))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    patch = np.clip(_resize(mask, new_size, resample), 0, None)
    if patch.max() > 0:
        patch = patch / patch.max()
    canvas = np.zeros((28, 28), dtype=np.float32)
    cy, cx = ndimage.center_of_mass(patch)
    top = int(np.clip(round(14 - cy), 0, 28 - patch.shape[0]))
    left = int(np.clip(round(14 - cx), 0, 28 - patch.shape[1]))
    canvas[top : top + patch.shape[0], left : left + patch.shape[1]] = patch
    return canvas


@dataclass
class Mark:
    """One group of strokes on the page: a digit, several touching digits, or no digit at all."""
    box: tuple[int, int, int, int]       # x0, y0, x1, y1 in the decoded image
    evidence: Evidence
    cuts: list[int]                      # columns where it may be cut (its two edges at least)
    pieces: dict[tuple[int, int], DigitCrop]  # (i, j): the piece between cuts i and j, if digit-like


@dataclass
class Page:
    marks: list[Mark]
    tallest: float                        # the tallest mark's height in decoded pixels (0: none)
    ignored: list[tuple[str, Evidence]] = field(default_factory=list)  # marks that are not writing, and why


def _evidence(ink: np.ndarray, mask: np.ndarray, box: tuple[int, int, int, int], noise: float, zoom: int) -> Evidence:
    x0, y0, x1, y1 = box
    height, width = ink.shape
    stroke = stroke_width(mask)
    # The ring of ink just outside the mark, a third of a stroke width out: a scan enlarged
    # 10x has edges 10x as soft as the original and strokes 10x as wide, so the ratio holds;
    # at least one pixel of the upload (an enlarged drawing's pixels are `zoom` wide).
    gap = max(zoom, int(round(stroke / 3)))
    fx0, fy0, fx1, fy1 = max(0, x0 - gap), max(0, y0 - gap), min(width, x1 + gap), min(height, y1 + gap)
    framed = np.zeros((fy1 - fy0, fx1 - fx0), dtype=bool)
    framed[y0 - fy0 : y0 - fy0 + mask.shape[0], x0 - fx0 : x0 - fx0 + mask.shape[1]] = mask
    region = ink[fy0:fy1, fx0:fx1]
    inside = float(np.median(region[framed]))
    square = np.ones((3, 3), dtype=bool)
    near = ndimage.binary_dilation(framed, square, iterations=gap - 1) if gap > 1 else framed
    ring = ndimage.binary_dilation(near, square) & ~near
    outside = float(np.median(region[ring])) if ring.any() else 0.0
    ys, xs = np.nonzero(mask)
    spread = np.cov(np.stack([xs, ys]).astype(np.float64)) if len(xs) > 2 else np.eye(2)
    values, vectors = np.linalg.eigh(spread)
    major = vectors[:, 1]
    return Evidence(
        contrast=inside / max(noise, 1 / 255),
        edge=outside / max(inside, 1e-6),
        stroke=stroke / max(mask.shape),
        straightness=float(np.sqrt(max(values[0], 0) / max(values[1], 1e-9))),
        tilt=float(np.degrees(np.arccos(min(1.0, abs(major[1]))))),
        span=max(mask.shape) / max(height, width),
        border=x0 == 0 or y0 == 0 or x1 == width or y1 == height,
    )


def robust_sigma(values: np.ndarray) -> float:
    """The median absolute deviation, scaled to a Gaussian's sigma."""
    return 1.4826 * float(np.median(np.abs(values - np.median(values))))


def paper_noise(residual: np.ndarray) -> float:
    """The paper's noise as a robust sigma, from the background-subtracted signal before it is
    clipped. A digit scaled up to fill much of the picture counts as noise itself in the usual
    median absolute deviation, so the deviation is also taken on the side of the median ink
    never reaches, and the smaller kept (once ink covers more than half the picture, that side
    is ink too and the usual one is the better)."""
    centre = float(np.median(residual))
    usual = robust_sigma(residual)
    below = centre - residual[residual <= centre]
    return min(usual, 1.4826 * float(np.median(below))) if below.size else usual


def _no_lap(stage: str) -> None:
    pass


def prepare_page(decoded: DecodedImage, lap: Callable[[str], None] = _no_lap) -> Page:
    """Every mark on the page with its evidence and its possible readings as 28x28 images.

    lap(stage) is called as each stage ends, for bench/digits.py's per-stage timings."""
    rgb = flatten_alpha(decoded.rgb, decoded.alpha)
    signal = ink_signal(rgb)
    lap("ink signal")
    residual = subtract_background(signal, clip=False)
    step = max(1, int(np.sqrt(residual.size / 4_000)))
    sample = residual[::step, ::step]
    noise = paper_noise(sample)
    ink = np.clip(residual, 0, None)
    # Small drawings are enlarged first so strokes are measured the same way at any size.
    zoom = int(np.ceil(MIN_ANALYSIS_SIDE / max(ink.shape))) if max(ink.shape) < MIN_ANALYSIS_SIDE else 1
    if zoom > 1:
        ink = _resize(ink, (ink.shape[1] * zoom, ink.shape[0] * zoom))
    lap("background")
    mask = ink_mask(ink)
    lap("threshold")
    if mask is None:
        return Page([], 0.0)
    labels, components = _components(mask)
    if not components:
        return Page([], 0.0)
    groups = _group_into_digits(_keep_marks(components))
    found, ignored = [], []
    for group in groups:
        x0, y0 = min(c.x0 for c in group), min(c.y0 for c in group)
        x1, y1 = max(c.x1 for c in group), max(c.y1 for c in group)
        digit_mask = np.isin(labels[y0:y1, x0:x1], [c.label for c in group])
        evidence = _evidence(ink, digit_mask, (x0, y0, x1, y1), noise, zoom)
        reason = rejection(evidence)
        if reason is None:
            found.append(((x0, y0, x1, y1), digit_mask, evidence))
        else:
            ignored.append((reason, evidence))
    lap("marks")
    if len(found) > MAX_DIGITS:
        raise InputError(f"found {len(found)} separate marks; send a photo of one number of at most {MAX_DIGITS} digits")
    marks = []
    tallest_found = max((y1 - y0 for (x0, y0, x1, y1), _, _ in found), default=0)
    for (x0, y0, x1, y1), digit_mask, evidence in found:
        # A number written touching is as tall as its digits; a short wide mark beside taller
        # ones is a stroke of a neighbour (a 5's flag) or a dash: never cut into "digits",
        # and dropped when too wide to be one digit.
        cuts = cut_columns(digit_mask) if y1 - y0 >= 0.75 * tallest_found else [0, x1 - x0]
        crops = {
            key: DigitCrop(normalize_digit(piece), ((x0 + px0) // zoom, y0 // zoom, -(-(x0 + px1) // zoom), -(-y1 // zoom)))
            for key, (piece, px0, px1) in pieces(digit_mask, cuts).items()
        }
        if crops:
            marks.append(Mark((x0 // zoom, y0 // zoom, -(-x1 // zoom), -(-y1 // zoom)), evidence, cuts, crops))
    if not decoded.reduced:  # a reduced decode is looked at again full size
        marks = _small_ink_marks(np.clip(residual, 0, None), marks, noise)
    lap("normalize")
    tallest = max(((m.box[3] - m.box[1]) for m in marks), default=0)
    return Page(marks, float(tallest), ignored)


SMALL_MAX_ASPECT = 1.25  # a "digit" of the small-ink path wider than this x its height is several


def _small_ink_marks(ink: np.ndarray, marks: list[Mark], noise: float) -> list[Mark]:
    """Ink only a few pixels high, often scaled up, is read from its grey ink with a smooth
    filter (ml/digits/small_ink.py) instead of the thresholded marks, which break its faint
    cells apart. Each digit keeps the evidence of the mark it overlaps; on a scan scaled up
    from a few pixels (a grid found), the evidence is measured again as a scan's, since the
    marks' soft edges and the frame they fill are how such a scan looks, not signs of a smudge."""
    factor = native_scale(ink)
    scanned = factor >= 3
    if not marks and not scanned:
        return marks
    small = small_digits(ink, factor)
    if small is None:
        return marks
    if any(x1 - x0 > SMALL_MAX_ASPECT * (y1 - y0) for _, (x0, y0, x1, y1) in small):
        # Wider than one digit: touching digits, which this path cannot split (it cuts only at
        # blank columns). A blurred photo can also pass for a scan scaled up 3-7x (a smooth
        # image rebuilds well from any coarse grid), so the main path's cuts are kept.
        return marks
    found = []
    for image, (x0, y0, x1, y1) in small:
        if scanned:
            box = ink[y0:y1, x0:x1]
            mask = box > 0.2 * float(box.max()) if box.size and box.max() > 0 else np.zeros(box.shape, bool)
            if not mask.any():
                continue
            evidence = replace(_evidence(ink, mask, (x0, y0, x1, y1), noise, 1), scanned=True)
            if rejection(evidence) is not None:
                continue
        else:
            overlap = [max(0, min(x1, m.box[2]) - max(x0, m.box[0])) for m in marks]
            evidence = marks[int(np.argmax(overlap))].evidence
        found.append(Mark((x0, y0, x1, y1), evidence, [x0, x1], {(0, 1): DigitCrop(image, (x0, y0, x1, y1))}))
    return found or marks


def prepare_digits(decoded: DecodedImage) -> list[DigitCrop]:
    """Geometry alone, without the model: each mark whole, or where it cannot be one digit,
    cut at every candidate column that leaves digit-sized pieces."""
    crops = []
    for mark in prepare_page(decoded).marks:
        path = best_path(len(mark.cuts), {key: 0.0 for key in mark.pieces}, bonus=-1.0)
        crops += [mark.pieces[key] for key in path]
    return crops
