"""Training a linear head on frozen features: prior-regularised gradient training and the
logistic-regression peer. Features come in as tensors (usually from the feature cache)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn

from headstart.defaults import HEAD_EPOCHS, LEARNING_RATE

Head = tuple[torch.Tensor, torch.Tensor]
EVAL_EPOCHS = (0, 1, 2, 5, 10, 20, 50, 100)  # where learning curves are sampled (0 = before training)


@contextmanager
def single_thread():
    """Head problems are tiny matrices: one thread beats several fighting over the cores (a
    5-shot logistic-regression cross-validation took 167 s on 2 busy threads, 3 s on one)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def linear_head(head: Head) -> nn.Linear:
    """(W [C, D], b [C]) -> an nn.Linear(D, C) holding copies of them."""
    w, b = head
    layer = nn.Linear(w.shape[1], w.shape[0])
    with torch.no_grad():
        layer.weight.copy_(w)
        layer.bias.copy_(b)
    return layer


def top1(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy of logits [N, C] against labels [N] (nan for N = 0)."""
    if len(labels) == 0:
        return float("nan")
    return (logits.argmax(dim=1) == labels).float().mean().item()


def accuracy(w: torch.Tensor, b: torch.Tensor, features: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy of the head (W [C, D], b [C]) on features [N, D] with labels [N]."""
    return top1(features @ w.T + b, labels)


def weighted_cross_entropy(logits: torch.Tensor, labels: torch.Tensor,
                           sample_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy of logits [N, C] against labels [N]: the mean over samples, or with
    sample_weight [N] sum_i w_i * ce_i / N (scikit-learn's weighting: weights of 1 are the mean,
    "balanced" class weights sum to N, and a weight of 2 counts a sample twice)."""
    if sample_weight is None:
        return nn.functional.cross_entropy(logits, labels)
    return (nn.functional.cross_entropy(logits, labels, reduction="none") * sample_weight).sum() / len(labels)


@dataclass
class EarlyStopping:
    """Stop head training once the cross-entropy on held-out validation features [M, D] / labels [M]
    has not fallen by more than `tol` for `patience` epochs, and keep the head of the best epoch
    (0: the start itself). The loss, not the accuracy: on a few validation images accuracy ties for
    many epochs. After training, `best_epoch`, `stopped_epoch` and `best_loss` say what happened."""

    features: torch.Tensor
    labels: torch.Tensor
    patience: int = 10
    tol: float = 1e-4
    best_epoch: int | None = None
    stopped_epoch: int | None = None
    best_loss: float | None = None

    def loss(self, w: torch.Tensor, b: torch.Tensor) -> float:
        with torch.no_grad():
            x = self.features.to(w.device)
            return nn.functional.cross_entropy(x @ w.T + b, self.labels.to(w.device)).item()

    def summary(self) -> dict:
        """What run.json records of the stop."""
        return {"validation_images": len(self.labels), "n_iter_no_change": self.patience,
                "best_epoch": self.best_epoch, "stopped_epoch": self.stopped_epoch,
                "best_validation_loss": None if self.best_loss is None else round(self.best_loss, 6)}


@dataclass
class HeadTraining:
    """Full-batch Adam on cross-entropy (mean over samples, or weighted: `weighted_cross_entropy`)
    + sum_c strength_c / 2 * ||(W_c, b_c) - prior_c||^2, prior_strength a number (every class
    alike) or one per class [C]; optionally `stopping` early on validation features.

    The prior term keeps the transferred head as a prior, not only a starting point: with few
    samples the data term alone pulls the head anywhere that separates them.
    """

    epochs: int = HEAD_EPOCHS
    lr: float = LEARNING_RATE
    prior_strength: float | torch.Tensor = 0.0
    eval_epochs: Sequence[int] = EVAL_EPOCHS
    stopping: EarlyStopping | None = None

    def fit(self, features: torch.Tensor, labels: torch.Tensor, init: Head, prior: Head | None = None,
            evaluate: Callable[[torch.Tensor, torch.Tensor], float] | None = None,
            sample_weight: torch.Tensor | None = None) -> tuple[Head, list[tuple[int, float]]]:
        """features [N, D], labels [N], init (W0 [C, D], b0 [C]) -> ((W, b), [(epoch, accuracy)]).

        `evaluate(W, b)` is called at each epoch in `eval_epochs` (0 = the initial head) and at the
        last epoch; an empty training set returns the initial head unchanged. sample_weight [N]
        weights each sample's loss. With `stopping`, training ends early and the best epoch's head
        is returned; the history's last entry is then that head's, at the epoch training stopped.
        """
        device = features.device  # the head trains where the features are
        w = init[0].detach().float().to(device, copy=True).requires_grad_(True)
        b = init[1].detach().float().to(device, copy=True).requires_grad_(True)
        prior = tuple(p.detach().float().to(device, copy=True) for p in (init if prior is None else prior))
        history: list[tuple[int, float]] = []
        eval_at = set(self.eval_epochs) | {self.epochs}
        if evaluate is not None and 0 in eval_at:
            history.append((0, evaluate(w.detach(), b.detach())))
        if len(labels) == 0:
            return (w.detach(), b.detach()), history
        strength = torch.as_tensor(self.prior_strength, dtype=torch.float32).to(device).expand(len(b))
        pulled = bool((strength > 0).any())
        weight = None if sample_weight is None else sample_weight.float().to(device)
        optimiser = torch.optim.Adam([w, b], lr=self.lr)
        stop = self.stopping
        if stop is not None:
            stop.best_epoch = stop.stopped_epoch = 0
            stop.best_loss, best = stop.loss(w.detach(), b.detach()), (w.detach().clone(), b.detach().clone())
        for epoch in range(1, self.epochs + 1):
            optimiser.zero_grad()
            loss = weighted_cross_entropy(features @ w.T + b, labels, weight)
            if pulled:
                distance = (w - prior[0]).pow(2).sum(dim=1) + (b - prior[1]).pow(2)
                loss = loss + 0.5 * (strength * distance).sum()
            loss.backward()
            optimiser.step()
            if evaluate is not None and epoch in eval_at:
                history.append((epoch, evaluate(w.detach(), b.detach())))
            if stop is not None:
                stop.stopped_epoch, current = epoch, stop.loss(w.detach(), b.detach())
                if current < stop.best_loss - stop.tol:
                    stop.best_epoch, stop.best_loss, best = epoch, current, (w.detach().clone(), b.detach().clone())
                elif epoch - stop.best_epoch >= stop.patience:
                    break
        if stop is None:
            return (w.detach(), b.detach()), history
        if evaluate is not None:  # the last entry: the kept head, at the epoch training stopped
            history = [h for h in history if h[0] != stop.stopped_epoch] + [(stop.stopped_epoch, evaluate(*best))]
        return best, history


def logistic_regression(features: torch.Tensor, labels: torch.Tensor, n_classes: int, c: float = 1.0,
                        max_iter: int = 200, sample_weight: torch.Tensor | None = None) -> Head:
    """Multinomial L2-regularised logistic regression (scikit-learn's objective:
    sum of (sample_weight-weighted) cross-entropies + ||W||^2 / (2C), bias unpenalised), full-batch
    L-BFGS. features [N, D], labels [N] -> (W [C, D], b [C])."""
    w = torch.zeros(n_classes, features.shape[1], device=features.device, requires_grad=True)
    b = torch.zeros(n_classes, device=features.device, requires_grad=True)
    optimiser = torch.optim.LBFGS([w, b], lr=1, max_iter=max_iter, tolerance_grad=1e-6,
                                  tolerance_change=1e-9, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        if sample_weight is None:
            data = nn.functional.cross_entropy(features @ w.T + b, labels, reduction="sum")
        else:
            data = (nn.functional.cross_entropy(features @ w.T + b, labels, reduction="none") * sample_weight).sum()
        loss = data + w.pow(2).sum() / (2 * c)
        loss.backward()
        return loss

    optimiser.step(closure)
    return w.detach(), b.detach()


def fold_ids(labels: torch.Tensor, n_folds: int) -> torch.Tensor:
    """Assign each sample a fold so every class is spread over the folds (i-th member of a class
    -> fold i mod n_folds)."""
    folds = torch.empty_like(labels)
    for c in labels.unique():
        members = (labels == c).nonzero().flatten()
        folds[members] = torch.arange(len(members), device=labels.device) % n_folds
    return folds


def cross_validate(features: torch.Tensor, labels: torch.Tensor, candidates: Sequence,
                   fit: Callable[..., Head], max_folds: int = 5, sample_weight: torch.Tensor | None = None):
    """Pick the candidate with the best mean held-out accuracy over class-stratified folds
    (leave-one-shot-out up to `max_folds`). Ties go to the earliest candidate. Needs >= 2 samples
    in some class; otherwise returns the first candidate. With sample_weight [N], `fit(x, y,
    candidate, weights)` gets each fold's weights and a fold's accuracy is weighted by them."""
    per_class = torch.bincount(labels).max().item() if len(labels) else 0
    n_folds = min(per_class, max_folds)
    if n_folds < 2:
        return candidates[0]
    folds = fold_ids(labels, n_folds)
    best, best_score = candidates[0], -1.0
    for candidate in candidates:
        scores = []
        for k in range(n_folds):
            held = folds == k
            if sample_weight is None:
                w, b = fit(features[~held], labels[~held], candidate)
                scores.append(accuracy(w, b, features[held], labels[held]))
                continue
            w, b = fit(features[~held], labels[~held], candidate, sample_weight[~held])
            right = ((features[held] @ w.T + b).argmax(dim=1) == labels[held]).float()
            scores.append(((right * sample_weight[held]).sum() / sample_weight[held].sum().clamp(min=1e-12)).item())
        score = sum(scores) / len(scores)
        if score > best_score + 1e-9:
            best, best_score = candidate, score
    return best
