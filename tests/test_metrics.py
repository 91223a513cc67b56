"""headstart.metrics against scikit-learn's own numbers (issue 31 item 2): per-class precision,
recall, F1 and support, macro and weighted averages, the report's text layout, the Wilson
interval and the most-confused pairs."""

from __future__ import annotations

import numpy as np
import pytest

from headstart.evaluate import confusion_matrix
from headstart.metrics import classification_report, format_report, most_confused, wilson_interval

sklearn_metrics = pytest.importorskip("sklearn.metrics")


@pytest.mark.parametrize("seed, n_classes, n", [(0, 3, 20), (1, 5, 7), (2, 8, 200), (3, 4, 1)])
def test_report_equals_sklearns(seed, n_classes, n):
    rng = np.random.default_rng(seed)
    true = rng.integers(0, n_classes, n)
    predicted = np.where(rng.random(n) < 0.6, true, rng.integers(0, n_classes, n))
    names = [f"class {c}" for c in range(n_classes)]
    ours = classification_report(confusion_matrix(true, predicted, n_classes), names)
    present = np.union1d(true, predicted)
    theirs = sklearn_metrics.classification_report(true, predicted, labels=present, output_dict=True,
                                                   target_names=[names[c] for c in present], zero_division=0)
    assert list(ours["per_class"]) == [names[c] for c in present]
    for ours_key, theirs_key in [*((names[c], names[c]) for c in present), ("macro_avg", "macro avg"),
                                 ("weighted_avg", "weighted avg")]:
        row = ours["per_class"].get(ours_key) or ours[ours_key]
        for ours_metric, theirs_metric in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score"),
                                           ("support", "support")):
            assert row[ours_metric] == pytest.approx(theirs[theirs_key][theirs_metric], abs=1e-12), \
                (ours_key, ours_metric)
    assert ours["accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(true, predicted))
    text = sklearn_metrics.classification_report(true, predicted, labels=present, zero_division=0,
                                                 target_names=[names[c] for c in present])
    if len(present) == n_classes:  # sklearn prints "micro avg" instead of accuracy for a label subset
        assert format_report(ours).split() == text.split()


def test_a_class_never_predicted_and_one_never_true():
    confusion = np.array([[2, 0, 1], [0, 0, 0], [1, 0, 0]])  # class b: no image; class c: never right
    report = classification_report(confusion, ["a", "b", "c"])
    assert list(report["per_class"]) == ["a", "c"]
    assert report["per_class"]["a"] == {"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3}
    assert report["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert report["macro_avg"]["f1"] == pytest.approx(1 / 3) and report["weighted_avg"]["f1"] == pytest.approx(0.5)


def test_most_confused_pairs_largest_first():
    confusion = np.array([[5, 3, 0], [1, 4, 3], [0, 2, 9]])
    assert most_confused(confusion, ["a", "b", "c"], top=3) == [
        {"true": "a", "predicted": "b", "count": 3}, {"true": "b", "predicted": "c", "count": 3},
        {"true": "c", "predicted": "b", "count": 2}]
    assert most_confused(np.eye(3, dtype=int), ["a", "b", "c"]) == []


def test_wilson_interval():
    low, high = wilson_interval(8, 10)  # the textbook 95 % interval of 8 / 10
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 5)[0] == 0.0 and wilson_interval(5, 5)[1] == 1.0
