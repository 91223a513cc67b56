"""The default's blend with CLAP's fit of the names head (issue 32): the blend's math, the plan's
partner applied after training and on each point of the learning curve, and the default as exactly
its two parts (the trained head of `cosine_share=0`, `few_shot.clap_head` of the names head)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from headstart import few_shot, transfer
from headstart.evidence import Evidence
from headstart.methods import Plan, create_method, execute, fit_head, names_head
from headstart.recipe import DEFAULT_RECIPE


def task(n_classes=3, per_class=4, dim=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = 3 * torch.randn(n_classes, dim, generator=g)
    labels = torch.arange(n_classes).repeat_interleave(per_class)
    return centres[labels] + torch.randn(len(labels), dim, generator=g), labels


def test_blend_weighs_two_heads_at_the_same_logit_spread():
    x, _ = task()
    g = torch.Generator().manual_seed(3)
    head, other = (torch.randn(3, 8, generator=g), torch.randn(3, generator=g)), (torch.randn(3, 8, generator=g),
                                                                                   torch.randn(3, generator=g))
    loud = (100 * other[0], 100 * other[1])
    for share in (0.3, 0.5):  # a head's scale does not buy it a larger say: the same logits up to one factor
        a, b = transfer.blend(head, other, share, x), transfer.blend(head, loud, share, x)
        factor = (b[0].norm() / a[0].norm()).item()
        assert factor > 1 and torch.allclose(b[0], factor * a[0], rtol=1e-4, atol=1e-5)
        assert torch.allclose(b[1], factor * a[1], rtol=1e-4, atol=1e-4)
    for share, expected in ((0.0, head), (1.0, other)):  # the ends are the heads themselves, scale and all
        w, b = transfer.blend(head, other, share, x)
        assert torch.allclose(w, expected[0], atol=1e-6) and torch.allclose(b, expected[1], atol=1e-6)
    half = transfer.blend(head, (2 * head[0], 2 * head[1]), 0.5, x)  # the spreads' mean: 1.5 x head's
    assert torch.allclose(half[0], 1.5 * head[0], atol=1e-5)


def test_a_plan_s_partner_is_blended_after_training_and_in_the_learning_curve():
    x, labels = task()
    init = (torch.zeros(3, 8), torch.zeros(3))
    partner = (torch.randn(3, 8, generator=torch.Generator().manual_seed(5)), torch.zeros(3))
    trained, _ = execute(Plan(init), x, labels, epochs=5)
    seen = []
    blended, history = execute(Plan(init, partner=partner, partner_share=0.4), x, labels,
                               lambda w, b: seen.append((w, b)) or 0.5, epochs=5, eval_epochs=(0, 5))
    expected = transfer.blend(trained, partner, 0.4, x)
    assert torch.equal(blended[0], expected[0]) and torch.equal(blended[1], expected[1])
    assert torch.equal(seen[-1][0], expected[0]) and [e for e, _ in history] == [0, 5]
    final, _ = execute(Plan(trained, trains=False, partner=partner, partner_share=0.4), x, labels)  # closed-form
    assert torch.equal(final[0], expected[0]) and torch.equal(final[1], expected[1])


@pytest.mark.slow
def test_the_default_is_its_trained_head_blended_with_clap_s_fit_of_its_names_head(lite0):
    x, labels = task(n_classes=2, per_class=2, dim=lite0.feature_dim, seed=1)
    evidence = Evidence(lite0, ["cat", "dog"], x.abs(), labels)
    alone = create_method("headstart", recipe=dataclasses.replace(DEFAULT_RECIPE, cosine_share=0.0))
    trained, _, plan = fit_head(alone, evidence, 0, epochs=20)
    assert plan.partner is None and "cosine_share" not in plan.record
    names, _ = names_head(evidence, DEFAULT_RECIPE)
    clap, _ = few_shot.clap_head(evidence.features, labels, names, evidence.target_mean(), DEFAULT_RECIPE.cosine_epochs)
    head, _, plan = fit_head(create_method("headstart"), evidence, 0, epochs=20)
    expected = transfer.blend(trained, clap, DEFAULT_RECIPE.cosine_share, evidence.features)
    assert torch.allclose(head[0], expected[0], atol=1e-6) and torch.allclose(head[1], expected[1], atol=1e-5)
    assert plan.record["cosine_share"] == DEFAULT_RECIPE.cosine_share and "CLAP" in plan.record["why"]


def test_clap_s_loss_weights_like_the_head_s():
    x, labels = task()
    unit, rows = few_shot.normalised(x, x.mean(0)), torch.nn.functional.normalize(torch.randn(3, 8), dim=1)
    plain = few_shot.clap(unit, labels, rows, torch.ones(3), 5.0, epochs=10)
    assert torch.allclose(few_shot.clap(unit, labels, rows, torch.ones(3), 5.0, epochs=10,
                                        sample_weight=torch.ones(len(labels))), plain, atol=1e-6)
    weights = torch.where(labels == 0, 3.0, 1.0)
    assert not torch.allclose(few_shot.clap(unit, labels, rows, torch.ones(3), 5.0, epochs=10,
                                            sample_weight=weights), plain, atol=1e-4)


@pytest.mark.slow
def test_with_shots_the_names_head_is_the_mean_of_the_names_only_head_and_the_families_head(lite0):
    x, labels = task(n_classes=3, per_class=2, dim=lite0.feature_dim, seed=2)
    names = ["cat", "school bus", "Faces_easy"]
    evidence = Evidence(lite0, names, x.abs(), labels)
    recipe = lambda mode: dataclasses.replace(DEFAULT_RECIPE, shots_names=mode)  # noqa: E731
    families, made_of = names_head(evidence, recipe("families"))
    assert made_of["families"] == list(DEFAULT_RECIPE.families)
    alone, _ = names_head(Evidence.names_only(lite0, names), DEFAULT_RECIPE)
    agreement, made_of = names_head(evidence, recipe("agreement"))
    assert made_of["families"] == list(DEFAULT_RECIPE.names_only_families) and made_of["recentred"]
    expected = transfer.recentre(*alone, evidence.target_mean())
    assert torch.equal(agreement[0], expected[0]) and torch.allclose(agreement[1], expected[1])
    both, made_of = names_head(evidence, DEFAULT_RECIPE)
    assert DEFAULT_RECIPE.shots_names == "both" and made_of["shots_names"] == "both"
    assert torch.allclose(both[0], (agreement[0] + families[0]) / 2)
    assert torch.allclose(both[1], (agreement[1] + families[1]) / 2)


def test_the_peers_that_read_the_names_head_carry_the_recipe_that_builds_it():
    # a changed names head changes their configuration id, so a resumed bench never mixes their rows
    for name in ("tip-adapter", "lp-plus-plus", "clap"):
        assert create_method(name).json_options() == {"recipe": DEFAULT_RECIPE.as_dict()}
        other = dataclasses.replace(DEFAULT_RECIPE, shots_names="families")
        assert create_method(name, recipe=other).json_options() != create_method(name).json_options()


def test_the_decision_says_when_the_names_head_is_averaged_with_the_families():
    from headstart.decision_text import decision_lines

    record = {"families": ["path", "text"], "top_k": 5, "recentred": True,
              "with_shots": {"families": ["path", "jcn", "text"], "top_k": 3}}
    assert decision_lines(record) == ["names' head: top-5 source rows of path, text, averaged with the top-3 rows of "
                                      "path, jcn, text, biases recentred on the target images"]
    assert "averaged" not in decision_lines({**record, "with_shots": None})[0]
