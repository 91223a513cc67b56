"""The literature's few-shot peers (issue 32), each adapted to the names head the default builds
(`names_head`: its rows stand in for CLIP's text embeddings, its logits for CLIP's zero-shot logits).
CL2N centres on the mean of the available training features. Heads that are no linear head on the
source's features read a `FeatureMap` and are measured by the bench only; CLAP's is linear.
The math is in `headstart.few_shot`; `docs/peers.md` states each adaptation."""

from __future__ import annotations

import torch

from headstart import few_shot
from headstart.evidence import Evidence
from headstart.methods.default import names_head
from headstart.methods.registry import FeatureMap, Plan, register
from headstart.recipe import DEFAULT_RECIPE, Recipe
from headstart.train import Head, logistic_regression, single_thread

# Tip-Adapter's (alpha, beta) grid for leave-one-out, alpha in units of the names logits' spread;
# at one shot (no shot left to check a pair on) the pair leave-one-out picks most often at two shots on
# the other datasets (benchmarks/tip_one_shot.py: the same pair for every dataset left out).
TIP_ALPHAS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0)
TIP_BETAS = (1.0, 2.0, 3.5, 5.5, 7.5, 10.0)
TIP_ONE_SHOT = (256.0, 7.5)
LR_L2N_C = 1.0
EPOCHS = 300  # LP++'s and CLAP's own full-batch epochs (the bench's --epochs trains the product's heads)


def names_logits(evidence: Evidence, recipe: Recipe = DEFAULT_RECIPE) -> tuple[Head, torch.Tensor]:
    """The default's names head under `recipe` (recentred on the training images) and its logits on the
    shots [N, C]. The peers that read it carry the recipe as an option, so that their rows' configuration
    follows the names head they were made with."""
    head, _ = names_head(evidence, recipe)
    return head, evidence.features @ head[0].T + head[1]


def cl2n_map(mean: torch.Tensor) -> FeatureMap:
    return FeatureMap("CL2N features (centred on the training mean, L2-normalised)",
                      lambda x: few_shot.normalised(x, mean))


@register("simpleshot", True, "SimpleShot (Wang et al. 2019): nearest class centroid on CL2N features "
          "(bench peer)")
def simpleshot_plan(evidence: Evidence, seed: int) -> Plan:
    features = cl2n_map(evidence.target_mean())
    head = few_shot.nearest_centroid_head(features(evidence.features), evidence.labels, evidence.n_classes)
    return Plan(head, trains=False, features=features)


@register("lr-l2n", True, "logistic regression on L2-normalised features, C = 1 (Tian et al. 2020; bench peer)")
def lr_l2n_plan(evidence: Evidence, seed: int) -> Plan:
    features = FeatureMap("L2-normalised features", few_shot.normalised)
    with single_thread():
        head = logistic_regression(features(evidence.features), evidence.labels, evidence.n_classes, LR_L2N_C)
    return Plan(head, trains=False, features=features)


@register("tip-adapter", True, "Tip-Adapter, training-free (Zhang et al. 2022): the names logits plus a cache "
          "of the CL2N shots, (alpha, beta) by leave-one-out on the shots (bench peer)", recipe=DEFAULT_RECIPE)
def tip_adapter_plan(evidence: Evidence, seed: int, recipe: Recipe) -> Plan:
    (w_n, b_n), logits = names_logits(evidence, recipe)
    mean, labels, n_classes = evidence.target_mean(), evidence.labels, evidence.n_classes
    keys = few_shot.normalised(evidence.features, mean)
    one_shot = torch.bincount(labels).max().item() < 2
    alpha, beta = TIP_ONE_SHOT if one_shot else few_shot.tip_adapter_choice(
        logits, keys, labels, n_classes, TIP_ALPHAS, TIP_BETAS)
    values = alpha * few_shot.logit_spread(logits) * torch.nn.functional.one_hot(labels, n_classes).float()
    # the head reads [x, affinity(x, keys)]: the names head on x, the cache's values on the affinities
    features = FeatureMap(f"the features and their affinity with the {len(keys)} cached shots",
                          lambda x: torch.cat([x.float(), few_shot.cache_affinity(few_shot.normalised(x, mean),
                                                                                    keys, beta)], dim=1))
    head = torch.cat([w_n, values.T], dim=1), b_n
    return Plan(head, trains=False, features=features,
                record={"alpha": alpha, "beta": beta, "chosen": "fixed (one shot)" if one_shot else "leave-one-out"})


@register("lp-plus-plus", True, "LP++ (Huang et al. 2024): class prototypes on L2-normalised features plus a "
          "per-class multiple of the names logits, block gradient steps from Lipschitz constants (bench peer)",
          recipe=DEFAULT_RECIPE)
def lp_plus_plus_plan(evidence: Evidence, seed: int, recipe: Recipe) -> Plan:
    return lp_plus_plus_fit(evidence, recipe=recipe)


def lp_plus_plus_fit(evidence: Evidence, on_epoch=None, recipe: Recipe = DEFAULT_RECIPE) -> Plan:
    """LP++'s plan; `on_epoch(epoch, plan)` sees the plan each epoch would give (a learning curve)."""
    (w_n, b_n), logits = names_logits(evidence, recipe)
    unit = few_shot.normalised(evidence.features)
    # the head reads [x / |x|, x]: the prototypes on the first, alpha x the names head on the second
    features = FeatureMap("L2-normalised features beside the features",
                          lambda x: torch.cat([few_shot.normalised(x), x.float()], dim=1))

    def plan(w: torch.Tensor, alpha: torch.Tensor) -> Plan:
        return Plan((torch.cat([w, alpha[:, None] * w_n], dim=1), alpha * b_n), trains=False, features=features,
                    record={"alpha": [round(a, 4) for a in alpha.tolist()]})

    with single_thread():
        w, alpha = few_shot.lp_plus_plus(unit, logits, evidence.labels, evidence.n_classes, EPOCHS,
                                         on_epoch=on_epoch and (lambda e, w, a: on_epoch(e, plan(w, a))))
    return plan(w, alpha)


@register("clap", True, "CLAP (Silva-Rodriguez et al. 2024): a cosine classifier on CL2N features started "
          "at the names rows, held near them per class by the names' confidence on the shots",
          recipe=DEFAULT_RECIPE)
def clap_plan(evidence: Evidence, seed: int, recipe: Recipe) -> Plan:
    return clap_fit(evidence, recipe=recipe)


def clap_fit(evidence: Evidence, on_epoch=None, recipe: Recipe = DEFAULT_RECIPE) -> Plan:
    """CLAP's plan; `on_epoch(epoch, plan)` sees the plan each epoch would give (a learning curve)."""
    names, _ = names_logits(evidence, recipe)
    with single_thread():
        head, record = few_shot.clap_head(evidence.features, evidence.labels, names, evidence.target_mean(), EPOCHS,
                                          on_epoch=on_epoch and (lambda e, h: on_epoch(e, Plan(h, trains=False))))
    return Plan(head, trains=False, record=record)
