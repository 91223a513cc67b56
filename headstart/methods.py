"""Head-initialisation methods, registered by name: each turns the evidence (source head, class
names, few training features) into a plan — an initial head, an optional prior, and whether it
trains. The bench, `fit` and `init` all pick methods from this registry."""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral
from typing import Callable

import torch

from headstart import transfer
from headstart.errors import UserError
from headstart.params import Interval, Kind, check_parameters
from headstart.recipe import DEFAULT_RECIPE, SEMANTIC_FAMILIES, Recipe
from headstart.similarity import FAMILIES, VISUAL_FAMILIES, Evidence, class_senses, similarity
from headstart.train import (EVAL_EPOCHS, EarlyStopping, Head, HeadTraining, cross_validate, logistic_regression,
                             single_thread)

@dataclass
class Plan:
    """init: the head before training; prior/prior_strength: the L2 pull during training (a number,
    or one per class [C]);
    trains: False for closed-form heads (logistic regression), which are final as they are;
    record: what the method decided (families per class, fallbacks, constants), kept in run.json."""

    init: Head
    prior: Head | None = None
    prior_strength: float | torch.Tensor = 0.0
    trains: bool = True
    record: dict = field(default_factory=dict)


def execute(plan: Plan, features: torch.Tensor, labels: torch.Tensor, evaluate=None, epochs: int = 100,
            eval_epochs=EVAL_EPOCHS, *, lr: float = HeadTraining.lr, sample_weight: torch.Tensor | None = None,
            stopping: EarlyStopping | None = None) -> tuple[Head, list[tuple[int, float]]]:
    """Train the plan's head on features [N, D] / labels [N] (or keep it, for closed-form heads and
    empty training sets) -> ((W, b), [(epoch, evaluate(W, b))]), the last entry the final one
    (no entries without `evaluate`). lr, sample_weight [N] (of the loss) and stopping: as
    `HeadTraining`. A head problem: it runs on one thread (`single_thread`)."""
    with single_thread():
        if not plan.trains or len(labels) == 0:
            return plan.init, [(0, evaluate(*plan.init))] if evaluate else []
        training = HeadTraining(epochs=epochs, lr=lr, prior_strength=plan.prior_strength, eval_epochs=eval_epochs,
                                stopping=stopping)
        return training.fit(features, labels, plan.init, plan.prior, evaluate, sample_weight)


def fit_head(method: "Method", evidence: Evidence, seed: int, epochs: int = 100, evaluate=None,
             eval_epochs=EVAL_EPOCHS, *, lr: float = HeadTraining.lr, stopping: EarlyStopping | None = None,
             ) -> tuple[Head, list[tuple[int, float]], Plan]:
    """The one way a head is fitted (by `fit`, the bench and fine-tuning): the method's plan from the
    evidence, then `execute`d on the evidence's labelled features, their loss weighted by the
    evidence's sample_weight -> (head, history, plan). The plans' starts ignore the weights; the
    closed-form logistic regression honours them in its objective."""
    plan = method.build(evidence, seed)
    head, history = execute(plan, evidence.features, evidence.labels, evaluate, epochs, eval_epochs, lr=lr,
                            sample_weight=evidence.sample_weight, stopping=stopping)
    return head, history, plan


@dataclass(frozen=True)
class MethodKind:
    """A registered method: build(evidence, seed, **options) -> Plan, with its default options.
    uses_names: whether it reads the class names (their WordNet / text senses); one that does not
    runs without WordNet."""

    name: str
    build: Callable[..., Plan]
    needs_shots: bool
    description: str
    defaults: dict
    uses_names: bool = True


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

    @property
    def uses_names(self) -> bool:
        return self.kind.uses_names

    @property
    def recipe(self) -> Recipe:
        """The recipe this method runs with (the default for methods that take none): its naming
        constants resolve the class names."""
        return self.options.get("recipe", DEFAULT_RECIPE)

    def build(self, evidence: Evidence, seed: int) -> Plan:
        return self.kind.build(evidence, seed, **self.options)

    def json_options(self) -> dict:
        """The options as run.json and the bench's configuration id hold them (a recipe as a dict)."""
        return {k: v.as_dict() if isinstance(v, Recipe) else v for k, v in self.options.items()}


METHODS: dict[str, MethodKind] = {}


def register(name: str, needs_shots: bool, description: str, uses_names: bool = True, **defaults):
    """Register `build(evidence, seed, **options) -> Plan` under `name`; `defaults` are its options."""
    def decorator(build: Callable[..., Plan]):
        if name in METHODS:
            raise ValueError(f"method {name!r} is already registered")
        METHODS[name] = MethodKind(name, build, needs_shots, description, dict(defaults), uses_names)
        return build
    return decorator


# What each method option accepts, by name (an option means the same in every method that has it).
OPTIONS = {
    "top_k": [Interval(Integral, 1, None)],
    "recipe": [Kind((Recipe, dict), "a headstart.recipe.Recipe (or its as_dict())")],  # it checks its own fields
}


def create_method(name: str, **options) -> Method:
    """The method `name` with `options` overriding its defaults; unknown names or options, and
    values outside an option's range (`OPTIONS`), are errors that list the valid ones."""
    if name not in METHODS:
        raise UserError(f"unknown method {name!r}; choose from: {', '.join(METHODS)}")
    kind = METHODS[name]
    unknown = sorted(set(options) - set(kind.defaults))
    if unknown:
        valid = ", ".join(kind.defaults) or "none"
        raise UserError(f"method {name!r} has no option {', '.join(map(repr, unknown))}; its options: {valid}")
    check_parameters(options, OPTIONS, f"method {name!r}")
    if isinstance(options.get("recipe"), dict):  # as run.json holds it
        options = {**options, "recipe": Recipe.from_dict(options["recipe"])}
    return Method(kind, {**kind.defaults, **options})


def get_method(name: str) -> Method:
    """The method `name` with its default options."""
    return create_method(name)


def source_head(evidence: Evidence) -> Head:
    return evidence.source.head_weights()


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


def transferred_head(evidence: Evidence, family: str, top_k: int = 5) -> Head:
    weights = transfer.top_k_weights(similarity(family, evidence), top_k)
    return transfer.combine(*source_head(evidence), weights)


def _register_family(family: str) -> None:
    needs_shots = family in VISUAL_FAMILIES

    @register(family, needs_shots, f"seed-paper transfer: top-k source rows by {family} similarity",
              uses_names=family not in VISUAL_FAMILIES, top_k=5)
    def plan(evidence: Evidence, seed: int, top_k: int) -> Plan:
        return Plan(transferred_head(evidence, family, top_k))


for _family in FAMILIES:
    _register_family(_family)


def averaged_head(evidence: Evidence, families=SEMANTIC_FAMILIES, top_k: int = 3) -> Head:
    """Mean over `families` of the top-k transferred heads (W [C, D], b [C]), summed one at a time:
    with 10,000 classes a head is 51 MB, seven stacked twice that again."""
    w, b = transferred_head(evidence, families[0], top_k)
    for family in families[1:]:
        w_f, b_f = transferred_head(evidence, family, top_k)
        w += w_f
        b += b_f
    return w / len(families), b / len(families)


def exact_source_classes(evidence: Evidence) -> dict[int, int]:
    """Class index -> source index for classes whose name resolved to a source class itself: its
    exact synset (or source label), no part (``flamingo_head`` is not the flamingo), and no other
    class of the task on the same source class."""
    position = {label: i for i, label in enumerate(evidence.source.labels)}
    found = {c: position.get(r.synset_id) for c, r in enumerate(class_senses(evidence))
             if r.source != "text" and r.part is None}
    found = {c: s for c, s in found.items() if s is not None}
    taken = list(found.values())
    return {c: s for c, s in found.items() if taken.count(s) == 1}


def wordnet_coverage(evidence: Evidence) -> torch.Tensor:
    """[C] in [0, 1]: how well WordNet places each class among the source classes — its path
    similarity to the nearest one, 1 / (1 + distance), doubled and capped at 1 (1 up to one edge
    away, 1/2 at three); 0 for a name that resolved to no synset. Needs no image."""
    nearest = similarity("path", evidence).max(dim=1).values
    named = torch.tensor([r.source != "text" for r in class_senses(evidence)])
    return torch.where(named, (2 * nearest).clamp(max=1.0), torch.zeros_like(nearest))


def family_head(evidence: Evidence, families: tuple[str, ...], recipe: Recipe) -> Head:
    """The names' head from `families`: the mean of the WordNet families' top-k heads, mixed per class
    with the text family's by WordNet's coverage of the class (`wordnet_coverage` to the recipe's
    coverage power, with or without labelled images: where WordNet places a class far from every
    source class, text leads); with the power None, text is one family among the others."""
    measures = tuple(f for f in families if f != "text")
    power = recipe.coverage_power if len(evidence.labels) == 0 else recipe.shots_coverage_power
    if "text" not in families or not measures or power is None:
        return averaged_head(evidence, families, recipe.top_k)
    share = wordnet_coverage(evidence) ** power
    return transfer.mix_rows(averaged_head(evidence, measures, recipe.top_k),
                             transferred_head(evidence, "text", recipe.top_k), share)


def names_head(evidence: Evidence, recipe: Recipe) -> tuple[Head, dict]:
    """The head the names give (recentred on the target images when there are any) and what it
    was made of, for the plan's record: the families, and the classes that start from their own
    source row (at the norm of the task's other rows, so that a full source row does not outshout
    the averaged ones)."""
    families = recipe.names_only_families if len(evidence.labels) == 0 else recipe.families
    head = family_head(evidence, tuple(families), recipe)
    exact = exact_source_classes(evidence) if recipe.exact_rows else {}
    head = transfer.with_rows(head, source_head(evidence), exact)
    if exact and len(exact) < evidence.n_classes:
        others = torch.tensor([c for c in range(evidence.n_classes) if c not in exact])
        head = transfer.scale_rows(head, list(exact), head[0][others].norm(dim=1).mean())
    mean_feature = evidence.target_mean()
    if mean_feature is not None:
        head = transfer.recentre(*head, mean_feature)
    made_of = {"families": list(families), "top_k": recipe.top_k, "recentred": mean_feature is not None,
               "source_rows": {evidence.class_names[c]: evidence.source.labels[s] for c, s in exact.items()}}
    return head, made_of


def competing_start(evidence: Evidence, head: Head, share: float, recipe: Recipe) -> tuple[Head, float]:
    """The start (and prior) once the images compete with the names: share x the names' head, plus the
    images' own head — the imprinted class means of the shots, recentred, at the names' rows' mean
    norm — weighted by `transfer.class_means_weight`; the rest is zero (BiT's start).
    -> (head, the class means' weight)."""
    weight = transfer.class_means_weight(recipe.images_start, share, len(evidence.labels) / evidence.n_classes,
                                         recipe.images_pseudo_shots)
    w, b = share * head[0], share * head[1]
    if weight > 0:
        norm = head[0].norm(dim=1).mean().item()
        imprinted = transfer.recentre(*transfer.imprint(evidence.features, evidence.labels, evidence.n_classes,
                                                        norm), evidence.target_mean())
        w, b = w + weight * imprinted[0], b + weight * imprinted[1]
    return (w, b), weight


def decision_lines(record: dict) -> list[str]:
    """What the default decided, in words, from its plan's record (as run.json keeps it): the
    families, the classes that start from their own source row, and how far it trusted the names."""
    lines = []
    if "families" in record:
        lines.append(f"names' head: top-{record['top_k']} source rows of {', '.join(record['families'])}"
                     + (", biases recentred on the target images" if record.get("recentred") else ""))
    if record.get("source_rows"):
        lines.append("starting from their own source row: " +
                     ", ".join(f"{name} ({label})" for name, label in record["source_rows"].items()))
    if "why" in record:
        lines.append(f"trust in the names: {100 * record['task_trust']:.0f} % ({record['why']})")
    return lines


@register("headstart", False,
          "default: the mean of the top-3 transferred heads of the path, jcn and text families (names only: "
          "all six WordNet measures, mixed with text per class by WordNet's coverage), a class named as a "
          "source class starting from that row, biases recentred on the target images; with labelled images "
          "it trusts the names as far as they predicted the shots (never seen by them) against the images "
          "alone, in its start and in its pull, the images' class means taking part of the start where both "
          "predict alike (headstart.recipe.Recipe)",
          recipe=DEFAULT_RECIPE)
def headstart_plan(evidence: Evidence, seed: int, recipe: Recipe) -> Plan:
    head, record = names_head(evidence, recipe)
    if len(evidence.labels) == 0:  # names only
        return Plan(head, record=record)
    logits = evidence.features @ head[0].T + head[1]
    trust, task_trust = transfer.class_trust(logits, evidence.labels, evidence.n_classes, recipe.trust_shrinkage)
    strength = recipe.prior_weight * trust.pow(recipe.trust_power) / len(evidence.labels) ** recipe.prior_decay
    share, images_weight = 1.0, 0.0
    if recipe.images_compete:  # the names keep the start as far as they out-predict the images alone
        images = transfer.leave_one_out_prototype_logits(evidence.features, evidence.labels, evidence.n_classes)
        share = transfer.names_share(logits, images, evidence.labels)
        head, images_weight = competing_start(evidence, head, share, recipe)
    why = (f"the names' head predicted the {len(evidence.labels)} training images it never saw "
           f"{100 * task_trust:.0f} % of the way from chance to certainty")
    if recipe.images_compete:
        why += (f"; the images alone (each left out) predicted them {'worse' if share > 0.5 else 'better'}: "
                f"the names keep {100 * share:.0f} % of the start")
    if images_weight:
        why += f", the images' class means take {100 * images_weight:.0f} %"
    record.update(task_trust=round(task_trust, 4), names_share=round(share, 4), images_share=round(images_weight, 4),
                  trust={name: round(t, 4) for name, t in zip(evidence.class_names, trust.tolist())}, why=why)
    return Plan(head, prior=head, prior_strength=strength, record=record)
