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


def test_top_k_softmax_sharpens_with_temperature():
    s = torch.tensor([[0.2, 0.4, 0.9]])
    a = transfer.top_k_weights(s, top_k=2, weighting="softmax", temperature=0.5)
    expected = torch.softmax(torch.tensor([0.9, 0.4]) / 0.5, dim=0)
    assert torch.allclose(a[0, [2, 1]], expected) and a[0, 0] == 0
    with pytest.raises(ValueError, match=">= 0"):
        transfer.top_k_weights(-s)


def test_combine_golden():
    w_src = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    b_src = torch.tensor([1.0, -1.0, 0.5])
    a = torch.tensor([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    w, b = transfer.combine(w_src, b_src, a)
    assert torch.allclose(w, torch.tensor([[0.5, 1.0], [3.0, 3.0]]))
    assert torch.allclose(b, torch.tensor([0.0, 0.5]))


def test_combine_match_norm_restores_source_norms():
    w_src = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    a = torch.tensor([[0.5, 0.5]])
    w, b = transfer.combine(w_src, torch.tensor([2.0, 2.0]), a, match_norm=True)
    assert torch.allclose(w.norm(dim=1), torch.ones(1))
    assert torch.allclose(w, torch.tensor([[1.0, 1.0]]) / math.sqrt(2))
    assert torch.allclose(b, torch.tensor([2.0 * math.sqrt(2)]))  # bias scaled like its row


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


def test_blend_mixes_weights_and_biases_and_checks_the_share():
    head = (torch.tensor([[1.0, 0.0]]), torch.tensor([3.0]))
    other = (torch.tensor([[0.0, 4.0]]), torch.tensor([0.0]))
    w, b = transfer.blend(head, other, 0.25)
    assert torch.allclose(w, torch.tensor([[0.75, 1.0]])) and torch.allclose(b, torch.tensor([2.25]))
    with pytest.raises(ValueError, match="share"):
        transfer.blend(head, other, 1.5)
