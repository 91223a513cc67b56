import math

import pytest
import torch

from headstart import transfer


def test_top_k_plain_keeps_k_and_normalises():
    s = torch.tensor([[0.1, 0.4, 0.0, 0.5], [0.0, 0.0, 0.0, 0.0]])
    a = transfer.top_k_weights(s, top_k=2)
    assert torch.allclose(a[0], torch.tensor([0.0, 4 / 9, 0.0, 5 / 9]))
    assert torch.allclose(a.sum(dim=1), torch.ones(2))  # an all-zero row spreads evenly
    assert (a[1] > 0).sum() == 2


def test_top_k_refuses_negative_similarities():
    with pytest.raises(ValueError, match=">= 0"):
        transfer.top_k_weights(-torch.tensor([[0.2, 0.4, 0.9]]))


def test_combine_golden():
    w_src = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    b_src = torch.tensor([1.0, -1.0, 0.5])
    a = torch.tensor([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    w, b = transfer.combine(w_src, b_src, a)
    assert torch.allclose(w, torch.tensor([[0.5, 1.0], [3.0, 3.0]]))
    assert torch.allclose(b, torch.tensor([0.0, 0.5]))


def test_imprint_golden():
    features = torch.tensor([[3.0, 0.0], [0.0, 2.0], [0.0, 5.0]])
    labels = torch.tensor([0, 0, 1])
    w, b = transfer.imprint(features, labels, n_classes=2, scale=2.0)
    assert torch.allclose(w, torch.tensor([[math.sqrt(2), math.sqrt(2)], [0.0, 2.0]]))
    assert torch.equal(b, torch.zeros(2))


def test_zero_and_random_heads():
    w, b = transfer.zero_head(3, 4)
    assert not w.any() and not b.any()
    g = torch.Generator().manual_seed(0)
    w, b = transfer.random_head(3, 100, g)
    assert w.abs().max() <= 0.1 and w.std() > 0.04
    w2, _ = transfer.random_head(3, 100, torch.Generator().manual_seed(0))
    assert torch.equal(w, w2)


def test_recentre_makes_the_mean_feature_score_classes_by_their_old_bias_only():
    w = torch.tensor([[1.0, 0.0], [0.0, 3.0]])
    b = torch.tensor([0.5, -0.5])
    mean_feature = torch.tensor([2.0, 1.0])
    w2, b2 = transfer.recentre(w, b, mean_feature)
    assert torch.equal(w2, w)
    assert torch.allclose(b2, torch.tensor([-1.5, -3.5]))
    assert torch.allclose(w2 @ mean_feature + b2, b)


def test_mix_rows_mixes_each_row_by_its_own_share():
    head = (torch.tensor([[1.0, 0.0], [2.0, 2.0]]), torch.tensor([3.0, 1.0]))
    other = (torch.tensor([[0.0, 4.0], [0.0, 0.0]]), torch.tensor([0.0, 5.0]))
    w, b = transfer.mix_rows(head, other, torch.tensor([0.75, 0.0]))
    assert torch.allclose(w, torch.tensor([[0.75, 1.0], [0.0, 0.0]])) and torch.allclose(b, torch.tensor([2.25, 5.0]))


def test_with_rows_puts_source_rows_in_place_and_leaves_the_input_alone():
    head = (torch.zeros(3, 2), torch.zeros(3))
    source = (torch.tensor([[1.0, 1.0], [2.0, 3.0]]), torch.tensor([0.5, -0.5]))
    w, b = transfer.with_rows(head, source, {2: 1})
    assert torch.equal(w, torch.tensor([[0.0, 0.0], [0.0, 0.0], [2.0, 3.0]]))
    assert torch.equal(b, torch.tensor([0, 0, -0.5]))
    assert not head[0].any() and transfer.with_rows(head, source, {})[0].equal(head[0])


def test_class_trust_is_zero_at_chance_one_when_certain_and_shrunk_toward_the_task():
    labels = torch.tensor([0, 1, 2, 3])
    certain = 50.0 * torch.eye(4)  # every sample's own class far ahead
    trust, task = transfer.class_trust(certain, labels, 4)
    assert task == pytest.approx(1.0, abs=1e-4) and torch.allclose(trust, torch.ones(4), atol=1e-4)
    uniform = torch.zeros(4, 4)
    trust, task = transfer.class_trust(uniform, labels, 4)
    assert task == 0.0 and not trust.any()
    # classes 0 and 1 point at their class, 2 and 3 at another: the likeliest temperature makes
    # exp(logit / T) = 3, so p = 1/2 for the right ones (q = 1/3) and 1/6 for the wrong (q = 0); the
    # task's trust is 1/6, and one shot per class is shrunk halfway toward it by one pseudo-shot
    mixed = 50.0 * torch.eye(4)[[0, 1, 3, 2]]
    trust, task = transfer.class_trust(mixed, labels, 4, shrinkage=1.0)
    assert task == pytest.approx(1 / 6, abs=0.01)
    assert torch.allclose(trust, torch.tensor([1 / 4, 1 / 4, 1 / 12, 1 / 12]), atol=0.01)
    assert transfer.class_trust(mixed[:0], labels[:0], 4)[1] == 0.0


def test_leave_one_out_prototypes_never_see_the_sample_they_predict():
    features = torch.tensor([[1.0, 0.0], [1.0, 0.2], [0.0, 1.0]])
    labels = torch.tensor([0, 0, 1])
    logits = transfer.leave_one_out_prototype_logits(features, labels, 2)
    unit = torch.nn.functional.normalize(features, dim=1)
    assert logits[0, 0] == pytest.approx(float(unit[0] @ unit[1]))  # its class's mean without it: the other sample
    assert logits[2, 1] == -1.0  # the only sample of its class: nothing left to predict it
    assert logits[2, 0] == pytest.approx(float(unit[2] @ torch.nn.functional.normalize(unit[0] + unit[1], dim=0)))


def test_names_share_weighs_the_two_heads_by_what_they_predicted():
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    right, chance = 50.0 * torch.eye(4).repeat(2, 1), torch.zeros(8, 4)
    assert transfer.names_share(right, chance, labels) == pytest.approx(1 / 1.25, abs=1e-3)  # p = 1 against 1/4
    assert transfer.names_share(chance, right, labels) == pytest.approx(0.25 / 1.25, abs=1e-3)
    assert transfer.names_share(right, right, labels) == pytest.approx(0.5)
    assert transfer.names_share(right[:2], chance[:2], labels[:2]) == 1.0  # one shot per class: no image evidence


def test_the_class_means_take_what_the_names_give_up_as_their_rule_says():
    # share 0.25: the names give up 0.75 of the start
    assert transfer.class_means_weight("zero", 0.25, 5, 10) == 0.0
    assert transfer.class_means_weight("imprint", 0.25, 5, 10) == 0.75
    assert transfer.class_means_weight("imprint-faded", 0.25, 5, 10) == pytest.approx(0.75 * 0.25)
    # as n0 = 10 shots against k: all of it at one shot, 10/14 of it at 5, 10/29 at 20
    assert transfer.class_means_weight("imprint-shots", 0.25, 1, 10) == 0.75
    assert transfer.class_means_weight("imprint-shots", 0.25, 5, 10) == pytest.approx(0.75 * 10 / 14)
    assert transfer.class_means_weight("imprint-shots", 0.25, 20, 10) == pytest.approx(0.75 * 10 / 29)
    assert transfer.class_means_weight("imprint-shots", 0.25, 0.5, 10) == 0.75  # fewer shots than classes
