"""What a fit decides before it looks at a feature, decided once and frozen: the method (created
and its options checked), the source model, the image size, where features are computed, the
class names (checked) and the sense each name is given. `HeadStart.check` makes it, `HeadStart.fit`
fits by it, and what it decided is what run.json records (`headstart.run_folder`) and the model
card shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from headstart.backends import Placement
from headstart.errors import InputError
from headstart.inputs import check_class_names, check_resolution
from headstart.methods import create_method
from headstart.methods.registry import Method
from headstart.recipe import Recipe
from headstart.senses import name_senses
from headstart.sources.model import SourceModel


@dataclass(frozen=True)
class FitContext:
    """The decisions of one fit. senses: each class name's sense from the names alone
    (`headstart.senses.name_senses`), None for a method that reads no names; the images of
    the fit may still vote among a name's senses (`headstart.senses.class_senses`)."""

    method: Method
    source: SourceModel
    resolution: int
    placement: Placement
    class_names: tuple[str, ...]
    overrides: dict[str, str]
    senses: tuple | None


def decide(source: SourceModel, placement: Placement, method: str, method_options: dict | None,
           recipe: Recipe | None, resolution: int | None, class_names: Sequence[str],
           overrides: dict[str, str] | None, shots: int | None = None) -> FitContext:
    """The `FitContext` of a fit of `class_names` with `source` under `placement`, checked: the
    method and its options (`recipe`: the default method's constants), the class names, that the
    method can run with `shots` labelled images per class (None: not known yet), the image size
    (None: the source's) and the names' senses (a bad override id is an error)."""
    options = dict(method_options or {})
    if recipe is not None:
        options["recipe"] = recipe
    chosen = create_method(method, **options)
    names = tuple(check_class_names(class_names))
    if shots is not None and chosen.needs_shots and shots < 1:
        raise InputError(f"method {chosen.name!r} needs labelled images and some class has none")
    size = check_resolution(resolution or source.resolution)
    overrides = dict(overrides or {})
    # imprint, logreg, zero, random, visual: no WordNet needed
    senses = tuple(name_senses(source, list(names), overrides, chosen.recipe)) if chosen.uses_names else None
    return FitContext(chosen, source, size, placement, names, overrides, senses)
