"""The similarity families, one registry: each family gives S [n_targets, n_sources] >= 0.

Semantic families use the class names: a WordNet measure gives each class whose name resolves
its WordNet row and every other class a text-embedding row on the same scale (``senses.rows``);
the images, when given, only choose among a name's senses (``senses.vote``). Visual families use
only the few training features they are given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from headstart.errors import UserError
from headstart.evidence import Evidence
from headstart.senses.lookup import class_senses
from headstart.senses.rows import cached_rows, class_rows, source_texts
from headstart.wordnet.measures import MEASURES

if TYPE_CHECKING:  # torch is imported where a tensor is made: names and WordNet rows need numpy only
    import torch

    from headstart.sources.model import SourceModel


def wordnet_similarity(evidence: Evidence, measure: str) -> torch.Tensor:
    import torch

    return torch.from_numpy(class_rows(evidence.source, class_senses(evidence), measure))


def name_text_rows(source: SourceModel, class_names: list[str]) -> np.ndarray:
    """[C, S] the text family's rows: each class name (``/`` read as "or", ``_`` as a space) against
    the source classes' texts (cached, ``senses.rows.cached_rows``)."""
    from headstart.text.embeddings import text_array

    targets = [name.replace("/", " or ").replace("_", " ") for name in class_names]
    return cached_rows(source, ("names text", tuple(targets)), lambda: text_array(targets, source_texts(source)))


def text_similarity(evidence: Evidence) -> torch.Tensor:
    import torch

    return torch.from_numpy(name_text_rows(evidence.source, evidence.class_names))


def visual_similarity(evidence: Evidence) -> torch.Tensor:
    from headstart.similarity.visual import mean_softmax_matrix

    if len(evidence.labels) == 0:
        raise UserError("visual similarity needs training images (shots >= 1)")
    return mean_softmax_matrix(evidence.features, evidence.labels, evidence.n_classes,
                               *evidence.source.head_weights())


VISUAL_FAMILIES = ("visual",)  # these need training images
FAMILIES: dict[str, Callable[[Evidence], torch.Tensor]] = {
    **{m: (lambda e, m=m: wordnet_similarity(e, m)) for m in MEASURES},
    "text": text_similarity,
    "visual": visual_similarity,
}


def similarity(family: str, evidence: Evidence) -> torch.Tensor:
    """S [n_targets, n_sources] of one family (see FAMILIES)."""
    if family not in FAMILIES:
        raise UserError(f"unknown similarity {family!r}; choose one of: {', '.join(FAMILIES)}")
    return FAMILIES[family](evidence)

