"""Full fine-tuning (LP-FT): start from the head fitted on frozen features, then train backbone and
head together — and keep the result only if it beats head-only training on held-out images.

Why the guard: with a handful of images per class, updating millions of backbone weights can as
easily forget useful ImageNet features as learn target ones. So a stratified validation part of the
training images is held out, head-only and full training both run on the rest, and the full
network is kept only when its validation accuracy is strictly higher (ties -> head-only). With
fewer than `min_per_class` images in some class there is no honest validation part: fine-tuning is
skipped with a message and the caller's head-only result is returned unchanged.

Runs on the GPU when there is one, and under `torchrun` with DistributedDataParallel (see
`headstart.distributed`); every rank returns the same result, only rank 0 should write it.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass
from numbers import Integral, Real
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data.distributed import DistributedSampler
from tqdm.auto import tqdm

from headstart import distributed
from headstart.backends import resolve_device
from headstart.classifier import Classifier
from headstart.data.dataset import stratified_split
from headstart.defaults import MAX_RESOLUTION, MIN_RESOLUTION
from headstart.params import Interval, Kind, ListOf, OneOf, check_parameters
from headstart.sources.model import SourceModel
from headstart.train import Head, accuracy, linear_head, top1

# The head-only stage as a function: the training images' indices (the fit part) -> (W [C, D], b [C])
HeadFitter = Callable[[np.ndarray], Head]
OPTIMIZERS = ("adamw", "sgd")
_AT_LEAST_1, _AT_LEAST_0, _YES_NO = Interval(Integral, 1), Interval(Real, 0), Kind((bool,), "True or False")
# What each field of FinetuneConfig accepts (`headstart.params.check_parameters`)
FINETUNE_PARAMETERS = {
    "epochs": [Interval(Integral, 0)], "batch_size": [_AT_LEAST_1], "optimizer": [OneOf(OPTIMIZERS)],
    "lr": [None, Interval(Real, 0, open_low=True)], "backbone_lr_scale": [_AT_LEAST_0], "weight_decay": [_AT_LEAST_0],
    "momentum": [Interval(Real, 0, 1)], "resolution": [None, Interval(Integral, MIN_RESOLUTION, MAX_RESOLUTION)],
    "val_fraction": [Interval(Real, 0, 1, open_low=True, open_high=True)],
    "min_per_class": [Interval(Integral, 2)],  # an image on each side of the validation split
    "augment": [_YES_NO], "crop_scale": [ListOf(Interval(Real, 0, 1, open_low=True), 2, 2)],
    "seed": [Interval(Integral, 0)], "eval_batch_size": [_AT_LEAST_1],
    "device": [None, Kind((str, torch.device), "a device name")],
    "progress": [None, _YES_NO],  # None (as the estimator passes its own): no bar
}


@dataclass
class FinetuneConfig:
    """Recipe for the full fine-tuning stage. `batch_size` is global: each of N ranks takes
    batch_size // N, so 1 or N processes follow the same optimisation. `lr` is the head's learning
    rate (default 1e-3 for AdamW, 1e-2 for SGD); the backbone's is `backbone_lr_scale` times it."""

    epochs: int = 3
    batch_size: int = 32
    optimizer: str = "adamw"
    lr: float | None = None
    backbone_lr_scale: float = 0.1
    weight_decay: float = 1e-4
    momentum: float = 0.9
    resolution: int | None = None
    val_fraction: float = 0.25
    min_per_class: int = 4
    augment: bool = True
    crop_scale: tuple[float, float] = (0.6, 1.0)
    seed: int = 0
    eval_batch_size: int = 64
    device: str | None = None  # where the network trains: the caller's placement; None: this process's device
    progress: bool = False  # a bar of the training steps on stderr (rank 0)

    def __post_init__(self) -> None:
        check_parameters(vars(self), FINETUNE_PARAMETERS, "FinetuneConfig")

    def head_lr(self) -> float:
        if self.lr is not None:
            return self.lr
        return 1e-3 if self.optimizer == "adamw" else 1e-2


def freeze_batchnorm(module: nn.Module) -> nn.Module:
    """Put every BatchNorm layer in eval mode: batch statistics of a few images would overwrite the
    ImageNet running statistics (and differ between DDP ranks). Their affine weights still train."""
    for child in module.modules():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            child.eval()
    return module


def freeze_unused(model: nn.Module, example: torch.Tensor) -> int:
    """Stop training parameters that get no gradient from `model(example)` (e.g. a wrapped net's own
    classifier kept inside the backbone): DDP refuses parameters without gradients, and AdamW would
    otherwise still decay them. Returns how many tensors were frozen."""
    model(example).sum().backward()
    unused = [p for p in model.parameters() if p.requires_grad and p.grad is None]
    for p in unused:
        p.requires_grad_(False)
    model.zero_grad(set_to_none=True)
    return len(unused)


def augment(x: torch.Tensor, generator: torch.Generator, crop_scale: tuple[float, float] = (0.6, 1.0),
            ratio: tuple[float, float] = (3 / 4, 4 / 3), flip: bool = True) -> torch.Tensor:
    """Light augmentation of a prepared batch x [N, 3, R, R] -> [N, 3, R, R]: per image a random
    resized crop (area fraction in `crop_scale`, aspect ratio in `ratio`) resized back to R, and
    a horizontal flip with probability 1/2. Draws come from `generator` only (reproducible)."""
    n, _, height, width = x.shape
    out = torch.empty_like(x)
    u = torch.rand(n, 5, generator=generator)
    for i in range(n):
        area = crop_scale[0] + (crop_scale[1] - crop_scale[0]) * u[i, 0].item()
        aspect = math.exp(math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * u[i, 1].item())
        h = min(height, max(1, round(math.sqrt(area * height * width / aspect))))
        w = min(width, max(1, round(math.sqrt(area * height * width * aspect))))
        top = int(u[i, 2].item() * (height - h + 1))
        left = int(u[i, 3].item() * (width - w + 1))
        crop = x[i:i + 1, :, top:top + h, left:left + w]
        if (h, w) != (height, width):
            crop = nn.functional.interpolate(crop, size=(height, width), mode="bilinear", align_corners=False)
        if flip and u[i, 4].item() < 0.5:
            crop = crop.flip(-1)
        out[i] = crop[0]
    return out


def class_counts(labels: torch.Tensor) -> dict[int, int]:
    values, counts = torch.as_tensor(labels).unique(return_counts=True)
    return dict(zip(values.tolist(), counts.tolist()))


def logreg_head(features: torch.Tensor, labels: torch.Tensor) -> Head:
    """Default head-only stage: cross-validated logistic regression (the `logreg` method).
    features [N, D], labels [N] -> (W [C, D], b [C]) with C = labels.max() + 1."""
    from headstart.methods import cross_validated_logreg

    return cross_validated_logreg(features, labels, int(labels.max()) + 1)


def prepare(source: SourceModel, images: Sequence, indices, resolution: int | None) -> torch.Tensor:
    """The model inputs [len(indices), 3, R, R] of images[indices]."""
    return source.preprocess([images[i] for i in indices], resolution)


@torch.no_grad()  # not inference_mode: the features feed autograd later (the head-only fit)
def _predict(model: nn.Module, source: SourceModel, images: Sequence, indices: np.ndarray,
             resolution: int | None, batch_size: int, device: torch.device) -> torch.Tensor:
    """Outputs of `model` (kept in eval mode) for images[indices] -> [len(indices), ...] on the CPU."""
    was_training = model.training
    model.eval()
    chunks = [model(prepare(source, images, indices[s:s + batch_size], resolution).to(device)).float().cpu()
              for s in range(0, len(indices), batch_size)]
    model.train(was_training)
    return torch.cat(chunks) if chunks else torch.empty(0)


def sharded_outputs(model: nn.Module, source: SourceModel, images: Sequence, indices, resolution: int | None,
                    batch_size: int = 64, device: torch.device | None = None) -> torch.Tensor:
    """Outputs of `model` for images[indices] with the work split across ranks -> [len(indices), ...]
    on every rank (the model must be the same on every rank)."""
    device = device or distributed.device()
    return distributed.gather_sharded(
        lambda part: _predict(model, source, images, part, resolution, batch_size, device),
        np.asarray(indices, dtype=np.int64), to_all=True)


def training_device(config: FinetuneConfig, device: torch.device | None = None) -> torch.device:
    """Where fine-tuning runs: `device` (the caller's resolved placement), else the config's,
    else this process's device (its own GPU under torchrun)."""
    if device is not None:
        return device
    return resolve_device(config.device) if config.device else distributed.device()


def train_full(source: SourceModel, images: Sequence, labels: torch.Tensor, indices: np.ndarray,
               head: Head, config: FinetuneConfig,
               device: torch.device | None = None) -> tuple[Classifier, list[float]]:
    """Train backbone + head on images[indices] (labels [len(images)]) from `head` (W [C, D], b [C])
    -> (the trained Classifier on the CPU, mean training loss per epoch).

    One process or one DDP replica per rank; the replicas start from rank 0's weights and stay equal.
    device: where it trains (see `training_device`).
    """
    device = training_device(config, device)
    world, rank = distributed.world_size(), distributed.rank()
    model = Classifier(copy.deepcopy(source.backbone), linear_head(head)).to(device)
    model.train()
    freeze_batchnorm(model)
    freeze_unused(model, prepare(source, images, indices[:1], config.resolution).to(device))
    trained: nn.Module = model
    if distributed.is_distributed():
        # BatchNorm is frozen: its buffers are equal after the initial sync and never change.
        trained = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None, forward_sync_buffers=False)
    head_lr = config.head_lr()
    trainable = lambda module: [p for p in module.parameters() if p.requires_grad]  # noqa: E731
    groups = [{"params": trainable(model.backbone), "lr": head_lr * config.backbone_lr_scale},
              {"params": trainable(model.head), "lr": head_lr}]
    if config.optimizer == "adamw":
        optimiser = torch.optim.AdamW(groups, lr=head_lr, weight_decay=config.weight_decay)
    else:
        optimiser = torch.optim.SGD(groups, lr=head_lr, momentum=config.momentum, weight_decay=config.weight_decay)

    sampler = DistributedSampler(np.asarray(indices), num_replicas=world, rank=rank, shuffle=True,
                                 seed=config.seed)
    local_batch = max(1, config.batch_size // world)
    steps_per_epoch = math.ceil(sampler.num_samples / local_batch)
    total = max(1, steps_per_epoch * config.epochs)
    # Cosine decay to zero over all steps: no warm-up needed, the head already fits (LP stage).
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 0.5 * (1 + math.cos(math.pi * step / total)))
    indices = np.asarray(indices)
    losses = []
    bar = tqdm(total=steps_per_epoch * config.epochs, desc="fine-tuning", unit="step",
               disable=not (config.progress and distributed.is_main()))
    with bar, torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(config.seed * 1000 + rank)  # drop-connect draws; the same seed gives the same run
        for epoch in range(config.epochs):
            sampler.set_epoch(epoch)
            order = indices[list(iter(sampler))]
            generator = torch.Generator().manual_seed(config.seed * 100_003 + epoch * 101 + rank)
            total_loss, seen = 0.0, 0
            for start in range(0, len(order), local_batch):
                batch = order[start:start + local_batch]
                x = prepare(source, images, batch, config.resolution)
                if config.augment:
                    x = augment(x, generator, config.crop_scale)
                y = labels[batch].to(device)
                loss = nn.functional.cross_entropy(trained(x.to(device)), y)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                schedule.step()
                total_loss += loss.item() * len(batch)
                seen += len(batch)
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}", refresh=False)
                bar.update()
            losses.append(total_loss / max(1, seen))
    return model.cpu().eval(), losses


def finetune(source: SourceModel, images: Sequence, labels, init_head: Head,
             config: FinetuneConfig | None = None, fit_head: HeadFitter | None = None, *,
             features: torch.Tensor, device: torch.device | None = None
             ) -> tuple[dict | None, torch.Tensor, torch.Tensor, dict]:
    """LP-FT with a never-worse guard.

    source: the pretrained model (left untouched); images: N uint8 / PIL images; labels [N] in
    0..C-1; init_head: the head-only (LP) result on all N images, (W [C, D], b [C]).
    fit_head: the head-only stage as a function of the indices of the images it trains on -> (W, b),
    re-run on the non-validation part so both candidates see the same images; it should train as
    init_head was trained (the estimator's trains with its method and controls: learning rate,
    per-image weights, early stopping carved from those images, augment views). Default: logistic
    regression (`logreg_head`) on features[indices]. features: frozen features [N, D] of the images at
    config.resolution, as the caller extracted them (`headstart.data.features`: the FeatureCache,
    sharded across ranks under torchrun, or `extract`). device: where the network trains
    (`training_device`: the caller's resolved placement, else config.device, else this process's).

    Returns (backbone_state, W [C, D], b [C], report). When the full network wins on validation,
    backbone_state is its backbone's state dict (for `save_run`) and (W, b) its head, both trained on
    the non-validation part; otherwise backbone_state is None and (W, b) is `init_head`. report
    holds both validation accuracies, which was kept and why. Same result on every rank.
    """
    config = config or FinetuneConfig()
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    fit_head = fit_head or (lambda part: logreg_head(features[part], labels[part]))
    w0, b0 = (t.detach().float().cpu() for t in init_head)
    report = {"config": asdict(config), "world_size": distributed.world_size(), "kept": "head-only",
              "finetuned": False, "val_accuracy_head_only": None, "val_accuracy_full": None}
    counts = class_counts(labels)
    missing = [c for c in range(w0.shape[0]) if counts.get(c, 0) < config.min_per_class]
    if missing:
        fewest = min(range(w0.shape[0]), key=lambda c: counts.get(c, 0))
        report["message"] = (
            f"full fine-tuning skipped: class {fewest} has {counts.get(fewest, 0)} training images and "
            f"{len(missing)} class(es) have fewer than {config.min_per_class}, too few to hold out a "
            f"validation part that could show fine-tuning helps; kept the head-only result")
        return None, w0, b0, report

    fit_idx, val_idx = stratified_split(labels.numpy(), config.val_fraction, config.seed)
    started = time.perf_counter()
    features = features.float().cpu().clone()  # a normal tensor even if made under inference_mode
    # The LP stage on the fit part only; rank 0's result is the one every replica starts from.
    lp_head = fit_head(fit_idx) if distributed.is_main() else None
    lp_w = distributed.broadcast_tensor(lp_head[0].float() if lp_head else None)
    lp_b = distributed.broadcast_tensor(lp_head[1].float() if lp_head else None)
    head_only = accuracy(lp_w, lp_b, features[val_idx], labels[val_idx])

    device = training_device(config, device)
    model, losses = train_full(source, images, labels, fit_idx, (lp_w, lp_b), config, device)
    logits = sharded_outputs(model.to(device), source, images, val_idx, config.resolution, config.eval_batch_size,
                             device)
    full = top1(logits, labels[val_idx])
    model.cpu()
    # Rank 0 decides, so every rank returns the same thing even if float noise differed.
    keep_full = distributed.broadcast_object(full > head_only)
    report.update(val_accuracy_head_only=head_only, val_accuracy_full=full, fit_images=len(fit_idx),
                  val_images=len(val_idx), train_losses=losses, seconds=time.perf_counter() - started)
    report["message"] = decision_message(keep_full, head_only, full, len(val_idx), len(labels), config.val_fraction)
    if keep_full:
        report.update(kept="full", finetuned=True)
        state = {k: v.detach().cpu().contiguous() for k, v in model.backbone.state_dict().items()}
        return state, model.head.weight.detach().clone(), model.head.bias.detach().clone(), report
    return None, w0, b0, report


NOISY_BELOW = 30  # validation images under which one image moves the accuracy by more than 3 pp


def decision_message(kept_full: bool, head_only: float, full: float, n_val: int, n_train: int,
                     fraction: float) -> str:
    """The keep/drop decision in words with its numbers: both accuracies as counts and percentages
    on the validation images (a share of the training images that neither candidate trained on)."""
    right = lambda accuracy: round(accuracy * n_val)  # noqa: E731
    kept = "kept the fine-tuned network" if kept_full else "kept the head-only result"
    message = (f"full fine-tuning: {kept}: on {n_val} validation images ({100 * fraction:.0f} % of each class's "
               f"among the {n_train} training images, trained on by neither) the head alone got {right(head_only)} "
               f"right ({100 * head_only:.1f} %), the fine-tuned network {right(full)} ({100 * full:.1f} %)")
    message += "" if kept_full else "; ties go to head-only"
    if n_val < NOISY_BELOW:
        message += (f"; with {n_val} images one image is {100 / n_val:.1f} pp, so the decision is noisy: "
                    "more training images (or a larger validation fraction) make it firmer")
    return message
