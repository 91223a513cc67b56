"""Target datasets: class names plus train/test splits whose images are loaded on demand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np


@dataclass
class Split:
    """One split: `labels[i]` is the class index of image i; `load(indices)` returns those images
    (uint8 arrays or PIL images)."""

    name: str
    labels: np.ndarray
    load: Callable[[Sequence[int]], list]
    paths: list | None = None  # the image files, for splits read from files

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: np.ndarray, name: str | None = None) -> "Split":
        """The images `indices` of this split, loaded on demand (named `name`, default this split's)."""
        return Split(self.name if name is None else name, self.labels[indices],
                     lambda idx: self.load(indices[list(idx)]))


@dataclass
class TargetData:
    """A target dataset. `key` identifies its content for the feature cache."""

    name: str
    key: str
    class_names: list[str]
    train: Split
    test: Split
    split_given: bool = False  # the test split came with the data (test/ folder, CSV split column), not seeded

    def split(self, name: str) -> Split:
        return {"train": self.train, "test": self.test}[name]


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded per-class split -> (train indices, test indices); every class keeps >= 1 of each
    when it has >= 2 images."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(len(members) * test_fraction))
        n_test = min(max(n_test, 1), len(members) - 1) if len(members) >= 2 else 0
        test.append(members[:n_test])
        train.append(members[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))
