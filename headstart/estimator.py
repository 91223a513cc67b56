"""`HeadStart`: the estimator behind `fit`, `init` and `predict` — a new classifier for your classes
whose head starts from the most similar source classes, a scikit-learn estimator.

    clf = HeadStart("efficientnet-lite0").fit(images, ["cat", "dog", "cat"])
    clf.predict(more_images)            # labels [N], from clf.classes_
    clf.predict_proba(more_images)      # probabilities [N, C] in classes_ order
    clf.save("run"); HeadStart.load("run")
    module = clf.to_module()            # uint8 [N, H, W, 3], any size -> probabilities, without headstart

Images are uint8 arrays (H x W or H x W x 3), PIL images, a uint8 array [N, H, W(, 3)], or an
object with `__len__` and `load(indices)`; a float array [N, D] is taken as precomputed features.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
from numbers import Integral, Real
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from headstart.backends import Placement
from headstart.backends import resolve as resolve_placement
from headstart.classifier import Classifier, ImageClassifier
from headstart.data.augment import MAX_VIEWS, augmented_split, view_rows, with_views
from headstart.data.dataset import Split
from headstart.data.features import extract
from headstart.data.loading import loader_of
from headstart.defaults import DEFAULT_METHOD, DEFAULT_MODEL, HEAD_EPOCHS, LEARNING_RATE, MAX_RESOLUTION, MIN_RESOLUTION
from headstart.errors import InputError, UserError
from headstart.evidence import Evidence
from headstart.fit_context import FitContext, decide
from headstart.inputs import (as_images, check_features, check_image_batch, early_stopping_split, encode_labels,
                              image_count, is_feature_array, label_classes, sample_weights)
from headstart.methods import fit_head
from headstart.params import Interval, Kind, OneOf, ParameterError, check_parameters
from headstart.recipe import Recipe
from headstart.run_folder import fitted_attributes, fitted_run, load_run, save_run, with_backbone
from headstart.senses import class_senses
from headstart.sources import as_source, run_source
from headstart.sources.model import SourceModel
from headstart.train import EarlyStopping, Head, linear_head, top1


# What each constructor parameter accepts (checked when fitting, as scikit-learn does): values
# the registries decide (method names, devices) are checked where those are looked up.
PARAMETERS = {
    "source": [Kind((SourceModel, str), "a SourceModel or a model name")],
    "method": [Kind((str,), "a method name (see headstart.methods.METHODS)")],
    "resolution": [None, Interval(Integral, MIN_RESOLUTION, MAX_RESOLUTION)],
    "epochs": [Interval(Integral, 0, 100_000)],
    "overrides": [None, Kind((dict,), "a dict of class name -> WordNet synset id")],
    "full_finetune": [Kind((bool,), "True or False")],
    "finetune_config": [None, Kind((object,), "a headstart.finetune.FinetuneConfig")],
    "batch_size": [Interval(Integral, 1, None)],
    "progress": [None, Kind((bool,), "True, False or None")],
    "random_state": [Interval(Integral, 0, 2**32 - 1)],
    "device": [None, Kind((str,), "a device name")],
    "backend": [None, Kind((str,), "a backend name")],
    "precision": [None, Kind((str,), "a precision name")],
    "method_options": [None, Kind((dict,), "a dict of the method's options")],
    "recipe": [None, Kind((Recipe,), "a headstart.recipe.Recipe")],
    "class_weight": [None, OneOf(("balanced",)), Kind((dict,), "a dict of class label or name -> weight")],
    "learning_rate": [Interval(Real, 0, None, open_low=True)],
    "early_stopping": [Kind((bool,), "True or False")],
    "validation_fraction": [Interval(Real, 0, 1, open_low=True, open_high=True)],
    "n_iter_no_change": [Interval(Integral, 1, None)],
    "augment": [Interval(Integral, 0, MAX_VIEWS)],
}

# What run.json's finetune report says of the head-only candidate the fine-tuned network had to beat
HEAD_ONLY_CANDIDATE = ("trained with the head-only result's controls (run.json's training: learning rate, "
                       "per-image weights, early stopping, augment views) on the fit images")


class HeadStart:
    """A classifier for new classes built on a pretrained source model, in the scikit-learn manner:
    every option is a constructor parameter stored unchanged (`get_params`, `set_params`,
    `sklearn.base.clone`), checked against `PARAMETERS` when fitting; what fitting learns ends in `_`.

    Parameters
    ----------
    source : SourceModel or str
        The pretrained model, or a built-in name / "package.module:function" spec.
    method : str
        A registered method (`headstart.methods.METHODS`).
    resolution : int or None
        Input size in pixels (default: the source's).
    epochs : int
        Head-training epochs.
    overrides : dict or None
        Class name -> WordNet synset id.
    full_finetune : bool
        Also train the backbone (LP-FT), kept only if it beats the head alone on held-out training
        images; `finetune_config` (a `headstart.finetune.FinetuneConfig`) sets how.
    batch_size : int
        Images per feature-extraction batch.
    progress : bool or None
        Show progress bars; None: for inputs of more than one batch.
    random_state : int
        Seeds training.
    device, backend, precision : str or None
        Where and how image features are computed ("auto", "cpu", "cuda", "cuda:N"; "auto",
        "torch", "onnx"; "fp32", "bf16", "fp16"; see `headstart.data.features.extract`); the fitted
        head does not depend on them.
    method_options : dict or None
        Options of the method overriding its defaults, e.g. ``{"top_k": 5}`` for a transfer-init
        peer; checked by `headstart.methods.create_method`, whose error lists the valid ones.
    recipe : headstart.recipe.Recipe or None
        The default method's constants (None: `headstart.recipe.DEFAULT_RECIPE`); recorded in
        run.json.
    class_weight : "balanced", dict or None
        Weights of the classes in the training loss, as scikit-learn's: "balanced" weighs class c
        by n_images / (n_classes * n_images_of_c); a dict maps class labels (or names) to weights,
        1 for the classes it leaves out. Multiplies `fit`'s sample_weight. The weights enter the
        head's training loss and logistic regression's objective; the methods' starts (imprinted
        class means, the default's trust in the names) are built from the images unweighted.
    learning_rate : float
        Adam's learning rate in head training (default 1e-3).
    early_stopping : bool
        Hold out `validation_fraction` of each class's training images (seeded by random_state;
        classes of one image give none) and stop head training once their cross-entropy has not
        improved for `n_iter_no_change` epochs, keeping the best epoch's head (0: the start).
        The held-out images are not trained on.
    validation_fraction : float
        Share of each class's training images held out for early stopping (default 0.1).
    n_iter_no_change : int
        Epochs without improvement before early stopping ends training (default 10).
    augment : int
        Augmented views per training image (0, the default: none): a horizontal flip, then random
        resized crops, seeded by random_state (`headstart.data.augment`). Each training image's
        feature becomes the mean of its own and its views' features, so every method still sees
        one sample per image (docs/results/augment.md measures it).
    """

    def __init__(self, source: SourceModel | str = DEFAULT_MODEL, method: str = DEFAULT_METHOD, *,
                 resolution: int | None = None, epochs: int = HEAD_EPOCHS, overrides: dict[str, str] | None = None,
                 full_finetune: bool = False, finetune_config=None, batch_size: int = 64,
                 progress: bool | None = None, random_state: int = 0, device: str | None = None,
                 backend: str | None = None, precision: str | None = None, method_options: dict | None = None,
                 recipe: Recipe | None = None, class_weight: str | dict | None = None,
                 learning_rate: float = LEARNING_RATE, early_stopping: bool = False,
                 validation_fraction: float = 0.1, n_iter_no_change: int = 10, augment: int = 0):
        self.source = source
        self.method = method
        self.resolution = resolution
        self.epochs = epochs
        self.overrides = overrides
        self.full_finetune = full_finetune
        self.finetune_config = finetune_config
        self.batch_size = batch_size
        self.progress = progress
        self.random_state = random_state
        self.device = device
        self.backend = backend
        self.precision = precision
        self.method_options = method_options
        self.recipe = recipe
        self.class_weight = class_weight
        self.learning_rate = learning_rate
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.augment = augment

    # -- the scikit-learn estimator protocol ------------------------------------------------------

    @classmethod
    def _parameter_names(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict:
        """The constructor parameters as given (no parameter holds a nested estimator, so `deep`
        changes nothing)."""
        return {name: getattr(self, name) for name in self._parameter_names()}

    def set_params(self, **params) -> "HeadStart":
        """Set constructor parameters (checked when fitting); an unknown name is an error."""
        valid = self._parameter_names()
        for name, value in params.items():
            if name not in valid:
                raise ParameterError(f"HeadStart has no parameter {name!r}; its parameters: {', '.join(valid)}")
            setattr(self, name, value)
        return self

    def __sklearn_tags__(self):
        """scikit-learn's tags (sklearn is imported only when sklearn asks): a classifier of images,
        so not of arbitrary 2-D arrays (only of the source's [N, D] features)."""
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags(), input_tags=InputTags(two_d_array=False, three_d_array=True))

    def __repr__(self) -> str:
        defaults = inspect.signature(type(self).__init__).parameters
        shown = [f"{name}={_short_repr(value)}" for name, value in self.get_params().items()
                 if not _same(value, defaults[name].default)]
        return f"{type(self).__name__}({', '.join(shown)})"

    # -- fitting --------------------------------------------------------------------------------

    def source_model(self) -> SourceModel:
        """The source model, loaded once from its name or spec (again after `set_params(source=...)`)."""
        cached = getattr(self, "_source_model", None)
        if cached is None or cached[0] is not self.source:
            self._source_model = (self.source, as_source(self.source))
        return self._source_model[1]

    def check(self, class_names: Sequence[str], shots: int | None = None) -> FitContext:
        """Everything that can be checked before a feature is extracted: the parameters, the class
        names, that the method can run with `shots` labelled images per class (None: not known
        yet), the image size, and the names' senses (a bad override id is an error). Returns what
        it decided (`headstart.fit_context.FitContext`), which `fit(..., context=)` fits by."""
        check_parameters(self.get_params(), PARAMETERS, "HeadStart")
        return self._decide(class_names, shots)

    def fit(self, X=None, y=None, class_names: Sequence[str] | None = None, *, sample_weight=None,
            features: torch.Tensor | None = None, unlabelled=None, validation=None,
            view_features: torch.Tensor | None = None, context: FitContext | None = None) -> "HeadStart":
        """Fit the head from labelled images, or from the class names alone.

        Parameters
        ----------
        X : images, or float array [N, D] of precomputed features, or None
            N images (see the module docstring); None with `y` None fits from `class_names` alone.
        y : array-like [N] of any labels (strings, integers, ...), or None
            `classes_` becomes the sorted distinct labels. Integers 0..C-1 with C `class_names`
            index the names, so a class may have no image.
        class_names : list of str, optional
            One name per class in `classes_` order (the sorted labels), used to find similar source
            classes; default `str(label)`. Names that are exactly the labels as text, in another
            order, are matched to their labels instead (``["dog", "cat", "car"]`` for labels that
            sort to car, cat, dog names each class by its own label; integer labels always index
            the names). Required without `y`, where the names are the labels.
        sample_weight : array-like [N] of numbers >= 0, optional
            How much each image counts in the training loss (times `class_weight`).
        features : tensor [N, D], optional
            Precomputed features of `X` (saves extracting them).
        unlabelled : images, optional
            Target images without labels (the default recentres its biases on them).
        validation : (images or features, labels), optional
            Evaluated before and after training: `history_` holds [(epoch, accuracy)]; never
            trained on nor used for early stopping.
        view_features : tensor [N * augment, D], optional
            Precomputed features of the `augment` views of each image, image-major
            (`headstart.data.augment.view_rows` order); computed from `X` when not given.
        context : headstart.fit_context.FitContext, optional
            What `check` decided for these class names (saves deciding it again; its parameters
            are the ones `check` checked); without `y`, its class names are the default.

        Returns
        -------
        self
        """
        if context is None:  # a context carries parameters check() checked
            check_parameters(self.get_params(), PARAMETERS, "HeadStart")
        names_only = X is None and features is None
        if names_only and y is not None and len(y):
            raise InputError("labels were given without images")
        X = None if X is None else as_images(X)
        if self.full_finetune and (X is None or is_feature_array(X)):
            raise InputError("full fine-tuning needs the images themselves, not precomputed features")
        x = None if features is None else check_features(features, self.source_model().feature_dim)
        classes, names = (None, class_names) if names_only else \
            label_classes(y, image_count(X) if x is None else len(x), class_names)
        if context is None:  # every decision before any work
            context = self._decide(names)
        elif names is not None and list(context.class_names) != [str(n) for n in names]:
            raise InputError(f"the context was decided for the classes {', '.join(context.class_names)}, not "
                             f"{', '.join(map(str, names))}: pass the one check() made for these classes")
        method, source = context.method, context.source
        self.source_, self.resolution_ = source, context.resolution
        self.model_key_, self.model_digest_ = source.weights_key, source.weights_digest
        names = list(context.class_names)
        if names_only:
            if method.needs_shots:
                raise InputError(f"method {method.name!r} needs labelled images; with names only use "
                                "'headstart', a WordNet measure or 'text'")
            classes = np.asarray(names)  # without labels, the names are the labels
            x, y_index = torch.empty(0, source.feature_dim), torch.empty(0, dtype=torch.long)
        else:
            x = self._features(X) if x is None else x
            y_index = encode_labels(y, classes)
        self.classes_, self.class_names_ = classes, names
        weights = sample_weights(y_index, sample_weight, self.class_weight, classes, names)
        train_x = self._with_views(X, x, view_features)
        pool = None if unlabelled is None else self._features(unlabelled)
        evidence, stopping = self._head_evidence(context, x, train_x, y_index, weights, pool)
        self.sense_details_ = class_senses(evidence) if method.uses_names else []  # printed by the CLI
        # a method that reads no names records each class by name alone: run.json's two lists still bind each other
        self.senses_ = ([r.as_dict() for r in self.sense_details_] if method.uses_names
                        else [{"name": name} for name in names])
        evaluate = None
        if validation is not None:
            val_x = self._features(validation[0])
            val_y = encode_labels(validation[1], classes, len(val_x))
            evaluate = lambda w, b: top1(val_x @ w.T + b, val_y)  # noqa: E731
        (w, b), self.history_, plan = self._fit_head(context, evidence, stopping, evaluate)
        if not (torch.isfinite(w).all() and torch.isfinite(b).all()):
            raise UserError("training diverged (the head holds NaN or infinite values): check that the "
                            "features are finite, or lower the number of epochs")
        self.method_options_, self.record_ = method.json_options(), dict(plan.record)
        self.training_ = self._training_record(sample_weight is not None, stopping)
        self.backbone_state_, self.metrics_ = None, {}  # a loaded run's metrics are not this fit's
        if self.full_finetune:
            refit = functools.partial(self._refit, context, x, train_x, y_index, weights, pool)
            w, b = self._finetune(X, y_index, (w, b), x, context, refit)
        self.head_ = frozen_head(w, b)
        return self

    def _decide(self, class_names, shots: int | None = None) -> FitContext:
        return decide(self.source_model(), self.placement(), self.method, self.method_options, self.recipe,
                      self.resolution, class_names, self.overrides, shots)

    def _with_views(self, X, x: torch.Tensor, view_features: torch.Tensor | None) -> torch.Tensor:
        """Features [N, D] of the training images averaged with their `augment` views' (x itself
        without augmentation): the views' features given, else computed from the images."""
        if not self.augment or not len(x):
            return x
        if view_features is None:
            if X is None or is_feature_array(X):
                raise InputError("augment needs the images themselves, not precomputed features (or pass "
                                 "view_features=)")
            rows = view_rows(range(len(x)), self.augment).ravel()
            views = augmented_split(Split("fit", np.zeros(len(x), np.int64), loader_of(X)), self.random_state)
            view_features = self._features(views.subset(rows, "views"))
        view_features = check_features(view_features, x.shape[1])
        if len(view_features) != len(x) * self.augment:
            raise InputError(f"view_features must be [{len(x) * self.augment}, {x.shape[1]}] ({self.augment} views "
                             f"of {len(x)} images), got {tuple(view_features.shape)}")
        return with_views(x, view_features, self.augment)

    def _head_evidence(self, context: FitContext, x: torch.Tensor, train_x: torch.Tensor, labels: torch.Tensor,
                       weights: torch.Tensor | None, pool: torch.Tensor | None
                       ) -> tuple[Evidence, EarlyStopping | None]:
        """What the head is fitted on, and its early stopping: the images' features train_x [N, D]
        (averaged with their views'), labels [N] and loss weights [N] (or None); with early stopping a
        seeded share of the images is held out of all of it, scored on their unaugmented features x [N, D]."""
        stopping = None
        if self.early_stopping:  # the validation images are held out of everything the head is fitted on
            kept, held = early_stopping_split(labels, self.validation_fraction, self.random_state)
            stopping = EarlyStopping(x[held], labels[held], self.n_iter_no_change)  # scored unaugmented
            train_x, labels, weights = train_x[kept], labels[kept], None if weights is None else weights[kept]
        evidence = Evidence(context.source, list(context.class_names), train_x, labels, dict(context.overrides), pool,
                            context.method.recipe, weights, senses=context.senses)
        return evidence, stopping

    def _fit_head(self, context: FitContext, evidence: Evidence, stopping: EarlyStopping | None, evaluate=None):
        """The head-only training with this estimator's controls -> ((W, b), history, plan)."""
        return fit_head(context.method, evidence, self.random_state, self.epochs, evaluate, lr=self.learning_rate,
                        stopping=stopping)

    def _refit(self, context: FitContext, x: torch.Tensor, train_x: torch.Tensor, labels: torch.Tensor,
               weights: torch.Tensor | None, pool: torch.Tensor | None, part: np.ndarray) -> Head:
        """Full fine-tuning's head-only candidate: the head trained as `fit` trains it (`_head_evidence`
        of these arguments, `_fit_head`), on the images `part` alone (the fine-tuning's fit part)."""
        try:
            evidence, stopping = self._head_evidence(context, x[part], train_x[part], labels[part],
                                                     None if weights is None else weights[part], pool)
        except UserError:  # early stopping found no image to hold out of the fit part
            raise UserError("early stopping needs a validation image within full fine-tuning's fit part: give some "
                            "class more training images, lower the finetune config's val_fraction, or turn early "
                            "stopping off") from None
        return self._fit_head(context, evidence, stopping)[0]

    def _training_record(self, weighted: bool, stopping: EarlyStopping | None) -> dict:
        """The controls as run.json's "training" records them (besides epochs, seed and data)."""
        class_weight = self.class_weight
        if isinstance(class_weight, dict):
            class_weight = {str(k): float(v) for k, v in class_weight.items()}
        return {"learning_rate": self.learning_rate, "class_weight": class_weight, "sample_weight": weighted,
                "augment": self.augment,
                "early_stopping": None if stopping is None else
                {"validation_fraction": self.validation_fraction, **stopping.summary()}}

    def _finetune(self, images, labels: torch.Tensor, head: Head, features: torch.Tensor,
                  context: FitContext, refit: Callable[[np.ndarray], Head]) -> Head:
        """Fine-tune from `head`, kept only if it beats the head-only candidate `refit(fit part)` on
        the held-out images (`headstart.finetune.finetune`)."""
        from headstart.finetune import FinetuneConfig, finetune

        # the network trains where the features were computed: the context's placement
        device = context.placement.device
        config = dataclasses.replace(self.finetune_config or FinetuneConfig(), resolution=context.resolution,
                                     device=str(device), progress=self.progress)
        loaded = loader_of(images)(range(len(images)))
        state, w, b, self.finetune_report_ = finetune(self.source_, loaded, labels, head, config,
                                                      fit_head=refit, features=features, device=device)
        if self.finetune_report_["val_accuracy_head_only"] is not None:  # a candidate was trained
            self.finetune_report_["head_only_candidate"] = HEAD_ONLY_CANDIDATE
        if state is not None:
            self.backbone_state_ = state
            self.source_ = with_backbone(self.source_, state)
        return w, b

    # -- using the fitted head --------------------------------------------------------------------

    def features(self, images) -> torch.Tensor:
        """Features [N, D] of images through the (possibly fine-tuned) backbone."""
        self._check_fitted()
        return self._features(images)

    def _features(self, images) -> torch.Tensor:
        images = as_images(images)
        if is_feature_array(images):
            return check_features(images, self.source_.feature_dim)
        check_image_batch(images)
        progress = len(images) > self.batch_size if self.progress is None else self.progress
        return extract(self.source_, images, self.resolution_, self.batch_size, progress=progress,
                       placement=self.placement())

    def placement(self) -> Placement:
        """Where and how image features are computed (and fine-tuning runs): `device`, `backend` and
        `precision` resolved once (again after `set_params` changes them)."""
        asked = (self.device, self.backend, self.precision)
        cached = getattr(self, "_placement", None)
        if cached is None or cached[0] != asked:
            self._placement = (asked, resolve_placement(*asked))
        return self._placement[1]

    def decision_function(self, images) -> np.ndarray:
        """Logits [N, C] of images (or precomputed features)."""
        x = self.features(images)
        with torch.inference_mode():
            return self.head_(x).numpy()

    def predict_proba(self, images) -> np.ndarray:
        """Probabilities [N, C] (rows sum to 1) of images (or precomputed features)."""
        return torch.softmax(torch.from_numpy(self.decision_function(images)), dim=1).numpy()

    def predict(self, images) -> np.ndarray:
        """Labels [N] (from `classes_`) of images (or precomputed features)."""
        logits = self.decision_function(images)
        return self.classes_[logits.argmax(axis=1)]

    def score(self, images, labels) -> float:
        """Top-1 accuracy on images (or features) with their labels."""
        predicted = self.decision_function(images).argmax(axis=1)
        return float((encode_labels(labels, self.classes_, len(predicted)).numpy() == predicted).mean())

    def to_module(self) -> nn.Module:
        """The fitted classifier as a plain `nn.Module` (a copy): input decoded uint8 RGB images
        [N, H, W, 3] of any size, output probabilities [N, C] in `classes_` order; resizing and
        normalisation are inside, as `predict_proba` does them. `.logits(images)` gives the logits."""
        self._check_fitted()
        network = Classifier(copy.deepcopy(self.source_.backbone), copy.deepcopy(self.head_))
        return ImageClassifier(network.eval().requires_grad_(False), self.resolution_, self.source_.mean,
                               self.source_.std, self.source_.resize).eval()

    # -- saving -----------------------------------------------------------------------------------

    def save(self, folder: str | Path, metrics: dict | None = None, report: str | None = None,
             data: str | None = None, files: dict | None = None) -> Path:
        """Write the run folder (see `headstart.run_folder`); the same format `headstart fit` writes.
        data, files: where the training images came from, recorded in run.json (see
        `headstart.run_folder.fitted_run`)."""
        self._check_fitted()
        return save_run(folder, fitted_run(self, metrics, data, files), report)

    @classmethod
    def load(cls, folder: str | Path, source: SourceModel | str | None = None, *, allow_code: bool = False,
             device: str | None = None, backend: str | None = None, precision: str | None = None) -> "HeadStart":
        """A fitted estimator from a run folder. source: needed only when the run's model cannot be
        reloaded from its spec (a model wrapped with `SourceModel.from_module` without `spec`), or
        was moved (e.g. source="hf:NEWPATH"): any model whose weights digest is the recorded one; or
        when its spec is code ("package.module:function"): a run folder may come from anyone, so the
        code it names is imported and called only with allow_code=True (docs/threat-model.md).
        device, backend, precision: where its features are computed, as in the constructor."""
        run = load_run(folder)
        given, loaded = run_source(run.meta, folder, source, allow_code)
        parameters, fitted = fitted_attributes(run, given, loaded, folder)
        estimator = cls(**parameters, device=device, backend=backend, precision=precision)
        vars(estimator).update(fitted)
        estimator.head_ = frozen_head(run.weight, run.bias)
        return estimator

    def _check_fitted(self) -> None:
        if not hasattr(self, "head_"):
            from headstart.errors import NotFittedError  # made on first use: it may import scikit-learn

            raise NotFittedError("this HeadStart is not fitted yet: call fit(...) or HeadStart.load(folder) first")


# -- small helpers ---------------------------------------------------------------------------------


def frozen_head(w: torch.Tensor, b: torch.Tensor) -> nn.Linear:
    return linear_head((w, b)).eval().requires_grad_(False)


def _short_repr(value) -> str:
    if isinstance(value, SourceModel):
        return f"<SourceModel {value.name}>"
    return repr(value)


def _same(value, default) -> bool:
    return value is default or type(value) is type(default) and value == default
