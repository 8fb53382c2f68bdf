"""`mlbot eval digits`: the model's MNIST test accuracy next to a logistic-regression baseline,
plus the whole pipeline's accuracy on photo-like renderings of test digits."""
from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from ml.digits import SERVICE
from ml.digits.data import Mnist, load_mnist
from ml.digits.other_writers import other_writers_accuracy
from ml.digits.page_eval import blank_pages, touching_numbers
from ml.digits.reader import DigitReader
from ml.digits.synthetic import render_photo
from ml.digits.train import digit_logits, images_to_tensor
from ml.errors import ModelNotReady, UserFacingError
from ml.home import ModelHome


def logistic_regression_accuracy(data: Mnist, seed: int = 0) -> float:
    """Multinomial logistic regression on raw pixels, fitted by L-BFGS on the training set."""
    torch.manual_seed(seed)
    x_train = images_to_tensor(data.train_images).flatten(1)
    y_train = torch.from_numpy(data.train_labels.astype(np.int64))
    x_test = images_to_tensor(data.test_images).flatten(1)
    y_test = torch.from_numpy(data.test_labels.astype(np.int64))
    layer = torch.nn.Linear(784, 10)
    optimizer = torch.optim.LBFGS(layer.parameters(), lr=1, max_iter=150, history_size=20)

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(layer(x_train), y_train) + 1e-4 * layer.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return (layer(x_test).argmax(1) == y_test).float().mean().item()


def photo_accuracy(reader: DigitReader, data: Mnist, count: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    right = unsure = nothing = 0
    for index in rng.choice(len(data.test_labels), size=count, replace=False):
        photo = render_photo([data.test_images[index]], rng)
        try:
            reading = reader.read(photo)
        except UserFacingError:
            continue
        if reading.no_digits:
            nothing += 1  # a digit refused as a blank page
        elif reading.digits is None:
            unsure += 1
        right += reading.digits == str(data.test_labels[index])
    return {"photo_accuracy": round(right / count, 4), "photo_not_sure": round(unsure / count, 4),
            "photo_no_digits": round(nothing / count, 4), "photo_n": count}


def evaluate_digits(home: ModelHome, photos: int = 500, data: Mnist | None = None, other_writers: int = 200) -> dict:
    ref = home.current(SERVICE)
    if ref is None:
        raise ModelNotReady("the digit model is not built yet: run `mlbot train digits`")
    data = data or load_mnist()
    reader = DigitReader(ref)
    started = time.perf_counter()
    logits = digit_logits(reader.model, images_to_tensor(data.test_images))
    labels = torch.from_numpy(data.test_labels.astype(np.int64))
    accuracy = (logits.argmax(1) == labels).float().mean().item()
    result = {
        "accuracy": round(accuracy, 5),
        "baseline_accuracy": round(logistic_regression_accuracy(data), 5),
        "baseline": "logistic regression on raw pixels (L-BFGS)",
        "n": int(len(labels)),
        "model_version": ref.version,
    }
    if photos:
        result.update(photo_accuracy(reader, data, photos))
        # Pages with no digit and numbers with touching digits (ml.digits.page_eval).
        result["blank_pages"] = blank_pages(reader, photos)
        result["touching_numbers"] = touching_numbers(reader, data, max(3, photos // 2))
    if other_writers:  # handwriting that is not MNIST's (issue 17): ml/digits/other_writers.py
        result["other_writers"] = other_writers_accuracy(reader, other_writers)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result
