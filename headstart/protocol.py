"""The sampling protocol: which images a few-shot task trains and is scored on, and the seeds that
draw them. The bench, the suite, `headstart.lab.lodo` and the scripts in `benchmarks/` all draw their
subsets here, so their rows are paired; `fit --max-per-class` and `export-images` draw theirs the
same way. numpy only.

A changed constant or draw changes every committed result: the bench's configuration id records
`TEST_SUBSET_SEED`, and tests/test_lodo.py reproduces committed grid rows to the bit."""

from __future__ import annotations

import numpy as np

__all__ = ["TEST_SUBSET_SEED", "TRAIN_SEED_OFFSET", "UNLABELLED_SEED_OFFSET", "few_shot_indices", "test_indices",
           "unlabelled_indices"]

TEST_SUBSET_SEED = 20190901  # one fixed test subset for every run of a given test size
TRAIN_SEED_OFFSET = 1_000_003  # training randomness has its own seed, apart from subset sampling: seed + this
UNLABELLED_SEED_OFFSET = 2_000_003  # so does the draw of unlabelled images


def few_shot_indices(labels: np.ndarray, shots: int, seed: int) -> np.ndarray:
    """`shots` indices per class drawn without replacement with their own seed (BiT-style
    examples_per_class_seed), sorted. Classes with fewer images give all they have.

    Subsets are nested: for one seed, the 5-shot subset contains the 2-shot one (the first
    `shots` of one seeded permutation per class), so curves over shots compare like with like and
    cached features are reused.
    """
    rng = np.random.default_rng(seed)
    chosen = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        chosen.append(rng.permutation(members)[:shots])
    return np.sort(np.concatenate(chosen)) if chosen else np.empty(0, dtype=np.int64)


def test_indices(labels: np.ndarray, test_size: int | None) -> np.ndarray:
    """All test images, or a class-balanced fixed subset of about `test_size`."""
    if test_size is None or test_size >= len(labels):
        return np.arange(len(labels))
    per_class = max(1, test_size // len(np.unique(labels)))
    return few_shot_indices(labels, per_class, TEST_SUBSET_SEED)



def unlabelled_indices(n_images: int, count: int, seed: int) -> np.ndarray:
    """`count` training-split indices drawn at random (no class balance: unlabelled images come as
    they come) with their own seed, sorted; the same for every shot count of a seed."""
    rng = np.random.default_rng(seed + UNLABELLED_SEED_OFFSET)
    return np.sort(rng.choice(n_images, size=min(count, n_images), replace=False))
