"""The basic heads every method is measured against: random, zero (BiT), logistic regression and
weight imprinting."""

from __future__ import annotations

import torch

from headstart import transfer
from headstart.evidence import Evidence
from headstart.methods.registry import Plan, register, source_head
from headstart.train import Head, cross_validate, logistic_regression, single_thread


@register("random", False, "PyTorch's default random head", uses_names=False)
def random_plan(evidence: Evidence, seed: int) -> Plan:
    generator = torch.Generator().manual_seed(seed)
    return Plan(transfer.random_head(evidence.n_classes, evidence.source.feature_dim, generator))


@register("zero", False, "all-zero head (BiT)", uses_names=False)
def zero_plan(evidence: Evidence, seed: int) -> Plan:
    return Plan(transfer.zero_head(evidence.n_classes, evidence.source.feature_dim))


LOGREG_C_GRID = (0.01, 0.1, 1.0, 10.0)


@register("logreg", True, "L2 logistic regression on frozen features, C by class-stratified cross-validation",
          uses_names=False)
def logreg_plan(evidence: Evidence, seed: int) -> Plan:
    return Plan(cross_validated_logreg(evidence.features, evidence.labels, evidence.n_classes,
                                       evidence.sample_weight), trains=False)


def cross_validated_logreg(features: torch.Tensor, labels: torch.Tensor, n_classes: int,
                           sample_weight: torch.Tensor | None = None) -> Head:
    """Logistic regression with C from LOGREG_C_GRID by class-stratified cross-validation (a head
    problem: on one thread); sample_weight [N] weights its objective and the folds' accuracies."""
    fit = lambda x, y, c, w=None: logistic_regression(x, y, n_classes, c, sample_weight=w)  # noqa: E731
    with single_thread():
        best = cross_validate(features, labels, LOGREG_C_GRID, fit, sample_weight=sample_weight)
        return fit(features, labels, best, sample_weight)


def typical_source_norm(evidence: Evidence) -> float:
    return source_head(evidence)[0].norm(dim=1).mean().item()


@register("imprint", True, "weight imprinting (Qi et al. 2018), rows scaled to the source rows' norm",
          uses_names=False)
def imprint_plan(evidence: Evidence, seed: int) -> Plan:
    return Plan(transfer.imprint(evidence.features, evidence.labels, evidence.n_classes,
                                 scale=typical_source_norm(evidence)))
