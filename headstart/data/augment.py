"""Augmented views of the few training images: a horizontal flip and seeded random resized crops,
and a dataset of them whose features the feature cache keeps like any other split's.

View v (1..MAX_VIEWS) of image i is a pure function of (the image, i, v, seed): view 1 is the
image flipped left-right; view v >= 2 is a crop of 35-100 % of its area with an aspect ratio of
3/4 to 4/3 (torchvision's RandomResizedCrop, area range narrowed: a few shots cannot spare a crop
that misses the object), flipped with probability 1/2, all drawn from `numpy.random.default_rng`
seeded with (seed, i, v). So the first N views are the same whatever N, and their cached features
serve every N: the cache rows of image i are i * MAX_VIEWS + (v - 1). The crop is not resized here:
feature extraction resizes every image to the network's resolution anyway.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from headstart.data.dataset import Split, TargetData
from headstart.pixels import to_uint8_hwc

MAX_VIEWS = 16
_AREA = (0.35, 1.0)
_RATIO = (3 / 4, 4 / 3)
VERSION = 1  # in the cache key: a change of the views above must not read the old ones' features


def view(image, index: int, view_number: int, seed: int) -> np.ndarray:
    """Augmented view `view_number` (1..MAX_VIEWS) of one image (PIL / uint8 array), the image's
    position `index` in its split -> uint8 [h, w, C] (see the module docstring)."""
    if not 1 <= view_number <= MAX_VIEWS:
        raise ValueError(f"view numbers run from 1 to {MAX_VIEWS}, got {view_number}")
    array = to_uint8_hwc(image)
    if view_number == 1:
        return np.ascontiguousarray(array[:, ::-1])
    rng = np.random.default_rng([seed, index, view_number])
    height, width = array.shape[:2]
    for _ in range(10):  # torchvision's tries; then the whole image
        area = height * width * rng.uniform(*_AREA)
        ratio = math.exp(rng.uniform(math.log(_RATIO[0]), math.log(_RATIO[1])))
        w, h = round(math.sqrt(area * ratio)), round(math.sqrt(area / ratio))
        if 0 < w <= width and 0 < h <= height:
            top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
            array = array[top:top + h, left:left + w]
            break
    if rng.random() < 0.5:
        array = array[:, ::-1]
    return np.ascontiguousarray(array)


def view_rows(indices: Sequence[int], views: int) -> np.ndarray:
    """Cache rows [len(indices), views] of views 1..`views` of the split images `indices`."""
    if not 0 <= views <= MAX_VIEWS:
        raise ValueError(f"augment takes 0 to {MAX_VIEWS} views, got {views}")
    return np.asarray(indices, dtype=np.int64)[:, None] * MAX_VIEWS + np.arange(views)[None, :]


def augmented_split(split: Split, seed: int) -> Split:
    """The views of a split: row r is view r % MAX_VIEWS + 1 of image r // MAX_VIEWS, loaded on demand."""
    def load(rows: Sequence[int]) -> list:
        rows = np.asarray(rows, dtype=np.int64)
        images = split.load(rows // MAX_VIEWS)
        return [view(image, int(r // MAX_VIEWS), int(r % MAX_VIEWS) + 1, seed) for image, r in zip(images, rows)]

    return Split(f"{split.name} augmented", np.repeat(split.labels, MAX_VIEWS), load)


def augmented_data(data: TargetData, seed: int) -> TargetData:
    """`data` whose splits are their augmented views (`augmented_split`), under a key that names the
    augmentation and its seed: the feature cache keeps their features apart from the images' own."""
    return TargetData(data.name, f"{data.key}|augment-v{VERSION}-seed-{seed}", data.class_names,
                      augmented_split(data.train, seed), augmented_split(data.test, seed), data.split_given)


def with_views(features, view_features, views: int):
    """Each image's feature averaged with those of its views: features [N, D], view_features
    [N * views, D] (image-major, as `view_rows` orders them) -> [N, D]."""
    if views == 0:
        return features
    stacked = view_features.reshape(len(features), views, -1)
    return (features + stacked.sum(dim=1)) / (views + 1)
