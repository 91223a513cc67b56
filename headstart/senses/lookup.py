"""The one place a task's senses are looked up: from the names alone (``name_senses``) or with the
images voting (``class_senses``), each cached so that the bench's many fits of one task, and a
fit's check, plan and card, choose them once."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from functools import lru_cache
from typing import TYPE_CHECKING

from headstart.evidence import Evidence
from headstart.recipe import DEFAULT_RECIPE, Recipe
from headstart.senses.naming import find_senses
from headstart.senses.rows import class_rows

if TYPE_CHECKING:
    import torch

    from headstart.sources.model import SourceModel


@lru_cache(maxsize=16)
def _names_only(names: tuple[str, ...], source_labels: tuple[str, ...], overrides: tuple, recipe: Recipe) -> tuple:
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

        from headstart.senses.vote import image_vote

        recipe = evidence.recipe
        _VOTED[full_key] = image_vote(senses, list(evidence.source.labels), evidence.source.head_weights(),
                                      torch.from_numpy(class_rows(evidence.source, senses, recipe.vote_measure)),
                                      evidence.features, evidence.labels,
                                      evidence.unlabelled if has_unlabelled else None, recipe)
        while len(_VOTED) > _VOTED_SIZE:
            _VOTED.popitem(last=False)
    _VOTED.move_to_end(full_key)
    return list(_VOTED[full_key])
