"""Similarity between target classes and source classes: one module per family, one registry.

Every family returns S [n_targets, n_sources] >= 0. Semantic families use the class names: a
WordNet measure gives each class whose name resolves its WordNet row and every other class a
text-embedding row on the same scale (``mixed``); the images, when given, only choose among a
name's senses (``vote``). Visual families use only the few training features they are given.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Callable

import numpy as np

from headstart.errors import UserError
from headstart.recipe import DEFAULT_RECIPE, Recipe
from headstart.similarity.naming import ClassSense, sense_table
from headstart.similarity.wordnet import MEASURES, wordnet_array, wordnet_matrix

if TYPE_CHECKING:  # torch is imported where a tensor is made: names and WordNet rows need numpy only
    import torch

    from headstart.sources.model import SourceModel


@dataclass
class Evidence:
    """What a similarity family may look at: the source model, the target class names (with
    optional name -> synset overrides), the few labelled training features [N, D] / [N] and
    optionally features of unlabelled target images [M, D]; the recipe whose constants choose the
    names' senses; sample_weight [N]: how much each labelled image counts in the training loss
    (None: 1 each); senses: each name's sense from the names alone as the fit decided it
    (`headstart.fit_context`; None: looked up here)."""

    source: SourceModel
    class_names: list[str]
    features: torch.Tensor
    labels: torch.Tensor
    overrides: dict[str, str] = field(default_factory=dict)
    unlabelled: torch.Tensor | None = None
    recipe: Recipe = DEFAULT_RECIPE
    sample_weight: torch.Tensor | None = None
    senses: tuple | None = None

    @classmethod
    def names_only(cls, source: SourceModel, class_names: list[str], overrides: dict[str, str] | None = None,
                   unlabelled: torch.Tensor | None = None, recipe: Recipe = DEFAULT_RECIPE) -> "Evidence":
        """Evidence without labelled images (optionally with unlabelled ones)."""
        import torch

        return cls(source, list(class_names), torch.empty(0, source.feature_dim), torch.empty(0, dtype=torch.long),
                   dict(overrides or {}), unlabelled, recipe)

    def target_mean(self) -> torch.Tensor | None:
        """Mean feature [D] of every target image given, labelled or not; None without images."""
        import torch

        images = self.features if self.unlabelled is None else torch.cat([self.features, self.unlabelled])
        return images.mean(dim=0) if len(images) else None

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


@lru_cache(maxsize=16)
def _names_only(names: tuple[str, ...], source_labels: tuple[str, ...], overrides: tuple, recipe: Recipe) -> tuple:
    from headstart.similarity.naming import find_senses

    return tuple(find_senses(list(names), list(source_labels), dict(overrides) or None, recipe))


_VOTED: OrderedDict = OrderedDict()  # (names key, images digest) -> senses; the bench asks often
_VOTED_SIZE = 32


def _digest(*tensors: torch.Tensor | None) -> str:
    h = hashlib.sha1()
    for t in tensors:
        h.update(b"-" if t is None else t.detach().cpu().contiguous().numpy().tobytes() + str(tuple(t.shape)).encode())
    return h.hexdigest()


def _names_key(source: SourceModel, class_names: list[str], overrides: dict[str, str], recipe: Recipe) -> tuple:
    return tuple(class_names), tuple(source.labels), tuple(sorted(overrides.items())), recipe.naming()


def name_senses(source: SourceModel, class_names: list[str], overrides: dict[str, str] | None = None,
                recipe: Recipe = DEFAULT_RECIPE) -> list:
    """Name -> synset (or text) sense of each class from the names alone (with overrides, the
    source's labels and the recipe's naming constants): ``naming.ClassSense``s, cached per name list."""
    return list(_names_only(*_names_key(source, class_names, overrides or {}, recipe)))


def class_senses(evidence: Evidence) -> list:
    """Name -> synset (or text) sense of each target class: ``naming.ClassSense``s.

    ``name_senses``; when the evidence holds training or unlabelled images, they vote among
    each class's credible senses (``vote.image_vote``), cached per image set."""
    key = _names_key(evidence.source, evidence.class_names, evidence.overrides, evidence.recipe)
    senses = list(_names_only(*key) if evidence.senses is None else evidence.senses)
    has_unlabelled = evidence.unlabelled is not None and len(evidence.unlabelled) > 0
    if not (len(evidence.labels) or has_unlabelled) or not any(len(r.options) > 1 for r in senses):
        return senses
    full_key = (key, _digest(evidence.features, evidence.labels, evidence.unlabelled))
    if full_key not in _VOTED:
        import torch

        from headstart.similarity.vote import image_vote

        recipe = evidence.recipe
        _VOTED[full_key] = image_vote(senses, list(evidence.source.labels), evidence.source.head_weights(),
                                      torch.from_numpy(class_rows(evidence.source, senses, recipe.vote_measure)),
                                      evidence.features, evidence.labels,
                                      evidence.unlabelled if has_unlabelled else None, recipe)
        while len(_VOTED) > _VOTED_SIZE:
            _VOTED.popitem(last=False)
    _VOTED.move_to_end(full_key)
    return list(_VOTED[full_key])


def has_wordnet_labels(source: SourceModel) -> bool:
    from headstart.similarity.nouns import taxonomy
    from headstart.similarity.wordnet_data import is_synset_id

    index = taxonomy().index
    return all(is_synset_id(label) and label in index for label in source.labels)


def class_rows(source: SourceModel, senses: list, measure: str) -> np.ndarray:
    """[C, S] float32 per class of ``senses``: the WordNet ``measure`` row where it has a synset, a
    calibrated text row elsewhere (text rows only, against the source names, when the labels are
    not WordNet ids). Only text rows need torch (and the text model)."""
    from headstart.similarity.mixed import mixed_rows

    is_text = [r.source == "text" for r in senses]
    wordnet_rows = text_rows = None
    if not all(is_text):
        wordnet_rows = wordnet_array([r.synset_id for r, t in zip(senses, is_text) if not t], source.labels, measure)
    if any(is_text):
        from headstart.similarity.text import text_array

        text_rows = text_array([r.text or r.name for r, t in zip(senses, is_text) if t], source_texts(source))
    return mixed_rows(wordnet_rows, text_rows, is_text)


def wordnet_similarity(evidence: Evidence, measure: str) -> torch.Tensor:
    import torch

    return torch.from_numpy(class_rows(evidence.source, class_senses(evidence), measure))


def source_texts(source: SourceModel) -> list[str]:
    """Text of each source class for embeddings: its WordNet lemmas when labels are synset ids
    ('jersey, T-shirt, tee shirt'), else its name."""
    from headstart.similarity.nouns import lexicon, taxonomy

    if not has_wordnet_labels(source):
        return list(source.names)
    lex, index = lexicon(), taxonomy().index
    return [lex.lemma_text(index[label]) for label in source.labels]


def name_text_rows(source: SourceModel, class_names: list[str]) -> np.ndarray:
    """[C, S] the text family's rows: each class name (``/`` read as "or", ``_`` as a space) against
    the source classes' texts."""
    from headstart.similarity.text import text_array

    targets = [name.replace("/", " or ").replace("_", " ") for name in class_names]
    return text_array(targets, source_texts(source))


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


__all__ = ["ClassSense", "Evidence", "FAMILIES", "MEASURES", "class_rows", "class_senses", "name_senses",
           "name_text_rows", "sense_table", "similarity", "wordnet_matrix"]
