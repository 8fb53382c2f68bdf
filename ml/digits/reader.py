"""Read the digits in an uploaded image with a published model."""
from __future__ import annotations

import io
import logging
import threading
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from PIL import Image

from ml.digits.blank import written
from ml.digits.imageio import QUICK_SIDE, decode_image
from ml.digits.model import DigitNet
from ml.digits.preprocess import Page, _no_lap, prepare_page
from ml.digits.touching import best_path
from ml.home import ModelRef

log = logging.getLogger(__name__)

# Marks shorter than this in the quick, reduced decode are looked at again at full detail.
MIN_QUICK_HEIGHT = 28  # MNIST digits are 20 px; a mark this tall still has every stroke


@dataclass
class Reading:
    digits: str | None                # None when not sure
    best_guess: str
    confidence: float                 # calibrated; for several digits, the product
    top3: list[tuple[str, float]]
    per_digit: list[dict] = field(default_factory=list)
    model_input_png: bytes = b""      # the 28x28 image(s) the model saw, enlarged 8x
    no_digits: bool = False           # nothing on the page looks written: no guess is made

    @classmethod
    def nothing(cls) -> "Reading":
        return cls(digits=None, best_guess="", confidence=0.0, top3=[], no_digits=True)

    def as_json(self) -> dict:
        return {
            "digits": self.digits,
            "no_digits": self.no_digits,
            "confidence": round(self.confidence, 4),
            "top3": [{"digits": text, "p": round(p, 4)} for text, p in self.top3],
            "best_guess": self.best_guess,
            "per_digit": self.per_digit,
        }


def top_readings(probabilities: np.ndarray, k: int = 3) -> list[tuple[str, float]]:
    """The k likeliest whole numbers from per-digit probabilities (a small beam search)."""
    beams: list[tuple[str, float]] = [("", 1.0)]
    for row in probabilities:
        best_digits = np.argsort(row)[::-1][:k]
        beams = sorted(
            ((text + str(d), p * float(row[d])) for text, p in beams for d in best_digits),
            key=lambda item: -item[1],
        )[:k]
    return beams


def model_input_picture(images: list[np.ndarray], zoom: int = 8) -> bytes:
    strip = np.concatenate([np.pad(img, ((0, 0), (0, 1)), constant_values=0.25) for img in images], axis=1)[:, :-1]
    picture = Image.fromarray((strip * 255).round().astype(np.uint8), mode="L")
    picture = picture.resize((picture.width * zoom, picture.height * zoom), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=1)  # a few kB either way; optimize costs ms
    return buffer.getvalue()


class DigitReader:
    """Loads one model version lazily, once, and reads images with it (thread-safe)."""

    def __init__(self, ref: ModelRef):
        self.ref = ref
        self.version = ref.version
        calibration = ref.card.get("calibration", {})
        self.temperature = float(calibration.get("temperature", 1.0))
        self.threshold = float(calibration.get("threshold", 0.5))
        self._model: DigitNet | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> DigitNet:
        with self._lock:
            if self._model is None:
                state = torch.load(self.ref.path / "model.pt", map_location="cpu", weights_only=True)
                model = DigitNet(state["width"], state.get("classes", 10)).to(memory_format=torch.channels_last)
                model.load_state_dict(state["state_dict"])
                model.eval()
                self._model = model
                log.info("digits: loaded model %s", self.version)
            return self._model

    @torch.inference_mode()
    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28) floats in [0, 1] -> (N, 10) calibrated probabilities of the ten digits.

        A model with the "not one digit" class keeps that class's share out of the ten, so a
        piece that is half a digit or two touching digits reads with low confidence."""
        batch = torch.from_numpy(np.asarray(images, dtype=np.float32)).unsqueeze(1)
        logits = self.model(batch)
        return torch.softmax(logits / self.temperature, dim=1)[:, :10].numpy()

    def look(self, data: bytes, lap: Callable[[str], None] = _no_lap) -> Page:
        """The page's marks, from a quick reduced decode unless the marks are small in it."""
        decoded = decode_image(data, QUICK_SIDE)
        lap("decode")
        page = prepare_page(decoded, lap)
        if decoded.reduced and (not page.marks or page.tallest < MIN_QUICK_HEIGHT):
            decoded = decode_image(data)
            lap("decode again, full size")
            page = prepare_page(decoded, lap)
        return page

    def read(self, data: bytes, lap: Callable[[str], None] = _no_lap) -> Reading:
        """lap(stage) is called as each stage ends (bench/digits.py times them)."""
        page = self.look(data, lap)
        crops = [crop for mark in page.marks for crop in mark.pieces.values()]
        if not crops:
            return Reading.nothing()
        rows = iter(self.probabilities(np.stack([crop.image for crop in crops])))
        lap("model")
        chosen_crops, chosen_rows = [], []
        for mark in page.marks:
            read = {key: next(rows) for key in mark.pieces}
            # Whole or split: the pieces, edge to edge, whose readings the model is surest of.
            path = best_path(len(mark.cuts), {key: float(np.log(row.max() + 1e-9)) for key, row in read.items()})
            if path and written(mark.evidence, max(float(read[key].max()) for key in path)):
                chosen_crops += [mark.pieces[key] for key in path]
                chosen_rows += [read[key] for key in path]
        if not chosen_crops:
            return Reading.nothing()
        probabilities = np.stack(chosen_rows)
        top3 = top_readings(probabilities)
        best_text, best_p = top3[0]
        per_digit = [
            {"digit": int(row.argmax()), "p": round(float(row.max()), 4), "box": list(crop.box)}
            for row, crop in zip(probabilities, chosen_crops)
        ]
        sure = all(float(row.max()) >= self.threshold for row in probabilities)
        reading = Reading(
            digits=best_text if sure else None,
            best_guess=best_text,
            confidence=best_p,
            top3=top3,
            per_digit=per_digit,
            model_input_png=model_input_picture([crop.image for crop in chosen_crops]),
        )
        lap("answer")
        return reading
