import numpy as np
import pytest
import torch

from headstart.train import HeadTraining, accuracy, cross_validate, fold_ids, logistic_regression


def blobs(n_per_class=20, dim=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(3, dim, generator=g) * 3
    labels = torch.arange(3).repeat_interleave(n_per_class)
    return centers[labels] + torch.randn(len(labels), dim, generator=g), labels


@pytest.mark.slow
def test_logistic_regression_matches_scikit_learn():
    from sklearn.linear_model import LogisticRegression

    x, y = blobs()
    for c in (0.1, 1.0):
        w, b = logistic_regression(x, y, 3, c=c)
        ref = LogisticRegression(C=c, tol=1e-10, max_iter=5000).fit(x.numpy(), y.numpy())
        assert np.allclose(w.numpy(), ref.coef_, atol=2e-3)
        # multinomial biases are defined up to a constant; compare centred
        assert np.allclose((b - b.mean()).numpy(), ref.intercept_ - ref.intercept_.mean(), atol=2e-3)


def test_head_training_learns_and_records_curve():
    x, y = blobs()
    init = (torch.zeros(3, 5), torch.zeros(3))
    evaluate = lambda w, b: accuracy(w, b, x, y)  # noqa: E731
    (w, b), history = HeadTraining(epochs=50, lr=0.05, eval_epochs=(0, 1, 10)).fit(x, y, init, evaluate=evaluate)
    assert [e for e, _ in history] == [0, 1, 10, 50]
    assert history[0][1] < 0.5 and history[-1][1] > 0.95


@pytest.mark.slow
def test_prior_strength_pulls_toward_the_prior():
    x, y = blobs()
    prior = (torch.randn(3, 5), torch.zeros(3))
    distances = []
    for strength in (0.0, 1.0, 100.0):
        (w, _), _ = HeadTraining(epochs=200, lr=0.05, prior_strength=strength).fit(x, y, prior)
        distances.append((w - prior[0]).norm().item())
    assert distances[0] > distances[1] > distances[2] and distances[2] < 0.1


@pytest.mark.slow
def test_cross_validation_prefers_the_candidate_that_generalises():
    x, y = blobs(n_per_class=6)
    folds = fold_ids(y, 3)
    assert all(np.bincount(folds[y == c].numpy()).tolist() == [2, 2, 2] for c in range(3))
    def fit(xs, ys, candidate):  # "bad" learns from shuffled labels, "good" from the real ones
        if candidate == "bad":
            ys = ys[torch.randperm(len(ys), generator=torch.Generator().manual_seed(0))]
        return logistic_regression(xs, ys, 3)

    assert cross_validate(x, y, ["bad", "good"], fit) == "good"
    assert cross_validate(x[:3], y[:3], ["first", "second"], fit) == "first"  # one per class: no folds
