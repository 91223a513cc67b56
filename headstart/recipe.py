"""The recipe: every tuned constant of the default method and of the names' senses, in one place.

A `Recipe` is frozen and passed in — to `HeadStart(recipe=...)`, to `create_method("headstart",
recipe=...)`, to the names' senses through `Evidence.recipe` — never changed by rewriting a module
constant. It is recorded in run.json and is part of every cache key it affects (senses are
cached per recipe; a bench's configuration id includes it). Benchmarks vary one with
`dataclasses.replace(DEFAULT_RECIPE, ...)`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from numbers import Integral, Real

from headstart.params import Interval, Kind, Names, OneOf, check_parameters

__all__ = ["DEFAULT_RECIPE", "Recipe"]

SEMANTIC_FAMILIES = ("path", "wup", "lch", "res", "jcn", "lin", "text")
IMAGES_STARTS = ("zero", "imprint", "imprint-faded", "imprint-shots")
SHOTS_NAMES = ("families", "agreement", "both")
NAMING_FIELDS = ("closeness_weight", "gloss_weight", "lexfile_smoothing", "vote_measure", "vote_top_k")
_AT_LEAST_1, _AT_LEAST_0 = Interval(Integral, 1), Interval(Real, 0)
_YES_NO = Kind((bool,), "True or False")
# What each field accepts (`headstart.params.check_parameters`)
RECIPE_PARAMETERS = {
    "families": [Names(SEMANTIC_FAMILIES)], "names_only_families": [Names(SEMANTIC_FAMILIES)], "top_k": [_AT_LEAST_1],
    "coverage_power": [None, _AT_LEAST_0], "shots_coverage_power": [None, _AT_LEAST_0],
    "names_only_top_k": [_AT_LEAST_1], "names_only_agreement": [None, _AT_LEAST_0],
    "names_only_text_votes": [Interval(Real, 0, open_low=True)],
    "trust_shrinkage": [_AT_LEAST_0], "trust_power": [_AT_LEAST_0], "prior_weight": [_AT_LEAST_0],
    "prior_decay": [_AT_LEAST_0], "images_start": [OneOf(IMAGES_STARTS)],
    "images_pseudo_shots": [Interval(Real, 0, open_low=True)],  # n0 / (n0 + k - 1) at k = 1
    "cosine_share": [Interval(Real, 0, 1)], "cosine_epochs": [_AT_LEAST_1], "shots_names": [OneOf(SHOTS_NAMES)],
    "closeness_weight": [_AT_LEAST_0], "gloss_weight": [_AT_LEAST_0], "lexfile_smoothing": [_AT_LEAST_0],
    "vote_top_k": [_AT_LEAST_1], "exact_rows": [_YES_NO], "images_compete": [_YES_NO],
    "vote_measure": [OneOf(tuple(f for f in SEMANTIC_FAMILIES if f != "text"))],  # a WordNet measure
}


@dataclass(frozen=True)
class Recipe:
    """Constants of the default method (``headstart``) and of choosing the names' senses.

    Head from the names
        families: similarity families whose top-k transferred heads are averaged when labelled
        images are given; names_only_families: the same with names only. top_k: source rows per
        family and class. coverage_power: the WordNet families' mean and the text family's head are
        mixed per class by WordNet's coverage of the class (``methods.wordnet_coverage``) to this
        power (names only; shots_coverage_power with labelled images); None averages text with the
        others. names_only_top_k: top_k of the names-only head. names_only_agreement: with names
        only, each family's row weighted per class by its agreement with the families' consensus
        row (``methods.default.agreement_head``: softmax of log votes + names_only_agreement x
        cosine; text has names_only_text_votes votes, each WordNet measure one) in place of the
        coverage mix; None: the coverage mix. exact_rows: a class whose name resolves to a source
        class itself (its exact synset, no part such as ``_head``, no other class on it) starts
        from that source row. shots_names: the names' head when labelled images are given — the
        families' head above ("families"), the names-only head made from the names alone and
        recentred on the images ("agreement"), or the mean of the two ("both").

    Trust in the names (per class, from the shots the names head never saw)
        trust_shrinkage: pseudo-shots pulling a class's own evidence toward the task's (one shot
        per class is noisy). trust_power: the prior's strength grows as trust ** trust_power.

    Training
        prior_weight, prior_decay: the L2 pull toward the names head is
        prior_weight * trust ** trust_power / N ** prior_decay for N labelled images (the data term
        is a mean over them, so the pull weakens as shots grow). images_compete: the names' head
        (start and prior) is scaled by the names' share of the evidence against the images alone,
        each sample left out (``transfer.names_share``): 1 at one shot, smaller as the images
        out-predict the names. images_start: what the images put in its place
        (``methods.competing_start``): nothing ("zero", BiT's start), their imprinted class means
        for the rest ("imprint"), the means only as far as both sides predict alike
        ("imprint-faded"), or the means as images_pseudo_shots shots per class against the k the
        images have ("imprint-shots": weight n0 / (n0 + k - 1) of the rest).
        cosine_share: with labelled images, the trained head is blended with CLAP's fit of the names
        head (``few_shot.clap_head``: a cosine classifier on centred, normalised features held near
        the names' rows by the names' confidence on each class's shots, cosine_epochs full-batch
        SGD epochs) — this share of it, each head's logits at the same spread (``transfer.blend``);
        0 keeps the trained head alone.

    Names' senses (``headstart.senses.scores`` and ``vote``)
        closeness_weight, gloss_weight, lexfile_smoothing: weights of a sense's closeness to the
        source classes, its gloss's fit with the other names, and the pseudo-count of the
        siblings' lexicographer-file distribution. vote_measure, vote_top_k: the head the images
        compare candidate senses with.
    """

    families: tuple[str, ...] = ("path", "jcn", "text")
    names_only_families: tuple[str, ...] = SEMANTIC_FAMILIES
    top_k: int = 3
    coverage_power: float | None = 1.0
    shots_coverage_power: float | None = None
    names_only_top_k: int = 5
    names_only_agreement: float | None = 12.5
    names_only_text_votes: float = 6.0
    exact_rows: bool = True
    trust_shrinkage: float = 1.0
    trust_power: float = 0.5
    prior_weight: float = 1.0
    prior_decay: float = 1.0
    images_compete: bool = True
    images_start: str = "imprint-shots"
    images_pseudo_shots: float = 10.0
    cosine_share: float = 0.5
    cosine_epochs: int = 150
    shots_names: str = "both"
    closeness_weight: float = 4.0
    gloss_weight: float = 8.0
    lexfile_smoothing: float = 1.0
    vote_measure: str = "lin"
    vote_top_k: int = 3

    def __post_init__(self) -> None:
        object.__setattr__(self, "families", tuple(self.families))
        object.__setattr__(self, "names_only_families", tuple(self.names_only_families))
        check_parameters(vars(self), RECIPE_PARAMETERS, "recipe")

    def as_dict(self) -> dict:
        """JSON-ready form (tuples as lists), as run.json and the bench's configuration id hold it."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict) -> "Recipe":
        """The recipe of `as_dict`; an unknown key is an error naming the known ones."""
        from headstart.errors import UserError

        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserError(f"unknown recipe field {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**values)

    def naming(self) -> "Recipe":
        """The default recipe with this one's naming constants: what the names' senses depend on (its
        cache key), so recipes that differ elsewhere share their senses."""
        return Recipe(**{name: getattr(self, name) for name in NAMING_FIELDS})


DEFAULT_RECIPE = Recipe()
