"""Write a dataset's images as an image folder (train/<class>/*.png, test/<class>/*.png), e.g. to
try `headstart fit` and `headstart predict` on built-in data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from headstart.data.dataset import TargetData, few_shot_indices


def folder_name(class_name: str) -> str:
    """A class name usable as a folder name: '/' cannot be in one, so 'T-shirt/top' becomes
    'T-shirt or top' (which still resolves to a garment synset)."""
    return class_name.replace("/", " or ")


def export_folder(data: TargetData, out: str | Path, train_per_class: int, test_per_class: int,
                  seed: int = 0) -> Path:
    """Write `train_per_class` training and `test_per_class` test images of each class as PNGs."""
    out = Path(out)
    for split, per_class in (("train", train_per_class), ("test", test_per_class)):
        source = data.split(split)
        chosen = few_shot_indices(source.labels, per_class, seed)
        for index, image in zip(chosen, source.load(chosen)):
            folder = out / split / folder_name(data.class_names[source.labels[index]])
            folder.mkdir(parents=True, exist_ok=True)
            array = image if isinstance(image, np.ndarray) else np.asarray(image)
            Image.fromarray(array).save(folder / f"{split}-{index:05d}.png")
    return out
