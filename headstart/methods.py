"""Head-initialisation methods, registered by name: each turns the evidence (source head, class
names, few training features) into a plan — an initial head, an optional prior, and whether it
trains. The bench, `fit` and `init` all pick methods from this registry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from headstart import transfer
from headstart.errors import UserError
from headstart.similarity import FAMILIES, Evidence, similarity
from headstart.train import Head, cross_validate, logistic_regression

PEERS = ("random", "zero", "logreg", "imprint")


@dataclass
class Plan:
    """init: the head before training; prior/prior_strength: the L2 pull during training;
    trains: False for closed-form heads (logistic regression), which are final as they are."""

    init: Head
    prior: Head | None = None
    prior_strength: float = 0.0
    trains: bool = True


@dataclass
class Method:
    name: str
    build: Callable[[Evidence, int], Plan]
    needs_shots: bool
    description: str


METHODS: dict[str, Method] = {}


def register(name: str, needs_shots: bool, description: str):
    def decorator(build: Callable[[Evidence, int], Plan]):
        if name in METHODS:
            raise ValueError(f"method {name!r} is already registered")
        METHODS[name] = Method(name, build, needs_shots, description)
        return build
    return decorator


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise UserError(f"unknown method {name!r}; choose from: {', '.join(METHODS)}")
    return METHODS[name]


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
    n = evidence.n_classes
    fit = lambda x, y, c: logistic_regression(x, y, n, c)  # noqa: E731
    c = cross_validate(evidence.features, evidence.labels, LOGREG_C_GRID, fit)
    return Plan(fit(evidence.features, evidence.labels, c), trains=False)


def typical_source_norm(evidence: Evidence) -> float:
    return source_head(evidence)[0].norm(dim=1).mean().item()


@register("imprint", True, "weight imprinting (Qi et al. 2018), rows scaled to the source rows' norm")
def imprint_plan(evidence: Evidence, seed: int) -> Plan:
    return Plan(transfer.imprint(evidence.features, evidence.labels, evidence.n_classes,
                                 scale=typical_source_norm(evidence)))


def transferred_head(evidence: Evidence, family: str, top_k: int = 5, match_norm: bool = False) -> Head:
    weights = transfer.top_k_weights(similarity(family, evidence), top_k)
    return transfer.combine(*source_head(evidence), weights, match_norm=match_norm)


def _register_family(family: str) -> None:
    needs_shots = family == "visual"

    @register(family, needs_shots, f"seed-paper transfer: top-5 source rows by {family} similarity")
    def plan(evidence: Evidence, seed: int) -> Plan:
        return Plan(transferred_head(evidence, family))


for _family in FAMILIES:
    _register_family(_family)
