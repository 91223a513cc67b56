"""What a method and a similarity family may look at: ``Evidence``, one task's source model, class
names, training features and recipe."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from headstart.recipe import DEFAULT_RECIPE, Recipe

if TYPE_CHECKING:  # torch is imported where a tensor is made: names and WordNet rows need numpy only
    import torch

    from headstart.sources.model import SourceModel


__all__ = ["Evidence"]

@dataclass
class Evidence:
    """What a similarity family may look at: the source model, the target class names (with
    optional name -> synset overrides), the few labelled training features [N, D] / [N] and
    optionally features of unlabelled target images [M, D]; the recipe whose constants choose the
    names' senses; sample_weight [N]: how much each labelled image counts in the training loss
    (None: 1 each); senses: each name's sense from the names alone as the fit decided it
    (`headstart.fit_context`; None: looked up)."""

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
