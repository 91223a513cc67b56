"""The literature's few-shot peers (issue 32): their math on tiny tensors, their place in the registry,
and on a real folder that SimpleShot tracks imprinting and LR on L2-normalised features tracks logistic
regression."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from headstart import few_shot
from headstart.errors import UserError
from headstart.evidence import Evidence
from headstart.methods import METHODS, Scorer, fit_head, get_method
from headstart.train import single_thread, weighted_cross_entropy
from helpers import shared_dataset

LITERATURE = ("simpleshot", "lr-l2n", "tip-adapter", "lp-plus-plus", "clap")


def tiny_task(seed: int = 0, n_classes: int = 3, shots: int = 4, dim: int = 6):
    generator = torch.Generator().manual_seed(seed)
    centres = 3 * torch.randn(n_classes, dim, generator=generator)
    labels = torch.arange(n_classes).repeat_interleave(shots)
    return centres[labels] + torch.randn(len(labels), dim, generator=generator), labels


def test_cl2n_centres_then_normalises():
    x = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    assert torch.allclose(few_shot.normalised(x), torch.tensor([[0.6, 0.8], [1.0, 0.0]]))
    centred = few_shot.normalised(x, torch.tensor([1.0, 0.0]))  # [2, 4] and [0, 0]
    assert torch.allclose(centred, torch.tensor([[0.2, 0.4], [0.0, 0.0]]) * 5 ** 0.5)


def test_the_nearest_centroid_head_picks_the_nearest_centroid():
    x, labels = tiny_task()
    unit = few_shot.normalised(x, x.mean(dim=0))
    w, b = few_shot.nearest_centroid_head(unit, labels, 3)
    queries = few_shot.normalised(torch.randn(50, 6), x.mean(dim=0))
    nearest = torch.cdist(queries, w).argmin(dim=1)
    assert torch.equal((queries @ w.T + b).argmax(dim=1), nearest)


def test_tip_adapter_leave_one_out_never_sees_a_shot_s_own_key():
    # names logits say every shot is class 0; the cache alone is right only through each shot's own
    # key (every other key is far): a choice that saw its own key would pick a large alpha
    unit = torch.eye(4)
    labels = torch.tensor([0, 1, 1, 0])
    names = torch.tensor([[1.0, 0.0]] * 4)
    assert few_shot.tip_adapter_choice(names, unit, labels, 2, (0.5, 64.0), (5.0,)) == (0.5, 5.0)


def test_tip_adapter_follows_the_cache_when_the_shots_agree_and_the_names_do_not():
    unit = nn.functional.normalize(torch.tensor([[1.0, 0.1], [1.0, -0.1], [0.1, 1.0], [-0.1, 1.0]]), dim=1)
    labels = torch.tensor([0, 0, 1, 1])
    names = torch.tensor([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])  # the names swap the classes
    assert few_shot.tip_adapter_choice(names, unit, labels, 2, (0.5, 64.0), (5.0,)) == (64.0, 5.0)


def test_clap_weights_are_the_names_probability_of_the_right_class_per_class():
    logits = torch.tensor([[2.0, 0.0], [0.0, 0.0], [0.0, 2.0]])
    weights = few_shot.clap_weights(logits, torch.tensor([0, 0, 1]), 3)
    p = torch.tensor(2.0).exp() / (1 + torch.tensor(2.0).exp())
    assert torch.allclose(weights, torch.stack([(p + 0.5) / 2, p, torch.tensor(0.0)]))


def autograd_clap(unit, labels, rows, weights, temperature, epochs, sample_weight=None, lr=0.1, momentum=0.9):
    """The reference: CLAP's loss through autograd, stepped by torch.optim.SGD with the cosine schedule."""
    p = rows.clone().requires_grad_(True)
    optimiser = torch.optim.SGD([p], lr=lr, momentum=momentum)
    for epoch in range(epochs):
        optimiser.param_groups[0]["lr"] = 0.5 * lr * (1 + math.cos(math.pi * epoch / epochs))
        optimiser.zero_grad()
        clap_loss(p, unit, labels, rows, weights, temperature, sample_weight).backward()
        optimiser.step()
    return p.detach()


def clap_loss(p, unit, labels, rows, weights, temperature, sample_weight=None):
    logits = temperature * unit @ nn.functional.normalize(p, dim=1).T
    return weighted_cross_entropy(logits, labels, sample_weight) + (weights * (p - rows).pow(2).sum(dim=1)).mean()


def clap_problem(seed: int = 0, dim: int = 6):
    """Unit features, unit rows, lambda in [0, 1] and sample weights in [0, 2] of a tiny task (12 shots)."""
    x, labels = tiny_task(seed, dim=dim)
    generator = torch.Generator().manual_seed(seed + 10)
    rows = nn.functional.normalize(torch.randn(3, dim, generator=generator), dim=1)
    return (few_shot.normalised(x, x.mean(dim=0)), labels, rows, torch.rand(3, generator=generator),
            2 * torch.rand(len(labels), generator=generator))


def autograd_gradient(p, *problem):
    p = p.clone().requires_grad_()
    return torch.autograd.grad(clap_loss(p, *problem), p)[0]


@pytest.mark.parametrize("weighted", [False, True])
def test_clap_s_closed_form_gradient_is_autograd_s(weighted):
    unit, labels, rows, weights, sample_weight = clap_problem()
    problem = (unit, labels, rows, weights, 7.0, sample_weight if weighted else None)
    generator = torch.Generator().manual_seed(3)
    for scale in (1.0, 0.3, 2.5):  # prototypes off the unit sphere: the normalisation's 1 / |p| counts
        p = scale * (rows + 0.4 * torch.randn(rows.shape, generator=generator))
        assert torch.allclose(few_shot.clap_gradient(p, *problem), autograd_gradient(p, *problem), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("weighted", [False, True])
def test_clap_s_gradient_in_the_span_of_the_rows_and_features_is_autograd_s(weighted):
    unit, labels, rows, weights, sample_weight = clap_problem(dim=20)  # fewer features (12) than dimensions
    problem = (unit, labels, rows, weights, 7.0, sample_weight if weighted else None)
    gradient = few_shot.clap_span_gradient(*problem)
    generator = torch.Generator().manual_seed(3)
    for scale in (1.0, 0.3, 2.5):  # p = a x rows + B @ unit, off the unit sphere
        a, b = scale * (1 + 0.3 * torch.randn(3, generator=generator)), 0.2 * torch.randn(3, 12, generator=generator)
        grad_a, grad_b = gradient(a, b)
        expected = autograd_gradient(a[:, None] * rows + b @ unit, *problem)
        assert torch.allclose(grad_a[:, None] * rows + grad_b @ unit, expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dim", [6, 20], ids=["more features than dimensions", "fewer"])
def test_clap_s_fit_by_hand_is_torch_s_sgd_with_momentum_and_cosine_decay(weighted, dim):
    unit, labels, rows, weights, sample_weight = clap_problem(1, dim)
    sample_weight = sample_weight if weighted else None
    seen = []
    with single_thread():  # tiny tensors: two threads on a busy machine take seconds
        got = few_shot.clap(unit, labels, rows, weights, 10.0, epochs=40, sample_weight=sample_weight,
                            on_epoch=lambda epoch, p: seen.append((epoch, p.clone())))
        expected = autograd_clap(unit, labels, rows, weights, 10.0, 40, sample_weight)
    assert (got - rows).abs().max() > 0.1 and torch.allclose(got, expected, atol=1e-5)
    assert [e for e, _ in seen] == list(range(1, 41)) and torch.equal(seen[-1][1], got)


@pytest.mark.slow
def test_clap_starts_at_the_rows_and_a_strong_constraint_keeps_it_there():
    x, labels = tiny_task()
    unit = few_shot.normalised(x, x.mean(dim=0))
    rows = nn.functional.normalize(torch.randn(3, 6, generator=torch.Generator().manual_seed(1)), dim=1)
    assert torch.equal(few_shot.clap(unit, labels, rows, torch.ones(3), 10.0, epochs=0), rows)
    free = few_shot.clap(unit, labels, rows, torch.zeros(3), 10.0, epochs=30)
    held = few_shot.clap(unit, labels, rows, torch.ones(3), 10.0, epochs=30)  # lambda is a probability: at most 1
    assert (held - rows).norm() < 0.5 * (free - rows).norm()
    assert ((10 * unit @ nn.functional.normalize(free, dim=1).T).argmax(dim=1) == labels).float().mean() == 1.0


@pytest.mark.slow
def test_lp_plus_plus_lowers_the_loss_from_its_start():
    x, labels = tiny_task()
    unit = few_shot.normalised(x)
    names = torch.randn(len(labels), 3, generator=torch.Generator().manual_seed(2))
    loss = lambda w, a: nn.functional.cross_entropy(unit @ w.T + a * names, labels).item()  # noqa: E731
    start = loss(*few_shot.lp_plus_plus(unit, names, labels, 3, epochs=0))
    w, alpha = few_shot.lp_plus_plus(unit, names, labels, 3, epochs=300)
    assert loss(w, alpha) < 0.5 * start and not torch.equal(alpha, torch.ones(3))


def test_the_five_are_registered_after_the_earlier_methods():
    assert tuple(METHODS)[-5:] == LITERATURE and all(METHODS[m].needs_shots for m in LITERATURE)


def test_a_bench_peer_with_a_feature_map_is_refused_as_a_head_to_fit(lite0):
    x, labels = tiny_task(n_classes=2, dim=lite0.feature_dim)
    evidence = Evidence(lite0, ["cat", "dog"], x.abs(), labels)
    with pytest.raises(UserError, match="simpleshot.*headstart bench"):
        fit_head(get_method("simpleshot"), evidence, 0)
    _, history, plan = fit_head(get_method("simpleshot"), evidence, 0, evaluate=Scorer(x.abs(), labels))
    assert plan.features is not None and history[-1][1] == 1.0  # scored on features mapped as the plan maps them


@pytest.mark.slow
def test_clap_s_head_is_linear_on_the_features_and_agrees_with_its_cosine_classifier(lite0):
    x, labels = tiny_task(n_classes=2, dim=lite0.feature_dim)
    evidence = Evidence(lite0, ["cat", "dog"], x.abs(), labels)
    (w, b), _, plan = fit_head(get_method("clap"), evidence, 0)  # no Scorer needed: a head to fit and export
    assert plan.features is None and w.shape == (2, lite0.feature_dim)
    queries, mean = torch.randn(40, lite0.feature_dim).abs(), evidence.target_mean()
    cosine = few_shot.normalised(queries, mean) @ nn.functional.normalize(w, dim=1).T
    assert torch.equal((queries @ w.T + b).argmax(dim=1), cosine.argmax(dim=1))


@pytest.mark.slow
def test_simpleshot_tracks_imprint_and_lr_l2n_tracks_logreg_on_a_real_folder(lite0):
    from headstart.data import load_dataset
    from headstart.protocol import few_shot_indices
    from headstart.data.features import FeatureCache

    data = load_dataset(str(shared_dataset("trashnet")))
    test_x = FeatureCache(lite0, data, "test", 112).get(np.arange(len(data.test.labels)), progress=False)
    scorer, train = Scorer(test_x, torch.from_numpy(data.test.labels)), FeatureCache(lite0, data, "train", 112)
    final = {m: [] for m in ("imprint", "simpleshot", "logreg", "lr-l2n")}
    for seed in range(3):
        idx = few_shot_indices(data.train.labels, 5, seed)
        evidence = Evidence(lite0, data.class_names, train.get(idx, progress=False),
                            torch.from_numpy(data.train.labels[idx]))
        for method, accuracies in final.items():
            accuracies.append(fit_head(get_method(method), evidence, seed, evaluate=scorer)[1][-1][1])
    mean = {m: 100 * np.mean(v) for m, v in final.items()}
    assert mean["imprint"] > 40 and mean["logreg"] > 40  # the folder is learnt at all (6 classes: chance 17 %)
    assert abs(mean["simpleshot"] - mean["imprint"]) < 5 and abs(mean["lr-l2n"] - mean["logreg"]) < 5, mean
