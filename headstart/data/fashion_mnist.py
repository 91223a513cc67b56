"""Fashion-MNIST from Debian's `dataset-fashion-mnist` (IDX files, gzip)."""

from __future__ import annotations

import gzip
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from headstart.data.dataset import Split, TargetData
from headstart.errors import UserError

CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
          "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
_IDX_DTYPES = {0x08: np.uint8}


def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (optionally gzipped): magic (0, 0, dtype, ndim), big-endian dims, data."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise UserError(f"{path} is not an unsigned-byte IDX file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise UserError(f"{path} is truncated: expected {int(np.prod(dims))} values, found {body.size}")
    return body.reshape(dims)


def data_dir() -> Path:
    return Path(os.environ.get("HEADSTART_FASHION_MNIST", DEFAULT_DIR))


@lru_cache(maxsize=2)
def _load_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    images_file, labels_file = (folder / f for f in _FILES[split])
    if not images_file.exists() or not labels_file.exists():
        raise UserError(
            f"Fashion-MNIST files are missing in {folder}: install them with "
            "`apt-get install dataset-fashion-mnist` (or set HEADSTART_FASHION_MNIST to a folder holding the IDX files)"
        )
    return read_idx(images_file), read_idx(labels_file).astype(np.int64)


def load_fashion_mnist() -> TargetData:
    """Fashion-MNIST: 60k train / 10k test grayscale 28x28 images, 10 clothing classes."""
    folder = data_dir()
    splits = {}
    for split in ("train", "test"):
        images, labels = _load_split(folder, split)
        splits[split] = Split(split, labels, lambda idx, images=images: [images[i] for i in idx])
    return TargetData("fashion-mnist", "fashion-mnist", list(CLASS_NAMES), splits["train"], splits["test"])
