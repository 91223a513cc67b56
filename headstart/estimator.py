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
import inspect
import os
from numbers import Integral, Real
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from headstart.backends import Placement
from headstart.backends import resolve as resolve_placement
from headstart.classifier import Classifier, ImageClassifier
from headstart.data.augment import MAX_VIEWS, augmented_split, view_rows, with_views
from headstart.data.dataset import Split, stratified_split
from headstart.data.features import extract
from headstart.data.folder import ImageFiles
from headstart.data.loading import loader_of
from headstart.defaults import (DEFAULT_METHOD, DEFAULT_MODEL, HEAD_EPOCHS, LEARNING_RATE, MAX_RESOLUTION,
                                MIN_RESOLUTION)
from headstart.errors import InputError, UserError
from headstart.evidence import Evidence
from headstart.methods import create_method, fit_head
from headstart.params import Interval, Kind, OneOf, ParameterError, check_parameters
from headstart.pixels import Resize
from headstart.preprocessing import description
from headstart.recipe import Recipe
from headstart.run_folder import Run, RunMeta, load_run, save_run
from headstart.safe_text import visible
from headstart.senses import class_senses, name_senses
from headstart.sources import load_source, runs_code
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

    def _method(self):
        check_parameters(self.get_params(), PARAMETERS, "HeadStart")
        options = dict(self.method_options or {})
        if self.recipe is not None:
            options["recipe"] = self.recipe
        return create_method(self.method, **options)

    def check(self, class_names: Sequence[str], shots: int) -> None:
        """Everything that can be checked before a feature is extracted: the parameters, the class
        names, that the method can run with `shots` labelled images per class, the image size, and
        the names' senses (a bad override id is an error)."""
        method = self._method()
        names = check_class_names(class_names)
        if method.needs_shots and shots < 1:
            raise InputError(f"method {method.name!r} needs labelled images and some class has none")
        check_resolution(self.resolution or self.source_model().resolution)
        if method.uses_names:  # imprint, logreg, zero, random, visual: no WordNet needed
            name_senses(self.source_model(), names, dict(self.overrides or {}), method.recipe)

    def fit(self, X=None, y=None, class_names: Sequence[str] | None = None, *, sample_weight=None,
            features: torch.Tensor | None = None, unlabelled=None, validation=None,
            view_features: torch.Tensor | None = None) -> "HeadStart":
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

        Returns
        -------
        self
        """
        method = self._method()
        placement = self.placement()  # a bad choice fails before any work
        X = None if X is None else as_images(X)
        source = self.source_ = self.source_model()
        self.model_key_, self.model_digest_ = source.weights_key, source.weights_digest
        self.resolution_ = check_resolution(self.resolution or source.resolution)
        if X is None and features is None:
            if y is not None and len(y):
                raise InputError("labels were given without images")
            if method.needs_shots:
                raise InputError(f"method {method.name!r} needs labelled images; with names only use "
                                "'headstart', a WordNet measure or 'text'")
            names = check_class_names(class_names)
            classes = np.asarray(names)  # without labels, the names are the labels
            x, y_index = torch.empty(0, source.feature_dim), torch.empty(0, dtype=torch.long)
        else:
            x = self._features(X) if features is None else check_features(features, source.feature_dim)
            classes, names = label_classes(y, len(x), class_names)
            y_index = encode_labels(y, classes)
        self.classes_, self.class_names_ = classes, names
        weights = sample_weights(y_index, sample_weight, self.class_weight, classes, names)
        stopping, train_x, train_y = None, self._with_views(X, x, view_features), y_index
        if self.early_stopping:  # the validation images are held out of everything the head is fitted on
            kept, held = early_stopping_split(y_index, self.validation_fraction, self.random_state)
            stopping = EarlyStopping(x[held], y_index[held], self.n_iter_no_change)  # scored unaugmented
            train_x, train_y, weights = train_x[kept], y_index[kept], None if weights is None else weights[kept]
        pool = None if unlabelled is None else self._features(unlabelled)
        overrides = dict(self.overrides or {})
        evidence = Evidence(source, names, train_x, train_y, overrides, pool, method.recipe, weights)
        self.sense_details_ = class_senses(evidence) if method.uses_names else []  # printed by the CLI
        # a method that reads no names records each class by name alone: run.json's two lists still bind each other
        self.senses_ = ([r.as_dict() for r in self.sense_details_] if method.uses_names
                        else [{"name": name} for name in names])
        evaluate = None
        if validation is not None:
            val_x = self._features(validation[0])
            val_y = encode_labels(validation[1], classes, len(val_x))
            evaluate = lambda w, b: top1(val_x @ w.T + b, val_y)  # noqa: E731
        (w, b), self.history_, plan = fit_head(method, evidence, self.random_state, self.epochs, evaluate,
                                               lr=self.learning_rate, stopping=stopping)
        if not (torch.isfinite(w).all() and torch.isfinite(b).all()):
            raise UserError("training diverged (the head holds NaN or infinite values): check that the "
                            "features are finite, or lower the number of epochs")
        self.method_options_, self.record_ = method.json_options(), dict(plan.record)
        self.training_ = self._training_record(sample_weight is not None, stopping)
        self.backbone_state_, self.metrics_ = None, {}  # a loaded run's metrics are not this fit's
        if self.full_finetune:
            if X is None or is_feature_array(X):
                raise InputError("full fine-tuning needs the images themselves, not precomputed features")
            w, b = self._finetune(X, y_index, (w, b), x, method, str(placement.device))
        self.head_ = frozen_head(w, b)
        return self

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
            view_features = self._features(Split("views", views.labels[rows], lambda idx: views.load(rows[list(idx)])))
        view_features = check_features(view_features, x.shape[1])
        if len(view_features) != len(x) * self.augment:
            raise InputError(f"view_features must be [{len(x) * self.augment}, {x.shape[1]}] ({self.augment} views "
                             f"of {len(x)} images), got {tuple(view_features.shape)}")
        return with_views(x, view_features, self.augment)

    def _training_record(self, weighted: bool, stopping: EarlyStopping | None) -> dict:
        """The controls as run.json's "training" records them (besides epochs, seed and data)."""
        class_weight = self.class_weight
        if isinstance(class_weight, dict):
            class_weight = {str(k): float(v) for k, v in class_weight.items()}
        return {"learning_rate": self.learning_rate, "class_weight": class_weight, "sample_weight": weighted,
                "augment": self.augment,
                "early_stopping": None if stopping is None else
                {"validation_fraction": self.validation_fraction, **stopping.summary()}}

    def _finetune(self, images, labels: torch.Tensor, head: Head, features: torch.Tensor, method,
                  device: str) -> Head:
        from headstart.finetune import FinetuneConfig, finetune, method_head

        # the network trains where the features were computed: the device asked for, resolved once in fit
        config = dataclasses.replace(self.finetune_config or FinetuneConfig(), resolution=self.resolution_,
                                     device=device, progress=self.progress)
        loaded = loader_of(images)(range(len(images)))
        fit_head = method_head(method, self.source_, self.class_names_, dict(self.overrides or {}), self.epochs,
                               self.random_state)
        state, w, b, self.finetune_report_ = finetune(self.source_, loaded, labels, head, config,
                                                      fit_head=fit_head, features=features)
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

    def description(self) -> dict:
        """What an exported model needs to say about itself: classes, input, preprocessing, output."""
        from headstart import __version__

        self._check_fitted()
        return {"format": "headstart-export", "headstart": __version__, "model": self.source_.spec,
                "model_key": self.model_key_, "class_names": list(self.class_names_),
                "labels": json_labels(self.classes_), "resolution": self.resolution_,
                "input": "images: uint8 [N, H, W, 3], decoded RGB, any H and W",
                "output": "probabilities: float32 [N, C], columns in class_names order",
                "preprocessing": description(self.resolution_, self.source_.mean, self.source_.std,
                                             self.source_.resize)}

    # -- saving -----------------------------------------------------------------------------------

    def run_meta(self, metrics: dict | None = None, data: str | None = None, files: dict | None = None) -> RunMeta:
        """What run.json records. data: where the training images came from (None: arrays in memory);
        files: which files it trained on and held out (`headstart.held_out.training_files`). metrics: None
        keeps `metrics_` (a loaded run's, so that load -> save keeps them)."""
        from headstart import __version__

        source = self.source_
        training = {"epochs": self.epochs, "learning_rate": self.learning_rate, "seed": self.random_state,
                    "data": data, **getattr(self, "training_", {}), **({"files": files} if files is not None else {})}
        return RunMeta(model=source.spec, model_key=self.model_key_, model_digest=self.model_digest_,
                       resolution=self.resolution_,
                       feature_dim=source.feature_dim, mean=list(source.mean), std=list(source.std),
                       class_names=list(self.class_names_), labels=json_labels(self.classes_), method=self.method,
                       options=self.method_options_, classes=self.senses_, record=self.record_,
                       metrics=dict(getattr(self, "metrics_", {}) if metrics is None else metrics),
                       training=training, resize=source.resize.record(),
                       versions={"headstart": __version__, "torch": torch.__version__})

    def save(self, folder: str | Path, metrics: dict | None = None, report: str | None = None,
             data: str | None = None, files: dict | None = None) -> Path:
        """Write the run folder (see `headstart.run_folder`); the same format `headstart fit` writes.
        data, files: where the training images came from, recorded in run.json (see `run_meta`)."""
        self._check_fitted()
        run = Run(self.run_meta(metrics, data, files), self.head_.weight.detach(), self.head_.bias.detach(),
                  self.backbone_state_)
        return save_run(folder, run, report)

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
        meta = run.meta
        identity = f"weights digest {meta.model_digest}" if meta.model_digest else f"weights key {meta.model_key}"
        recorded = f"{meta.model or meta.model_key} ({identity})"
        if source is None:
            if meta.model is None:
                raise UserError(f"{folder} was made with a model that cannot be reloaded by name: "
                                "pass it, e.g. HeadStart.load(folder, source=SourceModel.from_module(...))")
            if runs_code(meta.model) and not allow_code:
                raise UserError(f"{folder} names its model as code to run ({visible(meta.model)}), which headstart "
                                "does not run for a run folder: if you trust the run and that code, pass "
                                "--allow-code (HeadStart.load(folder, allow_code=True)), or pass the model "
                                "(HeadStart.load(folder, source=...))")
            try:
                given, source = meta.model, as_source(meta.model)
            except UserError as error:
                raise UserError(f"{folder} was made with model {recorded}, which does not load ({error}); if the model "
                                "moved, pass it: --model hf:NEWPATH (HeadStart.load(folder, source=...))") from None
        else:
            given, source = source, as_source(source)
        # runs that record the digest load with the same weights under any name or path; older ones
        # with the model of the same name too
        same = source.weights_digest == meta.model_digest if meta.model_digest else source.weights_key == meta.model_key
        if not same or source.feature_dim != meta.feature_dim:
            raise UserError(f"{folder} was made with model {recorded}, {meta.feature_dim} features, not "
                            f"{source.spec or source.name} (weights digest {source.weights_digest}, "
                            f"{source.feature_dim} features): load it with that model")
        if not (_close(source.mean, meta.mean) and _close(source.std, meta.std)):
            # the head was fitted on features of the recorded normalisation: another shifts every prediction
            raise UserError(f"{folder} was made with normalisation mean {meta.mean}, std {meta.std} (0-255 scale), "
                            f"not mean {list(source.mean)}, std {list(source.std)}: pass a source with the "
                            "recorded one, e.g. SourceModel.from_module(..., mean=..., std=...)")
        digest = source.weights_digest  # the source model's own, before a fine-tuned backbone replaces it
        recorded_resize = Resize.from_record(meta.resize)
        if source.resize != recorded_resize:  # the head was fitted on features of the recorded resize
            source = copy.copy(source)  # the caller's model is left as it is
            source.resize = recorded_resize
        if run.backbone_state is not None:
            source = with_backbone(source, run.backbone_state, where=Path(folder))
        training = meta.training or {}
        estimator = cls(given, meta.method, resolution=meta.resolution,
                        epochs=training.get("epochs", HEAD_EPOCHS), random_state=training.get("seed", 0), device=device,
                        backend=backend, precision=precision, method_options=dict(meta.options),
                        learning_rate=training.get("learning_rate", LEARNING_RATE),
                        class_weight=training.get("class_weight"), augment=training.get("augment", 0),
                        **stopping_parameters(training))
        estimator.source_, estimator.resolution_, estimator.model_key_ = source, meta.resolution, meta.model_key
        estimator.model_digest_ = digest
        estimator.class_names_, estimator.senses_ = list(meta.class_names), list(meta.classes)
        # runs written before labels were recorded predicted class indices: keep them
        estimator.classes_ = np.arange(len(meta.class_names)) if meta.labels is None else np.asarray(meta.labels)
        estimator.method_options_, estimator.record_ = dict(meta.options), dict(meta.record)
        estimator.metrics_, estimator.backbone_state_ = dict(meta.metrics), run.backbone_state
        estimator.head_ = frozen_head(run.weight, run.bias)
        return estimator

    def _check_fitted(self) -> None:
        if not hasattr(self, "head_"):
            from headstart.errors import NotFittedError  # made on first use: it may import scikit-learn

            raise NotFittedError("this HeadStart is not fitted yet: call fit(...) or HeadStart.load(folder) first")


# -- input checks and small helpers ----------------------------------------------------------------


def as_source(source: SourceModel | str) -> SourceModel:
    if isinstance(source, SourceModel):
        return source
    if isinstance(source, str):
        return load_source(source)
    raise UserError(f"source must be a SourceModel or a model name, got {type(source).__name__}")


def with_backbone(source: SourceModel, state: dict, where: Path | None = None) -> SourceModel:
    """A copy of `source` whose backbone holds the fine-tuned `state`."""
    backbone = copy.deepcopy(source.backbone)
    try:
        backbone.load_state_dict(state)
    except (RuntimeError, KeyError) as error:
        place = f"{where}: " if where else ""
        raise UserError(f"{place}the fine-tuned backbone does not fit {source.name} "
                        f"({str(error).splitlines()[0]}); fit the run again") from None
    return dataclasses.replace(source, backbone=backbone)


def frozen_head(w: torch.Tensor, b: torch.Tensor) -> nn.Linear:
    return linear_head((w, b)).eval().requires_grad_(False)


def check_resolution(resolution: int) -> int:
    if not isinstance(resolution, int) or not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
        raise InputError(f"resolution must be an integer from {MIN_RESOLUTION} to {MAX_RESOLUTION} pixels, "
                        f"got {resolution!r}")
    return resolution


def check_class_names(class_names) -> list[str]:
    if class_names is None or isinstance(class_names, str):
        raise InputError("class_names must be a list of at least two names, e.g. ['cat', 'dog']")
    names = [str(n) for n in class_names]
    if len(names) < 2:
        raise InputError(f"a classifier needs at least two classes, got {len(names)}: {names}")
    if any(not n.strip() for n in names):
        raise InputError("class names must not be empty")
    seen, duplicates = set(), []
    for n in names:
        key = " ".join(n.lower().split())
        if key in seen:
            duplicates.append(n)
        seen.add(key)
    if duplicates:
        raise InputError(f"duplicate class names: {', '.join(map(repr, duplicates))}; every class needs its own name")
    return names


def sample_weights(labels: torch.Tensor, sample_weight, class_weight, classes: np.ndarray,
                   names: Sequence[str]) -> torch.Tensor | None:
    """Per-image loss weights [N]: sample_weight times the class weight of each image's class
    ("balanced": N / (C * images of the class), over the C classes that have images; a dict by
    class label or name, 1 for the classes it leaves out) -> None when neither is given."""
    n = len(labels)
    weights = None
    if sample_weight is not None:
        weights = np.asarray(sample_weight.cpu() if isinstance(sample_weight, torch.Tensor) else sample_weight)
        if weights.shape != (n,) or weights.dtype.kind not in "biuf":
            raise ParameterError(f"sample_weight must be {n} numbers (one per image), got shape {weights.shape}")
        if not (np.all(np.isfinite(weights)) and np.all(weights >= 0) and weights.sum() > 0):
            raise ParameterError("sample_weight must be finite numbers >= 0, not all zero")
        weights = torch.as_tensor(weights, dtype=torch.float32)
    if class_weight is None:
        return weights
    counts = torch.bincount(labels, minlength=len(classes)).float()
    if class_weight == "balanced":
        per_class = torch.where(counts > 0, n / (int((counts > 0).sum()) * counts.clamp(min=1)), torch.ones(()))
    else:
        per_class = torch.ones(len(classes))
        by_key = {**{str(c): i for i, c in enumerate(classes.tolist())}, **{nm: i for i, nm in enumerate(names)}}
        for key, value in class_weight.items():
            if str(key) not in by_key:
                raise ParameterError(f"class_weight names {key!r}, which is not a class; the classes: "
                                     f"{', '.join(names)}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
                raise ParameterError(f"class_weight of {key!r} must be a number >= 0, got {value!r}")
            per_class[by_key[str(key)]] = float(value)
    class_part = per_class[labels]
    return class_part if weights is None else weights * class_part


def stopping_parameters(training: dict) -> dict:
    """The early-stopping constructor parameters from run.json's training record."""
    stop = training.get("early_stopping")
    if not stop:
        return {}
    return {"early_stopping": True, "validation_fraction": stop["validation_fraction"],
            "n_iter_no_change": stop["n_iter_no_change"]}


def early_stopping_split(labels: torch.Tensor, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(trained-on indices, validation indices) of labels [N]: a seeded share `fraction` of each
    class's images (at least one of a class with two or more, never its last) held out."""
    kept, held = stratified_split(labels.numpy(), fraction, seed) if len(labels) else ([], [])
    if len(held) == 0:
        raise UserError("early stopping needs a validation image: give some class at least two training images, "
                        "or turn early stopping off")
    return torch.as_tensor(kept), torch.as_tensor(held)


def label_array(labels, n: int) -> np.ndarray:
    """Labels as a 1-D array of N values of one kind; UserError otherwise."""
    if labels is None:
        raise InputError("labels are missing: give one label per image")
    if not isinstance(labels, (np.ndarray, torch.Tensor)) and len({isinstance(v, str) for v in labels}) > 1:
        raise InputError("labels must all be of one kind (all strings or all integers)")  # numpy would make all text
    y = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
    if y.ndim != 1 or len(y) != n:
        raise InputError(f"labels must be a list of {n} values (one per image), got shape {y.shape}")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y) & (y == np.round(y))):
        raise InputError("labels must be class labels (strings or integers), got fractional or infinite numbers")
    if y.dtype.kind not in "biufUSO":
        raise InputError(f"labels must be strings or integers, got {y.dtype}")
    return y


def label_classes(labels, n: int, class_names) -> tuple[np.ndarray, list[str]]:
    """(classes_, class names) for N labels: the sorted distinct labels, named `class_names` (in
    that order) or str(label). Integer labels 0..C-1 index C class names, so a class may have no image.
    Names that are the text labels themselves in another order name their own label: the order of
    a list of the labels is no statement that "car" is to be called "dog" (integer labels keep
    indexing the names, as datasets with classes "0".."10" in folder order need)."""
    y = label_array(labels, n)
    try:
        classes = np.unique(y)
    except TypeError:
        raise InputError("labels must all be of one kind (all strings or all integers)") from None
    if class_names is None:
        return classes, check_class_names([str(c) for c in classes])
    names = check_class_names(class_names)
    if len(names) != len(classes):
        if y.dtype.kind in "iu" and classes.min() >= 0 and classes.max() < len(names):
            classes = np.arange(len(names))
        else:
            raise InputError(f"{len(names)} class names for {len(classes)} distinct labels: give one name per "
                             "distinct label, in sorted label order (or integer labels 0..C-1 indexing the names)")
    as_text = [str(c) for c in classes.tolist()]
    return classes, (as_text if y.dtype.kind in "USO" and sorted(names) == sorted(as_text) else names)


def encode_labels(labels, classes: np.ndarray, n: int | None = None) -> torch.Tensor:
    """Labels -> indices [N] into `classes`; a label not among them is an error."""
    y = label_array(labels, len(labels) if n is None else n)
    try:
        index = np.searchsorted(classes, y) if _sorted(classes) else None
    except TypeError:
        index = None
    if index is None:  # names-only classes keep the given order
        lookup = {c: i for i, c in enumerate(classes.tolist())}
        index = np.array([lookup.get(v, len(classes)) for v in y.tolist()], dtype=np.int64)
    index = np.minimum(index, len(classes) - 1)
    unknown = [v for v, i in zip(y.tolist(), index.tolist()) if classes[i] != v]
    if unknown:
        raise InputError(f"label {unknown[0]!r} is not a class of this classifier; its classes: "
                        f"{', '.join(map(str, classes.tolist()))}")
    return torch.as_tensor(index, dtype=torch.long)


def _sorted(classes: np.ndarray) -> bool:
    return bool(np.all(classes[:-1] < classes[1:]))


def json_labels(classes: np.ndarray) -> list:
    """classes_ as JSON values for run.json (numpy scalars become Python ones)."""
    values = [c.item() if isinstance(c, np.generic) else c for c in classes]
    if not all(isinstance(v, (str, int, float)) for v in values):
        raise InputError("only string or number labels can be saved in a run folder")
    return values


def _close(values, recorded) -> bool:
    return all(abs(a - b) <= 1e-6 * max(1.0, abs(b)) for a, b in zip(values, recorded))


def _short_repr(value) -> str:
    if isinstance(value, SourceModel):
        return f"<SourceModel {value.name}>"
    return repr(value)


def _same(value, default) -> bool:
    return value is default or type(value) is type(default) and value == default


def is_feature_array(images) -> bool:
    return (isinstance(images, (np.ndarray, torch.Tensor)) and images.ndim == 2
            and (images.dtype.is_floating_point if isinstance(images, torch.Tensor)
                 else np.issubdtype(images.dtype, np.floating)))


def check_features(features, dim: int) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(features) if not isinstance(features, torch.Tensor) else features).float()
    if x.ndim != 2 or x.shape[1] != dim:
        raise InputError(f"features must be an array [N, {dim}] for this model, got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise InputError("features hold NaN or infinite values")
    return x


def as_images(images):
    """Image file paths (a list, tuple or array of str / os.PathLike) as `ImageFiles`, loaded on
    demand; any other images unchanged."""
    if isinstance(images, (str, os.PathLike)):
        raise InputError(f"pass a list of image paths, not one path: [{str(images)!r}]")
    if isinstance(images, np.ndarray) and images.dtype.kind not in "OUS":
        return images
    if not isinstance(images, (list, tuple, np.ndarray)) or not len(images) \
            or not all(isinstance(i, (str, os.PathLike)) for i in images):
        return images
    paths = [Path(p).expanduser() for p in images]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise InputError(f"image {missing[0]} does not exist ({len(missing)} of {len(paths)} paths missing)")
    return ImageFiles(paths)


def check_image_batch(images) -> None:
    if isinstance(images, (np.ndarray, torch.Tensor)) and images.ndim < 3:
        raise InputError(f"pass a batch of images (a list, or an array [N, H, W] / [N, H, W, 3]), got an array "
                        f"of shape {tuple(images.shape)}")
    if not hasattr(images, "__len__"):
        raise InputError("images must be a list (or array) of images")
