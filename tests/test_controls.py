"""The training controls a scikit-learn user expects (issue 31): class_weight and sample_weight in
the head's loss and logistic regression's objective, learning_rate, early stopping that keeps the
best epoch's head, and in the CLI --seed, --lr, --class-weight, --early-stopping, --max-per-class."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from headstart import HeadStart
from headstart.recipe import Recipe
from headstart.data import load_image_folder
from headstart.data.features import extract
from headstart.params import ParameterError
from headstart.train import EarlyStopping, HeadTraining, logistic_regression, weighted_cross_entropy
from helpers import ROOT, run_cli, shared_dataset

R = 96


def test_weighted_cross_entropy_counts_a_weight_of_two_as_the_sample_twice():
    g = torch.Generator().manual_seed(0)
    logits, labels = torch.randn(5, 3, generator=g), torch.tensor([0, 1, 2, 1, 0])
    ones = weighted_cross_entropy(logits, labels, torch.ones(5))
    assert torch.allclose(ones, weighted_cross_entropy(logits, labels), atol=1e-7)
    doubled = weighted_cross_entropy(logits, labels, torch.tensor([2.0, 1, 1, 1, 1]))
    twice = [0, 0, 1, 2, 3, 4]
    repeated = torch.nn.functional.cross_entropy(logits[twice], labels[twice], reduction="sum")
    assert torch.allclose(doubled * 5, repeated, atol=1e-6)


def test_logistic_regression_counts_a_weight_of_two_as_the_sample_twice():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(8, 4, generator=g), torch.tensor([0, 0, 0, 1, 1, 1, 2, 2])
    weighted = logistic_regression(x, y, 3, sample_weight=torch.tensor([2.0, 1, 1, 1, 1, 1, 1, 1]))
    repeated = logistic_regression(x[[0, *range(8)]], y[[0, *range(8)]], 3)
    assert torch.allclose(weighted[0], repeated[0], atol=1e-3) and torch.allclose(weighted[1], repeated[1], atol=1e-3)
    assert not torch.allclose(weighted[0], logistic_regression(x, y, 3)[0], atol=1e-3)


def contradicting_validation():
    """Training pushes the head's scale s up forever (separable points); the validation loss
    2 log(1 + e^-s) + log(1 + e^s) falls until s = ln 2, then rises: the last epoch is worse."""
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    stop = EarlyStopping(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]), torch.tensor([0, 1, 1]), patience=5)
    return x, torch.tensor([0, 1]), stop


@pytest.mark.slow
def test_early_stopping_keeps_the_best_epochs_head_when_the_last_is_worse():
    x, y, stop = contradicting_validation()
    init = (torch.zeros(2, 2), torch.zeros(2))
    last, _ = HeadTraining(epochs=200, lr=0.05).fit(x, y, init)
    kept, _ = HeadTraining(epochs=200, lr=0.05, stopping=stop).fit(x, y, init)
    assert 0 < stop.best_epoch < stop.stopped_epoch < 200  # stopped early, after its patience
    assert stop.stopped_epoch == stop.best_epoch + 5
    assert stop.loss(*kept) < stop.loss(*last)
    at_best, _ = HeadTraining(epochs=stop.best_epoch, lr=0.05).fit(x, y, init)
    assert torch.equal(kept[0], at_best[0]) and torch.equal(kept[1], at_best[1])  # that epoch's head itself


def test_early_stopping_history_ends_with_the_kept_head():
    x, y, stop = contradicting_validation()
    evaluate = lambda w, b: stop.loss(w, b)  # noqa: E731
    _, history = HeadTraining(epochs=200, lr=0.05, stopping=stop).fit(x, y, (torch.zeros(2, 2), torch.zeros(2)),
                                                                       evaluate=evaluate)
    assert history[-1] == (stop.stopped_epoch, pytest.approx(stop.best_loss))
    assert [e for e, _ in history] == sorted({e for e, _ in history})


@pytest.mark.parametrize("params, message", [
    (dict(class_weight="auto"), "'class_weight' must be None or one of 'balanced' or a dict"),
    (dict(learning_rate=0.0), "'learning_rate' must be a number > 0, got 0.0"),
    (dict(validation_fraction=1.0), "'validation_fraction' must be a number > 0 and < 1, got 1.0"),
    (dict(n_iter_no_change=0), "'n_iter_no_change' must be an integer >= 1"),
    (dict(early_stopping="yes"), "'early_stopping' must be True or False"),
])
def test_control_parameters_are_checked_like_the_others(params, message):
    with pytest.raises(ParameterError, match=message):
        HeadStart("efficientnet-lite0", **params).fit(None, None, ["cat", "dog"])


@pytest.fixture(scope="module")
def imbalanced():
    """intel-scenes features at R px: 20 buildings and 2 street training images, 20 + 20 test."""
    data = load_image_folder(shared_dataset("intel-scenes"))
    a, b = data.class_names.index("buildings"), data.class_names.index("street")
    source = HeadStart("efficientnet-lite0").source_model()
    train = np.concatenate([np.flatnonzero(data.train.labels == a)[:20], np.flatnonzero(data.train.labels == b)[:2]])
    test = np.flatnonzero(np.isin(data.test.labels, [a, b]))
    features = lambda split, idx: extract(source, split.load(idx), R, 64, progress=False)  # noqa: E731
    name = lambda labels: np.where(labels == a, "buildings", "street")  # noqa: E731
    return features(data.train, train), name(data.train.labels[train]), features(data.test, test), \
        name(data.test.labels[test])


def street_recall(clf, imbalanced) -> float:
    _, _, test_x, test_y = imbalanced
    return float((clf.predict(test_x)[test_y == "street"] == "street").mean())


@pytest.mark.slow
@pytest.mark.parametrize("method", ["headstart", "logreg", "zero"])
def test_balanced_class_weight_raises_the_minority_classes_recall(imbalanced, method):
    x, y, _, _ = imbalanced
    # the default's blend with CLAP's fit already recalls 19 of the 20 minority images unweighted: its
    # trained part alone (cosine_share 0) shows what the weights do; the blend is weighted alike (below)
    options = {"recipe": Recipe(cosine_share=0.0)} if method == "headstart" else {}
    plain = HeadStart("efficientnet-lite0", method, resolution=R, **options).fit(x, y)
    balanced = HeadStart("efficientnet-lite0", method, resolution=R, class_weight="balanced", **options).fit(x, y)
    assert street_recall(balanced, imbalanced) > street_recall(plain, imbalanced) + 0.04  # 1 of 20 more at least
    if method == "headstart":  # the default itself: the weights reach its blend and cost the minority nothing
        plain = HeadStart("efficientnet-lite0", method, resolution=R).fit(x, y)
        balanced = HeadStart("efficientnet-lite0", method, resolution=R, class_weight="balanced").fit(x, y)
        assert not torch.allclose(balanced.head_.weight, plain.head_.weight)
        assert street_recall(balanced, imbalanced) >= street_recall(plain, imbalanced)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["headstart", "logreg"])
def test_sample_weight_is_class_weight_image_by_image(imbalanced, method, tmp_path):
    x, y, _, _ = imbalanced
    balanced = HeadStart("efficientnet-lite0", method, resolution=R, class_weight="balanced").fit(x, y)
    per_image = np.where(y == "street", 22 / (2 * 2), 22 / (2 * 20))
    weighted = HeadStart("efficientnet-lite0", method, resolution=R).fit(x, y, sample_weight=per_image)
    assert torch.allclose(weighted.head_.weight, balanced.head_.weight, atol=1e-5)
    by_dict = HeadStart("efficientnet-lite0", method, resolution=R,
                        class_weight={"street": 22 / 4, "buildings": 22 / 40}).fit(x, y)
    assert torch.allclose(by_dict.head_.weight, balanced.head_.weight, atol=1e-5)
    balanced.save(tmp_path / "run")
    training = json.loads((tmp_path / "run" / "run.json").read_text())["training"]
    assert training["class_weight"] == "balanced" and training["sample_weight"] is False
    assert HeadStart.load(tmp_path / "run").class_weight == "balanced"
    with pytest.raises(ParameterError, match="class_weight names 'car', which is not a class"):
        HeadStart("efficientnet-lite0", method, class_weight={"car": 2}).fit(x, y)
    with pytest.raises(ParameterError, match="sample_weight must be finite numbers >= 0"):
        HeadStart("efficientnet-lite0", method).fit(x, y, sample_weight=-per_image)


@pytest.mark.slow
def test_learning_rate_and_early_stopping_reach_the_head_and_run_json(imbalanced, tmp_path):
    x, y, test_x, test_y = imbalanced
    default = HeadStart("efficientnet-lite0", "zero", resolution=R).fit(x, y)
    faster = HeadStart("efficientnet-lite0", "zero", resolution=R, learning_rate=1e-2).fit(x, y)
    assert not torch.allclose(default.head_.weight, faster.head_.weight)
    faster.save(tmp_path / "lr")
    assert json.loads((tmp_path / "lr" / "run.json").read_text())["training"]["learning_rate"] == 1e-2
    stopped = HeadStart("efficientnet-lite0", "zero", resolution=R, learning_rate=0.1, early_stopping=True,
                        validation_fraction=0.25, n_iter_no_change=3).fit(x, y, validation=(test_x, test_y))
    stopped.save(tmp_path / "stopped")
    record = json.loads((tmp_path / "stopped" / "run.json").read_text())["training"]["early_stopping"]
    assert record["validation_images"] == 5 + 1  # 25 % of 20 buildings, and 1 of the 2 streets
    assert record["stopped_epoch"] < 100 and record["stopped_epoch"] == record["best_epoch"] + 3
    assert stopped.history_[-1][0] == record["stopped_epoch"]
    loaded = HeadStart.load(tmp_path / "stopped")  # a reloaded run refits as it was fitted
    assert {k: loaded.get_params()[k] for k in ("learning_rate", "early_stopping", "validation_fraction",
                                                 "n_iter_no_change")} == \
        {"learning_rate": 0.1, "early_stopping": True, "validation_fraction": 0.25, "n_iter_no_change": 3}
    with pytest.raises(Exception, match="early stopping needs a validation image"):
        HeadStart("efficientnet-lite0", "zero", early_stopping=True).fit(x[[0, 20]], y[[0, 20]])


@pytest.mark.slow
def test_cli_seed_reproduces_and_max_per_class_limits_the_images(tmp_path):
    data = shared_dataset("intel-scenes")
    folder = tmp_path / "two"
    for split in ("train", "test"):
        for name in ("forest", "sea"):
            (folder / split / name).mkdir(parents=True)
            for image in sorted((data / split / name).iterdir())[:6 if split == "train" else 3]:
                (folder / split / name / image.name).symlink_to(image)
    common = ("fit", "--data", folder, "--resolution", 64, "--quiet", "--epochs", 20, "--max-per-class", 3)
    heads = {}
    for run, seed in (("a", 5), ("b", 5), ("c", 6)):
        run_cli(*common, "--seed", seed, "--lr", 0.01, "--out", tmp_path / run)
        heads[run] = (tmp_path / run / "head.safetensors").read_bytes()
    assert heads["a"] == heads["b"] and heads["a"] != heads["c"]  # the seed draws the 3 images of each class
    meta = json.loads((tmp_path / "a" / "run.json").read_text())
    assert meta["metrics"]["train_images"] == 6 and meta["metrics"]["test_images"] == 6
    assert {k: meta["training"][k] for k in ("seed", "learning_rate", "max_per_class", "early_stopping")} == \
        {"seed": 5, "learning_rate": 0.01, "max_per_class": 3, "early_stopping": None}
    per_class = meta["metrics"]["per_class"]  # on the 6 test images, in the model card too
    assert sorted(per_class) == ["forest", "sea"] and per_class["sea"]["support"] == 3
    assert f"| sea | {100 * per_class['sea']['precision']:.1f} % |" in (tmp_path / "a" / "README.md").read_text()
    out = run_cli(*common, "--class-weight", "forest=2,sea=1", "--early-stopping", "--validation-fraction", 0.34,
                  "--out", tmp_path / "d").stdout
    training = json.loads((tmp_path / "d" / "run.json").read_text())["training"]
    assert training["class_weight"] == {"forest": 2.0, "sea": 1.0}
    assert training["early_stopping"]["validation_images"] == 2
    assert f"early stopping: kept epoch {training['early_stopping']['best_epoch']}" in out


@pytest.mark.slow
def test_a_sense_line_names_the_names_choice_before_what_it_was_preferred_over(lite0):
    # issue 31: "lamp.n.02 ... (over lamp.n.02)": the names chose lamp.n.01 over lamp.n.02, the
    # images then chose lamp.n.02, and the line never said which sense the names had chosen
    from headstart.evidence import Evidence
    from headstart.senses import class_senses

    lamp = class_senses(Evidence.names_only(lite0, ["lamp", "chair"]))[0]
    assert lamp.synset_name == "lamp.n.01"
    assert "decided by WordNet's frequency: lamp.n.01 (over lamp.n.02; noun.artifact)" in lamp.how


def test_precision_recall_from_a_confusion_matrix():
    from headstart.evaluate import precision_recall

    # rows true, columns predicted: a 8/10 right and predicted 8 + 3 times; c never predicted, d never shown
    confusion = [[8, 2, 0, 0], [3, 7, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]]
    got = precision_recall(confusion, ["a", "b", "c", "d"])
    assert got["a"] == {"precision": 8 / 11, "recall": 0.8, "support": 10}
    assert got["b"] == {"precision": 0.7, "recall": 0.7, "support": 10}
    assert got["c"] == {"precision": None, "recall": 0.0, "support": 1}
    assert got["d"]["recall"] is None


@pytest.mark.slow
def test_the_model_card_gives_glosses_per_class_metrics_and_the_trust_decision(imbalanced, tmp_path):
    from headstart.evaluate import confusion_matrix, precision_recall
    from headstart.decision_text import decision_lines

    x, y, test_x, test_y = imbalanced
    clf = HeadStart("efficientnet-lite0", resolution=R, class_weight="balanced").fit(x, y)
    predicted = np.searchsorted(clf.classes_, clf.predict(test_x))
    per_class = precision_recall(confusion_matrix(np.searchsorted(clf.classes_, test_y), predicted, 2),
                                 clf.class_names_)
    clf.save(tmp_path / "run", metrics={"test_accuracy": 0.9, "accuracy_before_training": 0.5, "test_images": 40,
                                        "train_images": 22, "per_class": per_class})
    card = (tmp_path / "run" / "README.md").read_text()
    street = next(c for c in clf.senses_ if c["name"] == "street")
    assert f"- street: `{street['synset']}`, {street['gloss']}" in card and "a thoroughfare" in street["gloss"]
    recall = per_class["street"]["recall"]
    assert f"| street | {100 * per_class['street']['precision']:.1f} % | {100 * recall:.1f} % | 20 |" in card
    assert "## How far the names were trusted" in card
    assert all(f"- {line}" in card for line in decision_lines(clf.record_)) and "trust in the names:" in card
    assert "- class weights: balanced (in the training loss)" in card
    clf_logreg = HeadStart("efficientnet-lite0", "logreg", resolution=R).fit(x, y)
    clf_logreg.save(tmp_path / "logreg")
    assert "Method `logreg` records no trust decision" in (tmp_path / "logreg" / "README.md").read_text()


@pytest.mark.slow
def test_a_bad_class_weight_on_the_command_line_is_one_line_naming_the_fix(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    result = subprocess.run([sys.executable, "-m", "headstart", "fit", "--data", str(tmp_path / "data"), "--out",
                             str(tmp_path / "run"), "--class-weight", "sea"], capture_output=True, text=True, env=env)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip() == ('error: --class-weight takes "balanced" or name=weight pairs, e.g. '
                                     '"cat=1,dog=5"; got \'sea\'')
