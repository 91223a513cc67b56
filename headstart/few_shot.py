"""Pure tensor math of the literature's few-shot classifiers on frozen features (SimpleShot, Tip-Adapter,
LP++, CLAP), each adapted to a names head (W_n [C, D], b_n [C]) in place of CLIP's text encoder. No I/O;
the full-batch loops of LP++ and CLAP are here, apart from the product's head training (`train.py`).
Written from the papers; `docs/peers.md` states each adaptation."""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import nn

from headstart.transfer import class_means, logit_spread


def normalised(features: torch.Tensor, mean: torch.Tensor | None = None) -> torch.Tensor:
    """Each feature minus `mean` (CL2N, Wang et al. 2019; None: no centring, L2N), L2-normalised.
    features: [N, D]; mean: [D] -> [N, D]."""
    centred = features.float() if mean is None else features.float() - mean
    return nn.functional.normalize(centred, dim=1)


def nearest_centroid_head(unit: torch.Tensor, labels: torch.Tensor,
                          n_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """SimpleShot's nearest centroid as a head on the normalised features: argmax_k of
    c_k . x - |c_k|^2 / 2 is argmin_k |x - c_k|^2 (|x| = 1 for every x).
    unit: [N, D] normalised; labels: [N] -> (W = centroids [C, D], b [C])."""
    centroids = class_means(unit, labels, n_classes)
    return centroids, -0.5 * centroids.pow(2).sum(dim=1)


def cache_affinity(unit: torch.Tensor, keys: torch.Tensor, beta: float) -> torch.Tensor:
    """Tip-Adapter's affinity exp(-beta (1 - cos)) of each normalised feature with each cache key.
    unit: [N, D]; keys: [M, D] -> [N, M]."""
    return torch.exp(-beta * (1 - unit @ keys.T))


def tip_adapter_choice(names_logits: torch.Tensor, unit: torch.Tensor, labels: torch.Tensor, n_classes: int,
                       alphas: Sequence[float], betas: Sequence[float]) -> tuple[float, float]:
    """(alpha, beta) by leave-one-out on the training shots: each shot classified by its names logits
    plus alpha x spread x the cache of the other shots; best accuracy, ties to the lower mean
    cross-entropy, then to the earlier pair. Needs a class with two shots (the caller decides
    otherwise). names_logits: [N, C]; unit: [N, D] (CL2N); labels: [N]."""
    one_hot = nn.functional.one_hot(labels, n_classes).float()
    spread = logit_spread(names_logits)
    best, best_score = (alphas[0], betas[0]), (-1.0, 0.0)
    for beta in betas:
        affinity = cache_affinity(unit, unit, beta).fill_diagonal_(0.0)  # each shot without its own key
        cache = affinity @ one_hot
        for alpha in alphas:
            logits = names_logits + alpha * spread * cache
            score = ((logits.argmax(dim=1) == labels).float().mean().item(),
                     -nn.functional.cross_entropy(logits, labels).item())
            if score > best_score:
                best, best_score = (alpha, beta), score
    return best


def lp_plus_plus(unit: torch.Tensor, names_logits: torch.Tensor, labels: torch.Tensor, n_classes: int,
                 epochs: int = 300, alpha_every: int = 10,
                 on_epoch: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """LP++ (Huang et al. 2024): logits l_ik = x_i . w_k + alpha_k z_ik (z the names logits), fitted on
    the mean cross-entropy by block-coordinate gradient descent with step sizes 1 / L from each block's
    Lipschitz constant (the softmax cross-entropy's Hessian in the logits is at most 1/2):
    L_w = lambda_max(X^T X) / (2N) and L_alpha = sum_i max_k z_ik^2 / (2N). W starts at the class means
    of the shots, alpha at 1 (the names head alone); W takes a step every epoch, alpha every
    `alpha_every`; the last epoch is kept; `on_epoch(epoch, W, alpha)` sees each epoch's (a learning
    curve). unit: [N, D]; names_logits: [N, C]; labels: [N] -> (W [C, D], alpha [C])."""
    n = len(labels)
    w = class_means(unit, labels, n_classes).requires_grad_(True)
    alpha = torch.ones(n_classes, requires_grad=True)
    step_w = 2 * n / torch.linalg.eigvalsh(unit.T @ unit).max().clamp_min(1e-12).item()
    step_alpha = 2 * n / names_logits.pow(2).max(dim=1).values.sum().clamp_min(1e-12).item()
    for epoch in range(1, epochs + 1):
        update_alpha = epoch % alpha_every == 0
        loss = nn.functional.cross_entropy(unit @ w.T + alpha * names_logits, labels)
        grad_w, grad_alpha = torch.autograd.grad(loss, (w, alpha))
        with torch.no_grad():
            w -= step_w * grad_w
            if update_alpha:
                alpha -= step_alpha * grad_alpha
        if on_epoch is not None:
            on_epoch(epoch, w.detach(), alpha.detach())
    return w.detach(), alpha.detach()


def clap_weights(names_logits: torch.Tensor, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """CLAP's per-class constraint weights lambda_k: the names head's softmax probability of class k,
    averaged over k's shots (0 for a class without shots). names_logits: [N, C]; labels: [N] -> [C]."""
    right = names_logits.softmax(dim=1).gather(1, labels[:, None]).squeeze(1)
    sums = torch.zeros(n_classes).index_add_(0, labels, right)
    return sums / torch.bincount(labels, minlength=n_classes).clamp_min(1)


def clap_gradient(p: torch.Tensor, unit: torch.Tensor, labels: torch.Tensor, rows: torch.Tensor,
                  weights: torch.Tensor, temperature: float, sample_weight: torch.Tensor | None = None) -> torch.Tensor:
    """The gradient in the prototypes p of CLAP's loss, in closed form: the cross-entropy of
    logits = temperature x unit @ q.T, q = p / |p| (weighted as `train.weighted_cross_entropy`), plus
    mean_k lambda_k |p_k - rows_k|^2. With G = d loss / d logits = (softmax - one-hot) x w_i / N,
    d loss / d q = temperature G.T @ unit, taken through the normalisation by its projection
    (I - q_k q_k.T) / |p_k|, plus 2 lambda_k (p_k - rows_k) / C.
    p, rows: [C, D]; unit: [N, D]; labels: [N]; weights: lambda [C] -> [C, D]."""
    norms = p.norm(dim=1, keepdim=True).clamp_min(1e-12)  # as nn.functional.normalize
    q = p / norms
    g = (temperature * unit @ q.T).softmax(dim=1)
    g[torch.arange(len(labels)), labels] -= 1
    g = g / len(labels) if sample_weight is None else g * (sample_weight.to(g.dtype) / len(labels))[:, None]
    grad_q = temperature * g.T @ unit
    grad_p = (grad_q - q * (grad_q * q).sum(dim=1, keepdim=True)) / norms
    return grad_p + (2 / len(p)) * weights[:, None] * (p - rows)


def clap_span_gradient(unit: torch.Tensor, labels: torch.Tensor, rows: torch.Tensor, weights: torch.Tensor,
                       temperature: float, sample_weight: torch.Tensor | None = None) -> Callable:
    """`clap_gradient` in the span of each row and the features: its data term is a combination of the
    features (G.T @ unit), its projection and constraint terms multiples of p_k and rows_k, so prototypes
    started at the rows stay p = a x rows + B @ unit (a [C], B [C, N]) and the gradient is one in (a, B).
    -> (a, B) -> (d loss / d a-part [C], d loss / d B-part [C, N]), each epoch one [N, N] x [N, C] product
    instead of `clap_gradient`'s two [N, D] x [D, C] ones (five times fewer at 10 shots of 1,280-d features).
    unit: [N, D]; labels: [N]; rows: [C, D]; weights: lambda [C]."""
    gram, along, rows_sq = unit @ unit.T, unit @ rows.T, rows.pow(2).sum(dim=1)  # [N, N], [N, C], [C]
    scale = 1 / len(labels) if sample_weight is None else (sample_weight.to(unit.dtype) / len(labels))[:, None]
    pull = (2 / len(rows)) * weights

    def gradient(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        spanned = gram @ b.T  # unit @ (b @ unit).T
        norms = (a * a * rows_sq + 2 * a * (b * along.T).sum(dim=1) + (b * spanned.T).sum(dim=1)).sqrt()
        norms = norms.clamp_min(1e-12)
        cos = (along * a + spanned) / norms  # [N, C]: unit @ q.T
        g = (temperature * cos).softmax(dim=1)
        g[torch.arange(len(labels)), labels] -= 1
        g = g * scale
        along_q = temperature * (g * cos).sum(dim=0) / norms  # (d loss / d q_k . q_k) / |p_k|
        return (pull * (a - 1) - a * along_q / norms,
                (temperature * g.T - b * along_q[:, None]) / norms[:, None] + pull[:, None] * b)

    return gradient


def clap(unit: torch.Tensor, labels: torch.Tensor, rows: torch.Tensor, weights: torch.Tensor, temperature: float,
         epochs: int = 300, lr: float = 0.1, momentum: float = 0.9,
         on_epoch: Callable[[int, torch.Tensor], None] | None = None,
         sample_weight: torch.Tensor | None = None) -> torch.Tensor:
    """CLAP (Silva-Rodriguez et al. 2024): a cosine classifier, logits = temperature x cos(x, p_k), its
    prototypes p started at `rows` (unit names rows) and fitted on cross-entropy + mean_k lambda_k
    |p_k - rows_k|^2 by full-batch SGD (lr, momentum, cosine decay to 0 over `epochs`);
    `on_epoch(epoch, p)` sees each epoch's prototypes (a learning curve); sample_weight [N] weights the
    cross-entropy as `train.weighted_cross_entropy` does. The gradient is in closed form (with fewer
    features than dimensions `clap_span_gradient`, else `clap_gradient`) and the step torch.optim.SGD's
    (`_momentum_sgd`): on these tiny tensors autograd's and the optimiser's per-step overhead was most of
    the fit's time.
    unit: [N, D] (CL2N); labels: [N]; rows: [C, D] unit; weights: lambda [C] -> prototypes [C, D]."""
    if len(unit) < unit.shape[1]:
        gradient = clap_span_gradient(unit, labels, rows, weights, temperature, sample_weight)
        start = (rows.new_ones(len(rows)), rows.new_zeros(len(rows), len(unit)))
        prototypes = lambda a, b: a[:, None] * rows + b @ unit  # noqa: E731
    else:
        gradient = lambda p: (clap_gradient(p, unit, labels, rows, weights, temperature, sample_weight),)  # noqa: E731
        start, prototypes = (rows.clone(),), lambda p: p
    state = _momentum_sgd(start, gradient, epochs, lr, momentum,
                          on_epoch and (lambda epoch, state: on_epoch(epoch, prototypes(*state))))
    return prototypes(*state)


def _momentum_sgd(state: tuple, gradient: Callable, epochs: int, lr: float, momentum: float,
                  on_epoch: Callable[[int, tuple], None] | None) -> tuple:
    """torch.optim.SGD's steps, written out (the momentum buffer starts as the first gradient; no
    dampening, no Nesterov), with the learning rate decayed to 0 over `epochs` along a cosine:
    `gradient(*state)` -> one gradient per tensor of `state`; `on_epoch(epoch, state)` after each."""
    buffers = None
    for epoch in range(epochs):
        step = 0.5 * lr * (1 + math.cos(math.pi * epoch / epochs))
        grads = gradient(*state)
        buffers = grads if buffers is None else tuple(m.mul_(momentum).add_(g) for m, g in zip(buffers, grads))
        state = tuple(x.add(m, alpha=-step) for x, m in zip(state, buffers))
        if on_epoch is not None:
            on_epoch(epoch + 1, state)
    return state


def clap_head(features: torch.Tensor, labels: torch.Tensor, names: tuple[torch.Tensor, torch.Tensor],
              mean: torch.Tensor | None = None, epochs: int = 300, lr: float = 0.1,
              on_epoch: Callable[[int, tuple], None] | None = None,
              sample_weight: torch.Tensor | None = None) -> tuple[tuple[torch.Tensor, torch.Tensor], dict]:
    """CLAP's fit as a linear head on the features: the cosine classifier of `clap` on the features
    centred on `mean` m (None: their own mean) and L2-normalised, started at the unit rows of the
    names head (W_n, b_n), held near them per class by `clap_weights` of the names logits;
    temperature = mean |x - m| x mean |W_n row|. temperature x cos(x - m, p_k) has the argmax of
    (x - m) . p_k / |p_k|, so the head is W = mean |W_n row| x p / |p|, b = -W m (scaled as if every
    |x - m| were the training mean). features: [N, D]; labels: [N] -> ((W [C, D], b [C]), what was
    chosen: temperature, lambda); `on_epoch(epoch, head)` sees each epoch's head."""
    w_n, b_n = names
    mean = features.float().mean(dim=0) if mean is None else mean
    unit = normalised(features, mean)
    row_norm = w_n.norm(dim=1).mean().item()
    temperature = (features - mean).norm(dim=1).mean().item() * row_norm
    weights = clap_weights(features @ w_n.T + b_n, labels, len(w_n))

    def head(p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = row_norm * nn.functional.normalize(p, dim=1)
        return w, -w @ mean

    p = clap(unit, labels, nn.functional.normalize(w_n, dim=1), weights, temperature, epochs, lr,
             on_epoch=on_epoch and (lambda e, p: on_epoch(e, head(p))), sample_weight=sample_weight)
    return head(p), {"temperature": round(temperature, 4), "lambda": [round(v, 4) for v in weights.tolist()]}
