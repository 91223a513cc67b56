"""Head-initialisation methods, registered by name: each turns the evidence (source head, class
names, few training features) into a plan — an initial head, an optional prior, and whether it
trains. The bench, `fit` and `init` all pick methods from this registry."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch

from headstart import transfer
from headstart.errors import UserError
from headstart.similarity import FAMILIES, VISUAL_FAMILIES, Evidence, similarity
from headstart.train import EVAL_EPOCHS, Head, HeadTraining, accuracy, cross_validate, logistic_regression

@dataclass
class Plan:
    """init: the head before training; prior/prior_strength: the L2 pull during training;
    trains: False for closed-form heads (logistic regression), which are final as they are;
    record: what the method decided (families per class, fallbacks, constants), kept in run.json."""

    init: Head
    prior: Head | None = None
    prior_strength: float = 0.0
    trains: bool = True
    record: dict = field(default_factory=dict)


def execute(plan: Plan, features: torch.Tensor, labels: torch.Tensor, evaluate=None, epochs: int = 100,
            eval_epochs=EVAL_EPOCHS) -> tuple[Head, list[tuple[int, float]]]:
    """Train the plan's head on features [N, D] / labels [N] (or keep it, for closed-form heads and
    empty training sets) -> ((W, b), [(epoch, evaluate(W, b))]), the last entry the final one
    (no entries without `evaluate`)."""
    if not plan.trains or len(labels) == 0:
        return plan.init, [(0, evaluate(*plan.init))] if evaluate else []
    training = HeadTraining(epochs=epochs, prior_strength=plan.prior_strength, eval_epochs=eval_epochs)
    return training.fit(features, labels, plan.init, plan.prior, evaluate)


@dataclass(frozen=True)
class MethodKind:
    """A registered method: build(evidence, seed, **options) -> Plan, with its default options."""

    name: str
    build: Callable[..., Plan]
    needs_shots: bool
    description: str
    defaults: dict


@dataclass(frozen=True)
class Method:
    """A method with its options fixed: what the bench, fit and the estimator run."""

    kind: MethodKind
    options: dict

    @property
    def name(self) -> str:
        return self.kind.name

    @property
    def needs_shots(self) -> bool:
        return self.kind.needs_shots

    @property
    def description(self) -> str:
        return self.kind.description

    def build(self, evidence: Evidence, seed: int) -> Plan:
        return self.kind.build(evidence, seed, **self.options)


METHODS: dict[str, MethodKind] = {}


def register(name: str, needs_shots: bool, description: str, **defaults):
    """Register `build(evidence, seed, **options) -> Plan` under `name`; `defaults` are its options."""
    def decorator(build: Callable[..., Plan]):
        if name in METHODS:
            raise ValueError(f"method {name!r} is already registered")
        METHODS[name] = MethodKind(name, build, needs_shots, description, dict(defaults))
        return build
    return decorator


def create_method(name: str, **options) -> Method:
    """The method `name` with `options` overriding its defaults; unknown names or options are errors
    that list the valid ones."""
    if name not in METHODS:
        raise UserError(f"unknown method {name!r}; choose from: {', '.join(METHODS)}")
    kind = METHODS[name]
    unknown = sorted(set(options) - set(kind.defaults))
    if unknown:
        valid = ", ".join(kind.defaults) or "none"
        raise UserError(f"method {name!r} has no option {', '.join(map(repr, unknown))}; its options: {valid}")
    return Method(kind, {**kind.defaults, **options})


def get_method(name: str) -> Method:
    """The method `name` with its default options."""
    return create_method(name)


def source_head(evidence: Evidence) -> Head:
    head = evidence.source.head
    return head.weight.detach().float(), head.bias.detach().float()


@register("random", False, "PyTorch's default random head")
def random_plan(evidence: Evidence, seed: int) -> Plan:
    generator = torch.Generator().manual_seed(seed)
    return Plan(transfer.random_head(evidence.n_classes, evidence.source.feature_dim, generator))


@register("zero", False, "all-zero head (BiT)")
def zero_plan(evidence: Evidence, seed: int) -> Plan:
    return Plan(transfer.zero_head(evidence.n_classes, evidence.source.feature_dim))


LOGREG_C_GRID = (0.01, 0.1, 1.0, 10.0)


@register("logreg", True, "L2 logistic regression on frozen features, C by class-stratified cross-validation")
def logreg_plan(evidence: Evidence, seed: int) -> Plan:
    return Plan(cross_validated_logreg(evidence.features, evidence.labels, evidence.n_classes), trains=False)


def cross_validated_logreg(features: torch.Tensor, labels: torch.Tensor, n_classes: int) -> Head:
    """Logistic regression with C from LOGREG_C_GRID by class-stratified cross-validation."""
    fit = lambda x, y, c: logistic_regression(x, y, n_classes, c)  # noqa: E731
    return fit(features, labels, cross_validate(features, labels, LOGREG_C_GRID, fit))


def typical_source_norm(evidence: Evidence) -> float:
    return source_head(evidence)[0].norm(dim=1).mean().item()


@register("imprint", True, "weight imprinting (Qi et al. 2018), rows scaled to the source rows' norm")
def imprint_plan(evidence: Evidence, seed: int) -> Plan:
    return Plan(transfer.imprint(evidence.features, evidence.labels, evidence.n_classes,
                                 scale=typical_source_norm(evidence)))


def transferred_head(evidence: Evidence, family: str, top_k: int = 5) -> Head:
    weights = transfer.top_k_weights(similarity(family, evidence), top_k)
    return transfer.combine(*source_head(evidence), weights)


def _register_family(family: str) -> None:
    needs_shots = family in VISUAL_FAMILIES

    @register(family, needs_shots, f"seed-paper transfer: top-k source rows by {family} similarity", top_k=5)
    def plan(evidence: Evidence, seed: int, top_k: int) -> Plan:
        return Plan(transferred_head(evidence, family, top_k))


for _family in FAMILIES:
    _register_family(_family)


DEFAULT_MEASURE, DEFAULT_TOP_K = "lin", 3
# The prior is a fixed Gaussian in the summed loss, sum_i CE_i + PRIOR_WEIGHT/2 * ||W - W0||^2, so
# in the mean loss we train its strength is PRIOR_WEIGHT / N: strong with one shot, fading with more.
PRIOR_WEIGHT = 3.0


def prior_strength(n_images: int) -> float:
    return PRIOR_WEIGHT / max(n_images, 1)


def semantic_head(evidence: Evidence) -> Head:
    """The names-only transferred head: Lin (intrinsic IC) top-3 over WordNet when every name
    resolves to a synset and the source labels are synsets; the text-embedding family otherwise."""
    try:
        return transferred_head(evidence, DEFAULT_MEASURE, DEFAULT_TOP_K)
    except UserError:
        return transferred_head(evidence, "text", DEFAULT_TOP_K)


def names_beat_chance(head: Head, evidence: Evidence, alpha: float = 0.1) -> bool:
    """Whether the names-only head classifies the training shots significantly better than chance.

    It never saw those images, so its hits on them are an honest held-out test: a one-sided
    binomial test against chance (1 / n_classes) at level `alpha`. Names that carry no semantics
    ('blorf') or mislead score near or below chance and fail it. alpha = 0.1 keeps the test's power at one
    shot: 3 hits out of 10 classes suffice there.
    """
    n = len(evidence.labels)
    hits = round(accuracy(*head, evidence.features, evidence.labels) * n)
    chance = 1.0 / evidence.n_classes
    p_value = sum(math.comb(n, k) * chance**k * (1 - chance) ** (n - k) for k in range(hits, n + 1))
    return p_value < alpha


# The initial head blends in this share of imprinted rows (the shots' own class means) so it is
# right before any training; one third leaves the final head where the transferred head alone
# ends (benchmarks/imprint_share.py measured 0, 1/4, 1/3, 2/5 and a shot-dependent share).
IMPRINT_SHARE = 1 / 3


@register("headstart", False,
          "default: Lin top-3 transferred head, biases recentred on the target images (labelled or not), "
          "as L2 prior (strength 3/N); training starts from it blended with 1/3 imprinted rows; "
          "logistic regression when the names do not beat chance on the shots")
def headstart_plan(evidence: Evidence, seed: int) -> Plan:
    head = semantic_head(evidence)
    mean_feature = evidence.target_mean()
    record = {"measure": DEFAULT_MEASURE, "top_k": DEFAULT_TOP_K}
    if len(evidence.labels) == 0:  # names only; recentred when unlabelled images are given
        record["recentred"] = mean_feature is not None
        return Plan(head if mean_feature is None else transfer.recentre(*head, mean_feature), record=record)
    if not names_beat_chance(head, evidence):
        return Plan(logreg_plan(evidence, seed).init, trains=False,
                    record={**record, "fallback": "logreg: the names did not beat chance on the training images"})
    prior = transfer.recentre(*head, mean_feature)
    init = transfer.blend(prior, imprint_plan(evidence, seed).init, IMPRINT_SHARE)
    strength = prior_strength(len(evidence.labels))
    return Plan(init, prior=prior, prior_strength=strength,
                record={**record, "recentred": True, "imprint_share": IMPRINT_SHARE, "prior_strength": strength})
