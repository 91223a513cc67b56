"""Write a dataset's images as an image folder (train/<class>/*.png, test/<class>/*.png), e.g. to
try `headstart fit` and `headstart predict` on built-in data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from headstart.data.dataset import TargetData
from headstart.errors import UserError
from headstart.protocol import few_shot_indices


def folder_name(class_name: str) -> str:
    """A class name usable as a folder name: '/' cannot be in one, so 'T-shirt/top' becomes
    'T-shirt or top' (which still resolves to a garment synset)."""
    return class_name.replace("/", " or ")


def export_folder(data: TargetData, out: str | Path, train_per_class: int, test_per_class: int,
                  seed: int = 0) -> dict[str, int]:
    """Write `train_per_class` training and `test_per_class` test images of each class as PNGs into
    the new folder `out` -> images written per split. An existing non-empty folder is refused
    (exporting twice into one folder would merge two draws)."""
    out = Path(out)
    if train_per_class < 1 or test_per_class < 0:
        raise UserError("export needs at least 1 training image per class (and 0 or more test images)")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{out} already exists and is not an empty folder: choose a new --out or delete it")
    counts = {}
    for split, per_class in (("train", train_per_class), ("test", test_per_class)):
        source = data.split(split)
        chosen = few_shot_indices(source.labels, per_class, seed)
        for index, image in zip(chosen, source.load(chosen)):
            folder = out / split / folder_name(data.class_names[source.labels[index]])
            folder.mkdir(parents=True, exist_ok=True)
            array = image if isinstance(image, np.ndarray) else np.asarray(image)
            Image.fromarray(array).save(folder / f"{split}-{index:05d}.png")
        counts[split] = len(chosen)
    return counts
