"""Pure tensor math that builds a new head (W [C, D], b [C]); no I/O, no optimiser."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["blend", "class_means", "class_means_weight", "class_trust", "combine", "imprint",
           "leave_one_out_prototype_logits", "logit_spread", "mix_rows", "names_share", "random_head", "recentre",
           "scale_rows", "top_k_weights", "with_rows", "zero_head"]


def top_k_weights(similarity: torch.Tensor, top_k: int = 5) -> torch.Tensor:
    """Keep each row's `top_k` largest similarities and normalise them to sum to 1
    (a_k = s_k / sum s).

    similarity: [C_tgt, C_src], >= 0. Returns A [C_tgt, C_src], zero outside the top-k. A row with
    no positive similarity spreads its weight evenly over its top-k (ties broken by index), so it
    never divides by zero.
    """
    if similarity.ndim != 2:
        raise ValueError(f"similarity must be [C_tgt, C_src], got shape {tuple(similarity.shape)}")
    if (similarity < 0).any():
        raise ValueError("similarities must be >= 0")
    k = max(1, min(top_k, similarity.shape[1]))
    values, index = similarity.float().topk(k, dim=1)
    totals = values.sum(dim=1, keepdim=True)
    kept = torch.where(totals > 0, values / totals.clamp_min(1e-12), torch.full_like(values, 1.0 / k))
    return torch.zeros_like(similarity, dtype=torch.float32).scatter_(1, index, kept)


def combine(w_src: torch.Tensor, b_src: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The seed paper's transfer: W[t] = sum_k A[t, k] W_src[k], b[t] = sum_k A[t, k] b_src[k].

    w_src: [C_src, D]; b_src: [C_src]; weights: A [C_tgt, C_src] (rows sum to 1), mostly zero, as
    `top_k_weights` makes them: the product is sparse (a dense A would be slower this way).
    Returns (W [C_tgt, D], b [C_tgt]).
    """
    weights = weights.to_sparse()  # top-k rows: the product skips the zeros (3x faster at 10,000 x 1000)
    return weights @ w_src, weights @ b_src


def recentre(w: torch.Tensor, b: torch.Tensor, mean_feature: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift the biases so the average target image scores every class alike: b - W @ mean_feature.

    A transferred row inherits how strongly its source classes fire on the target domain as a whole
    (grey 28-pixel clothes light up some ImageNet classes more than others); subtracting each row's
    response to the mean feature removes that offset. Needs only unlabelled target images.
    w: [C, D]; b: [C]; mean_feature: [D] -> (W [C, D], b [C]).
    """
    return w, b - w @ mean_feature


def mix_rows(head: tuple[torch.Tensor, torch.Tensor], other: tuple[torch.Tensor, torch.Tensor],
             share: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Row c is share[c] * head's row + (1 - share[c]) * other's, weights and biases alike.
    Heads: (W [C, D], b [C]); share: [C] in [0, 1]."""
    s = share.float()
    return s[:, None] * head[0] + (1 - s[:, None]) * other[0], s * head[1] + (1 - s) * other[1]


def with_rows(head: tuple[torch.Tensor, torch.Tensor], source: tuple[torch.Tensor, torch.Tensor],
              rows: dict[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """A copy of head (W [C, D], b [C]) whose row c is source row rows[c] (source: W [S, D], b [S])."""
    w, b = head[0].clone(), head[1].clone()
    if rows:
        target, picked = torch.tensor(list(rows)), torch.tensor(list(rows.values()))
        w[target], b[target] = source[0][picked], source[1][picked]
    return w, b


def scale_rows(head: tuple[torch.Tensor, torch.Tensor], rows: list[int],
               norm: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
    """A copy of head (W [C, D], b [C]) whose listed rows are rescaled, bias with weight, to the given norm."""
    w, b = head[0].clone(), head[1].clone()
    if rows:
        picked = torch.tensor(rows)
        scale = norm / w[picked].norm(dim=1).clamp_min(1e-12)
        w[picked], b[picked] = w[picked] * scale[:, None], b[picked] * scale
    return w, b


def _best_temperature_probabilities(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """p(label | x) [N] under softmax(logits / T), T the maximum-likelihood temperature on a
    log grid around the logits' spread: a well-ranked but mis-scaled head is judged by its
    ranking. logits: [N, C]; labels: [N]."""
    rows = torch.arange(len(labels))
    temperatures = logits.std().clamp_min(1e-6) * torch.logspace(-2, 2, 41)
    log_p = torch.stack([torch.log_softmax(logits / t, dim=1)[rows, labels] for t in temperatures])
    return log_p[log_p.sum(dim=1).argmax()].exp()


def leave_one_out_prototype_logits(features: torch.Tensor, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """What the images alone predict of each labelled sample without it: the cosine of the sample
    with each class's mean normalised feature, its own class's mean taken without it (-1 when the
    class has no other sample, as at one shot). features: [N, D]; labels: [N] -> logits [N, C]."""
    unit = nn.functional.normalize(features.float(), dim=1)
    sums = torch.zeros(n_classes, features.shape[1]).index_add_(0, labels, unit)
    logits = unit @ nn.functional.normalize(sums, dim=1).T
    others = torch.bincount(labels, minlength=n_classes)[labels] - 1
    own = (unit * nn.functional.normalize(sums[labels] - unit, dim=1)).sum(dim=1)
    logits[torch.arange(len(labels)), labels] = torch.where(others > 0, own, torch.full_like(own, -1.0))
    return logits


def names_share(names_logits: torch.Tensor, image_logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The names' share of the evidence, in [0, 1]: P_names / (P_names + P_images), P the mean
    probability of the right label at each head's best temperature, over the samples whose class
    has another sample (the images' head predicts each leaving it out, so it has nothing to say of
    a class's only sample); 1 when no class has two. [N, C], [N, C], [N] -> float."""
    counted = torch.bincount(labels)[labels] > 1
    if not counted.any():
        return 1.0
    names = _best_temperature_probabilities(names_logits[counted], labels[counted]).mean().item()
    images = _best_temperature_probabilities(image_logits[counted], labels[counted]).mean().item()
    return names / max(names + images, 1e-12)


def class_trust(logits: torch.Tensor, labels: torch.Tensor, n_classes: int,
                shrinkage: float = 1.0) -> tuple[torch.Tensor, float]:
    """How well a head predicts labelled samples it never saw, per class, in [0, 1].

    Each sample scores q = (p - 1/C) / (1 - 1/C) clipped to [0, 1], p its label's probability at
    the best temperature (`_best_temperature_probabilities`): 0 at or below chance, 1 certain. The
    task's trust is the mean q; a class's is the mean q of its samples shrunk toward the task's by
    `shrinkage` pseudo-samples (one shot per class is one noisy sample).
    logits: [N, C] of the head on the samples; labels: [N] -> (trust [C], task trust).
    """
    if len(labels) == 0:
        return torch.zeros(n_classes), 0.0
    chance = 1.0 / n_classes
    q = ((_best_temperature_probabilities(logits, labels) - chance) / (1 - chance)).clamp(0, 1)
    task = q.mean().item()
    sums = torch.zeros(n_classes).index_add_(0, labels, q)
    counts = torch.bincount(labels, minlength=n_classes).float()
    return (sums + shrinkage * task) / (counts + shrinkage).clamp_min(1e-12), task


def class_means_weight(rule: str, share: float, shots_per_class: float, pseudo_shots: float) -> float:
    """How much of the start the images' class means take once the names keep `share` of it
    (`Recipe.images_start`): none ("zero"); 1 - share ("imprint"); (1 - share) x share
    ("imprint-faded"); or (1 - share) x n0 / (n0 + k - 1) for k shots per class and n0 pseudo-shots
    ("imprint-shots": the means count as n0 shots, so they fade as the shots grow)."""
    if rule == "imprint":
        return 1 - share
    if rule == "imprint-faded":
        return (1 - share) * share
    if rule == "imprint-shots":
        return (1 - share) * pseudo_shots / (pseudo_shots + max(shots_per_class - 1, 0.0))
    return 0.0


def class_means(features: torch.Tensor, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Mean of the L2-normalised features of each class. features: [N, D]; labels: [N] -> [C, D]
    (a class without samples gets a zero row)."""
    unit = nn.functional.normalize(features.float(), dim=1)
    sums = torch.zeros(n_classes, features.shape[1]).index_add_(0, labels, unit)
    counts = torch.bincount(labels, minlength=n_classes).clamp_min(1)
    return sums / counts[:, None]


def imprint(features: torch.Tensor, labels: torch.Tensor, n_classes: int,
            scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight imprinting (Qi, Brown & Lowe 2018): each row is the normalised mean of its class's
    normalised embeddings, times `scale`; zero bias. features: [N, D]; labels: [N] ->
    (W [C, D], b [C])."""
    w = nn.functional.normalize(class_means(features, labels, n_classes), dim=1) * scale
    return w, torch.zeros(n_classes)


def zero_head(n_classes: int, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All-zero head (BiT's zero_head): every class starts equally likely."""
    return torch.zeros(n_classes, dim), torch.zeros(n_classes)


def random_head(n_classes: int, dim: int,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """PyTorch's default nn.Linear init: W and b ~ U(-1/sqrt(D), 1/sqrt(D))."""
    bound = 1.0 / math.sqrt(dim)
    w = torch.empty(n_classes, dim).uniform_(-bound, bound, generator=generator)
    b = torch.empty(n_classes).uniform_(-bound, bound, generator=generator)
    return w, b


def logit_spread(logits: torch.Tensor) -> float:
    """The logits' typical spread: the mean over samples of their standard deviation over classes
    (1 with one class or no sample). logits: [N, C]."""
    return logits.std(dim=1).mean().item() if logits.shape[1] > 1 and len(logits) else 1.0


def blend(head: tuple[torch.Tensor, torch.Tensor], other: tuple[torch.Tensor, torch.Tensor], share: float,
          features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(1 - share) x head + share x other, each first divided by its logits' spread on `features`
    (`logit_spread`), so that neither outshouts the other by its scale — the mean of two classifiers'
    logits, itself a linear head — then brought back to the spreads' mean weighted alike, so that its
    probabilities keep the heads' own confidence (share 0 gives `head`, share 1 `other`).
    heads: (W [C, D], b [C]); features: [N, D]."""
    spreads = [max(logit_spread(features @ h[0].T + h[1]), 1e-12) for h in (head, other)]
    scale = (1 - share) * spreads[0] + share * spreads[1]
    weights = ((1 - share) * scale / spreads[0], share * scale / spreads[1])
    return (weights[0] * head[0] + weights[1] * other[0], weights[0] * head[1] + weights[1] * other[1])
