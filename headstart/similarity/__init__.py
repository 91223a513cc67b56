"""Similarity between target classes and source classes: one module per family, one registry.

Every family returns S [n_targets, n_sources] >= 0. Semantic families (WordNet measures, text)
use only the class names; visual ones use only the few training features they are given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import torch

from headstart.errors import UserError
from headstart.similarity.wordnet import MEASURES, wordnet_matrix
from headstart.sources.model import SourceModel


@dataclass
class Evidence:
    """What a similarity family may look at: the source model, the target class names (with
    optional name -> synset overrides), the few labelled training features [N, D] / [N] and
    optionally features of unlabelled target images [M, D]."""

    source: SourceModel
    class_names: list[str]
    features: torch.Tensor
    labels: torch.Tensor
    overrides: dict[str, str] = field(default_factory=dict)
    unlabelled: torch.Tensor | None = None

    @classmethod
    def names_only(cls, source: SourceModel, class_names: list[str], overrides: dict[str, str] | None = None,
                   unlabelled: torch.Tensor | None = None) -> "Evidence":
        """Evidence without labelled images (optionally with unlabelled ones)."""
        return cls(source, list(class_names), torch.empty(0, source.feature_dim), torch.empty(0, dtype=torch.long),
                   dict(overrides or {}), unlabelled)

    def target_mean(self) -> torch.Tensor | None:
        """Mean feature [D] of every target image given, labelled or not; None without images."""
        images = self.features if self.unlabelled is None else torch.cat([self.features, self.unlabelled])
        return images.mean(dim=0) if len(images) else None

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


@lru_cache(maxsize=8)
def _resolve(names: tuple[str, ...], source_labels: tuple[str, ...], overrides: tuple) -> tuple:
    from headstart.similarity.resolve import resolve_classes

    return tuple(resolve_classes(list(names), list(source_labels), dict(overrides) or None))


def resolutions(evidence: Evidence) -> list:
    """Name -> synset resolution of the target classes (cached per name list)."""
    return list(_resolve(tuple(evidence.class_names), tuple(evidence.source.labels),
                         tuple(sorted(evidence.overrides.items()))))


def has_wordnet_labels(source: SourceModel) -> bool:
    from headstart.similarity.wordnet_data import is_synset_id

    return all(is_synset_id(label) for label in source.labels)


def _require_wordnet_labels(source: SourceModel) -> None:
    if not has_wordnet_labels(source):
        raise UserError(
            f"WordNet similarity needs source labels that are WordNet synset ids; {source.name}'s are not "
            "(use the text or visual family, or pass labels=[...synset ids...] to SourceModel.from_module)"
        )


def wordnet_similarity(evidence: Evidence, measure: str) -> torch.Tensor:
    _require_wordnet_labels(evidence.source)
    targets = [r.synset_id for r in resolutions(evidence)]
    return wordnet_matrix(targets, evidence.source.labels, measure)


def source_texts(source: SourceModel) -> list[str]:
    """Text of each source class for embeddings: its WordNet lemmas when labels are synset ids
    ('jersey, T-shirt, tee shirt'), else its name."""
    from headstart.similarity.wordnet_data import synset

    if has_wordnet_labels(source):
        return [", ".join(lemma.replace("_", " ") for lemma in synset(label).lemma_names()) for label in source.labels]
    return list(source.names)


def text_similarity(evidence: Evidence) -> torch.Tensor:
    from headstart.similarity.text import text_matrix

    targets = [name.replace("/", " or ").replace("_", " ") for name in evidence.class_names]
    return text_matrix(targets, source_texts(evidence.source))


def _require_images(evidence: Evidence) -> None:
    if len(evidence.labels) == 0:
        raise UserError("visual similarity needs training images (shots >= 1)")


def visual_similarity(evidence: Evidence) -> torch.Tensor:
    from headstart.similarity.visual import mean_softmax_matrix

    _require_images(evidence)
    head = evidence.source.head
    return mean_softmax_matrix(evidence.features, evidence.labels, evidence.n_classes,
                               head.weight.detach(), head.bias.detach())


def visual_cosine_similarity(evidence: Evidence) -> torch.Tensor:
    from headstart.similarity.visual import prototype_cosine_matrix

    _require_images(evidence)
    return prototype_cosine_matrix(evidence.features, evidence.labels, evidence.n_classes,
                                   evidence.source.head.weight.detach())


def row_normalise(similarity: torch.Tensor) -> torch.Tensor:
    """Scale each row to max 1 so families on different scales can be mixed."""
    return similarity / similarity.max(dim=1, keepdim=True).values.clamp_min(1e-12)


def hybrid_similarity(evidence: Evidence, semantic: str = "lin", visual_weight: float = 0.5) -> torch.Tensor:
    """(1 - w) * semantic + w * visual, each row-normalised to max 1 first; with no training
    images it is the semantic matrix alone."""
    semantic_s = row_normalise(wordnet_similarity(evidence, semantic))
    if len(evidence.labels) == 0:
        return semantic_s
    return (1 - visual_weight) * semantic_s + visual_weight * row_normalise(visual_similarity(evidence))


VISUAL_FAMILIES = ("visual", "visual-cosine")  # these need training images
FAMILIES: dict[str, Callable[[Evidence], torch.Tensor]] = {
    **{m: (lambda e, m=m: wordnet_similarity(e, m)) for m in MEASURES},
    "text": text_similarity,
    "visual": visual_similarity,
    "visual-cosine": visual_cosine_similarity,
    "hybrid": hybrid_similarity,
}


def similarity(family: str, evidence: Evidence) -> torch.Tensor:
    """S [n_targets, n_sources] of one family (see FAMILIES)."""
    if family not in FAMILIES:
        raise UserError(f"unknown similarity {family!r}; choose one of: {', '.join(FAMILIES)}")
    return FAMILIES[family](evidence)


__all__ = ["Evidence", "FAMILIES", "MEASURES", "resolutions", "similarity", "wordnet_matrix"]
