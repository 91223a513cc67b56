"""The method registry: a method turns the evidence (source head, class names, few training features)
into a plan — an initial head, an optional prior, and whether it trains — and `execute` trains it.
The bench, `fit` and `init` all pick methods from this registry; the methods themselves live one
family per module beside it."""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral
from typing import Callable

import torch

from headstart import transfer
from headstart.defaults import HEAD_EPOCHS
from headstart.errors import UserError
from headstart.evidence import Evidence
from headstart.params import Interval, Kind, check_parameters
from headstart.recipe import DEFAULT_RECIPE, Recipe
from headstart.train import EVAL_EPOCHS, EarlyStopping, Head, HeadTraining, accuracy, single_thread


@dataclass(frozen=True)
class FeatureMap:
    """A per-sample map of the features [N, D] -> [N, D'] (`apply`) that a plan's head reads in place
    of the source's features; `name` says what it is."""

    name: str
    apply: Callable[[torch.Tensor], torch.Tensor]

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        return self.apply(features)


@dataclass
class Plan:
    """init: the head before training; prior/prior_strength: the L2 pull during training (a number,
    or one per class [C]);
    trains: False for closed-form heads (logistic regression), which are final as they are;
    record: what the method decided (families per class, fallbacks, constants), kept in run.json;
    features: None for a head on the source's features (every product method), else the map whose
    output the head reads — a literature peer's classifier that is no linear head on the features
    (per-sample normalisation, a cache of the shots), measured by the bench only;
    partner: a second, finished head on the same features that the trained one is blended with
    (`transfer.blend`, `partner_share` of it) after training and at each point of a learning curve."""

    init: Head
    prior: Head | None = None
    prior_strength: float | torch.Tensor = 0.0
    trains: bool = True
    record: dict = field(default_factory=dict)
    features: FeatureMap | None = None
    partner: Head | None = None
    partner_share: float = 0.0


@dataclass(frozen=True)
class Scorer:
    """`evaluate(W, b)` for `execute` and `fit_head`: top-1 accuracy on held-out features [N, D] with
    labels [N]; it scores a head on mapped features (`Plan.features`) on these features mapped alike."""

    features: torch.Tensor
    labels: torch.Tensor

    def __call__(self, w: torch.Tensor, b: torch.Tensor) -> float:
        return accuracy(w, b, self.features, self.labels)

    def mapped(self, feature_map: FeatureMap) -> "Scorer":
        return Scorer(feature_map(self.features), self.labels)


def execute(plan: Plan, features: torch.Tensor, labels: torch.Tensor, evaluate=None, epochs: int = HEAD_EPOCHS,
            eval_epochs=EVAL_EPOCHS, *, lr: float = HeadTraining.lr, sample_weight: torch.Tensor | None = None,
            stopping: EarlyStopping | None = None) -> tuple[Head, list[tuple[int, float]]]:
    """Train the plan's head on features [N, D] / labels [N] (or keep it, for closed-form heads and
    empty training sets) -> ((W, b), [(epoch, evaluate(W, b))]), the last entry the final one
    (no entries without `evaluate`; a plan with `features` needs a `Scorer` to score with). lr,
    sample_weight [N] (of the loss) and stopping: as `HeadTraining`. A head problem: it runs on one
    thread (`single_thread`)."""
    if plan.features is not None:  # the head reads mapped features: train and score on them
        features = plan.features(features)
        evaluate = evaluate.mapped(plan.features) if evaluate is not None else None
    finish = _blended(plan, features)
    scored = evaluate if evaluate is None or finish is None else (lambda w, b: evaluate(*finish(w, b)))
    with single_thread():
        if not plan.trains or len(labels) == 0:  # final as it is: blended now, if it has a partner
            head = plan.init if finish is None else finish(*plan.init)
            return head, [(0, evaluate(*head))] if evaluate else []
        training = HeadTraining(epochs=epochs, lr=lr, prior_strength=plan.prior_strength, eval_epochs=eval_epochs,
                                stopping=stopping)
        head, history = training.fit(features, labels, plan.init, plan.prior, scored, sample_weight)
    return (head if finish is None else finish(*head)), history


def _blended(plan: Plan, features: torch.Tensor):
    """(W, b) -> the head blended with the plan's partner on `features`; None without a partner."""
    if plan.partner is None or plan.partner_share == 0:
        return None
    return lambda w, b: transfer.blend((w, b), plan.partner, plan.partner_share, features)


def fit_head(method: "Method", evidence: Evidence, seed: int, epochs: int = HEAD_EPOCHS, evaluate=None,
             eval_epochs=EVAL_EPOCHS, *, lr: float = HeadTraining.lr, stopping: EarlyStopping | None = None,
             ) -> tuple[Head, list[tuple[int, float]], Plan]:
    """The one way a head is fitted (by `fit`, the bench and fine-tuning): the method's plan from the
    evidence, then `execute`d on the evidence's labelled features, their loss weighted by the
    evidence's sample_weight -> (head, history, plan). The plans' starts ignore the weights; the
    closed-form logistic regression honours them in its objective. A plan whose
    head reads mapped features (a bench peer) is refused unless `evaluate` is a `Scorer`: its head is
    no head on the source's features."""
    plan = method.build(evidence, seed)
    if plan.features is not None and not isinstance(evaluate, Scorer):
        raise UserError(f"method {method.name!r} classifies {plan.features.name}, not the source's features "
                        "with one linear head: it is a peer measured by `headstart bench`, not a head to fit or "
                        "export; choose another method (see `headstart methods`)")
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
    """The source model's head as float tensors (W [S, D], b [S]), what most methods start from."""
    return evidence.source.head_weights()
