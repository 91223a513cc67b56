"""HeadStart as a scikit-learn estimator: parameters, clone, any labels, cross-validation, grid
search, pipelines, scikit-learn's own estimator checks, and parameter checks as data."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from headstart import HeadStart, SourceModel
from headstart.errors import UserError
from headstart.methods import create_method
from headstart.params import ParameterError
from headstart.recipe import Recipe
from own_models import convnet

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone, is_classifier  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402


@pytest.fixture(scope="module")
def source():
    return SourceModel.from_module(convnet(5), resolution=32)


@pytest.fixture(scope="module")
def animals():
    """12 images in three colour families, labelled with strings (red = "cat", ...)."""
    rng = np.random.default_rng(0)
    images, labels = [], []
    for i in range(12):
        colour = i % 3
        image = rng.integers(0, 60, (32, 32, 3), dtype=np.uint8)
        image[..., colour] += 180
        images.append(image)
        labels.append(["cat", "dog", "bird"][colour])
    return np.stack(images), np.array(labels)


def test_parameters_are_explicit_cloneable_and_shown(source):
    clf = HeadStart(source, "imprint", epochs=7, method_options=None, random_state=3)
    params = clf.get_params()
    assert params["epochs"] == 7 and params["method"] == "imprint" and params["source"] is source
    assert "options" not in params and set(params) >= {"resolution", "overrides", "method_options", "batch_size"}
    copy = clone(clf)
    assert copy is not clf and copy.get_params()["epochs"] == 7 and copy.random_state == 3
    assert clf.set_params(epochs=2) is clf and clf.epochs == 2
    with pytest.raises(ParameterError, match="no parameter 'epoch'.*epochs"):
        clf.set_params(epoch=2)
    assert repr(HeadStart()) == "HeadStart()"
    assert repr(HeadStart("efficientnet-lite1", epochs=5)) == "HeadStart(source='efficientnet-lite1', epochs=5)"
    assert repr(clf) == "HeadStart(source=<SourceModel custom>, method='imprint', epochs=2, random_state=3)"
    assert is_classifier(clf)


def test_string_labels_give_sorted_classes_and_predictions_in_them(source, animals, tmp_path):
    x, y = animals
    clf = HeadStart(source, "imprint", epochs=20).fit(x, y)
    assert list(clf.classes_) == ["bird", "cat", "dog"] and clf.class_names_ == ["bird", "cat", "dog"]
    predicted = clf.predict(x)
    assert predicted.dtype.kind == "U" and set(predicted) <= {"bird", "cat", "dog"}
    assert np.array_equal(predicted, clf.classes_[clf.predict_proba(x).argmax(axis=1)])
    assert clf.score(x, y) == np.mean(predicted == y)
    clf.save(tmp_path / "run")
    loaded = HeadStart.load(tmp_path / "run", source=source)
    assert list(loaded.classes_) == ["bird", "cat", "dog"] and np.array_equal(loaded.predict(x), predicted)
    with pytest.raises(UserError, match="label 'cow' is not a class"):
        clf.score(x[:1], ["cow"])


def test_integer_labels_and_names(source, animals):
    x, y = animals
    numbers = np.searchsorted(["bird", "cat", "dog"], y) * 10 + 3  # 3, 13, 23
    clf = HeadStart(source, "imprint", epochs=5).fit(x, numbers, ["bird", "cat", "dog"])
    assert list(clf.classes_) == [3, 13, 23] and clf.class_names_ == ["bird", "cat", "dog"]
    assert set(clf.predict(x).tolist()) <= {3, 13, 23}
    # integers 0..C-1 index C names: a class without images stays a class
    indexed = HeadStart(source, "zero").fit(x[:4], [0, 1, 0, 1], ["a", "b", "c"])
    assert list(indexed.classes_) == [0, 1, 2] and indexed.class_names_ == ["a", "b", "c"]
    assert list(HeadStart(source, "zero").fit(x[:4], [1, 0, 1, 0]).class_names_) == ["0", "1"]


def test_names_that_are_the_labels_in_another_order_name_their_own_labels(source, animals, tmp_path):
    """Issue 29 item 5: ["dog", "cat", "bird"] for labels that sort to bird, cat, dog named the
    class "bird" "dog" (for the similarity, in the run, in predict's output)."""
    x, y = animals
    clf = HeadStart(source, "text", epochs=5).fit(x, y, ["dog", "cat", "bird"])
    assert list(clf.classes_) == ["bird", "cat", "dog"] and clf.class_names_ == ["bird", "cat", "dog"]
    assert [r["name"] for r in clf.senses_] == ["bird", "cat", "dog"]
    clf.save(tmp_path / "run")
    assert HeadStart.load(tmp_path / "run", source=source).class_names_ == ["bird", "cat", "dog"]
    # names that are not the labels keep naming the sorted labels in order; integers keep indexing the names
    assert HeadStart(source, "zero").fit(x, y, ["Vogel", "Katze", "Hund"]).class_names_ == ["Vogel", "Katze", "Hund"]
    indexed = HeadStart(source, "zero").fit(x[:4], [0, 1, 2, 0], ["2", "0", "1"])
    assert list(indexed.classes_) == [0, 1, 2] and indexed.class_names_ == ["2", "0", "1"]


@pytest.mark.parametrize("labels, names, message", [
    (["a", 1, "a", 1], None, "one kind"),
    ([0.5, 1.0, 0.5, 1.0], None, "fractional"),
    (["a", "b", "a", "b"], ["x", "y", "z"], "3 class names for 2 distinct labels"),
    (["a", "a", "a", "a"], None, "at least two classes"),
    (["a", "b"], None, "one per image"),
])
def test_bad_labels_are_user_errors(source, animals, labels, names, message):
    with pytest.raises(UserError, match=message):
        HeadStart(source, "zero").fit(animals[0][:4], labels, names)


def test_cross_validation_grid_search_and_pipeline_with_string_labels(source, animals):
    x, y = animals
    scores = cross_val_score(HeadStart(source, "imprint", epochs=10), x, y, cv=2)
    assert scores.shape == (2,) and np.all((0 <= scores) & (scores <= 1))
    search = GridSearchCV(HeadStart(source, "imprint"), {"epochs": [0, 10]}, cv=2).fit(x, y)
    assert search.best_params_["epochs"] in (0, 10) and list(search.best_estimator_.classes_) == ["bird", "cat", "dog"]
    flip = FunctionTransformer(lambda images: images[:, :, ::-1])  # a preprocessing step before the classifier
    pipeline = make_pipeline(flip, HeadStart(source, "imprint", epochs=5)).fit(x, y)
    assert set(pipeline.predict(x)) <= {"bird", "cat", "dog"}


@pytest.mark.slow
def test_the_default_method_finds_sources_from_the_labels_themselves():
    features = torch.randn(6, 1280)
    clf = HeadStart(epochs=2).fit(features, ["dog", "cat", "dog", "cat", "dog", "cat"])
    assert [r["name"] for r in clf.senses_] == ["cat", "dog"]
    assert all(r["synset"] for r in clf.senses_)  # "cat" and "dog" reached WordNet


# scikit-learn's estimator checks. HeadStart takes images (or the source's [N, D] features), so
# the checks that fit it on arbitrary numeric 2-D arrays cannot apply; scikit-learn skips every
# check when the tags say so, so they run here with a subclass claiming 2-D input, and the
# ones that fit data are expected to fail on the shape of their arrays.
APPLICABLE_CHECKS = {
    "check_estimator_cloneable", "check_estimator_tags_renamed", "check_valid_tag_types", "check_estimator_repr",
    "check_no_attributes_set_in_init", "check_do_not_raise_errors_in_init_or_set_params", "check_mixin_order",
    "check_parameters_default_constructible", "check_get_params_invariance", "check_set_params",
    "check_non_transformer_estimators_n_iter", "check_estimator_sparse_tag",
}


def test_scikit_learn_estimator_checks_that_apply_to_image_input(source):
    from sklearn.utils.estimator_checks import check_estimator

    class OnNumbers(HeadStart):
        def __sklearn_tags__(self):
            tags = super().__sklearn_tags__()
            tags.input_tags.two_d_array = True
            return tags

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(OnNumbers(source, "imprint", epochs=2), on_fail=None, on_skip=None)
    passed = {r["check_name"] for r in results if r["status"] == "passed"}
    assert APPLICABLE_CHECKS <= passed, APPLICABLE_CHECKS - passed


@pytest.mark.parametrize("params, message", [
    (dict(epochs=-5), "'epochs' must be an integer >= 0"),
    (dict(epochs=2.5), "'epochs' must be an integer"),
    (dict(resolution=8), "'resolution' must be None or an integer >= 16 and <= 1024"),
    (dict(batch_size=0), "'batch_size' must be an integer >= 1"),
    (dict(full_finetune="yes"), "'full_finetune' must be True or False"),
    (dict(method="wup", method_options={"top_k": 0}), "'top_k' must be an integer >= 1, got 0"),
    (dict(method="wup", method_options={"topk": 3}), "has no option 'topk'; its options: top_k"),
    (dict(method_options={"top_k": 3}), "method 'headstart' has no option 'top_k'; its options: recipe"),
    (dict(recipe={"top_k": 3}), "'recipe' must be None or a headstart.recipe.Recipe"),
])
def test_parameters_outside_their_range_are_refused_before_any_work(params, message):
    clf = HeadStart("efficientnet-lite0", **params)
    with pytest.raises(UserError, match=message):
        clf.fit(None, None, ["cat", "dog"])
    with pytest.raises(UserError, match=message):
        clf.check(["cat", "dog"], shots=1)


def test_method_options_are_checked_where_methods_are_created():
    assert create_method("wup", top_k=2).options == {"top_k": 2}
    with pytest.raises(ParameterError, match="method 'wup' parameter 'top_k' must be an integer >= 1, got 0"):
        create_method("wup", top_k=0)
    with pytest.raises(ValueError):  # scikit-learn's tools expect ValueError for bad parameters
        create_method("path", top_k=-1)


@pytest.mark.parametrize("fields, message", [
    (dict(top_k=0), "recipe parameter 'top_k' must be an integer >= 1, got 0"),
    (dict(top_k=2.5), "recipe parameter 'top_k' must be an integer >= 1, got 2.5"),
    (dict(prior_weight=-1.0), "recipe parameter 'prior_weight' must be a number >= 0, got -1.0"),
    (dict(trust_power=float("nan")), "recipe parameter 'trust_power' must be a number >= 0, got nan"),
    (dict(families=("path", "nope")),
     r"recipe parameter 'families' must be a non-empty list of path, wup, lch, res, jcn, lin, text, "
     r"got \('path', 'nope'\)"),
    (dict(names_only_families=()), "recipe parameter 'names_only_families' must be a non-empty list of path, wup"),
    (dict(coverage_power=-1.0), "recipe parameter 'coverage_power' must be None or a number >= 0"),
    (dict(images_start="prototypes"),
     "recipe parameter 'images_start' must be one of 'zero', 'imprint', 'imprint-faded', 'imprint-shots'"),
    (dict(images_pseudo_shots=0.0), "recipe parameter 'images_pseudo_shots' must be a number > 0, got 0.0"),
    (dict(vote_measure="text"), "recipe parameter 'vote_measure' must be one of 'path', 'wup', 'lch', 'res', 'jcn', "
                                "'lin', got 'text'"),
    (dict(exact_rows=1), "recipe parameter 'exact_rows' must be True or False, got 1"),
    (dict(images_compete="no"), "recipe parameter 'images_compete' must be True or False, got 'no'"),
])
def test_a_recipe_checks_its_own_fields(fields, message):
    with pytest.raises(UserError, match=message):
        Recipe(**fields)
    assert HeadStart(recipe=Recipe(top_k=5)).get_params()["recipe"].top_k == 5


def test_every_parameter_and_method_option_has_its_constraint():
    from headstart.estimator import PARAMETERS
    from headstart.methods import METHODS, OPTIONS
    from headstart.recipe import RECIPE_PARAMETERS

    assert set(PARAMETERS) == set(HeadStart().get_params())
    assert set(RECIPE_PARAMETERS) == set(vars(Recipe()))
    for kind in METHODS.values():
        assert set(kind.defaults) <= set(OPTIONS), kind.name
        create_method(kind.name)  # the defaults are within the ranges
