"""`SourceModel`: a pretrained classifier split into backbone (features) and final linear head."""

from __future__ import annotations

import copy
import functools
import hashlib
import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Sequence

import torch
from torch import nn

from headstart.classifier import Classifier
from headstart.errors import UserError
from headstart.pixels import INTERPOLATIONS, Resize
from headstart.preprocessing import (IMAGENET_MEAN, IMAGENET_STD, LITE_MEAN, LITE_STD, channel_values, normalise,
                                     resize_batch)


def find_head(module: nn.Module, resolution: int) -> str:
    """The dotted name of the nn.Linear that produces the model's output (its logits), found by
    running a copy of the model once on a fixed noise batch [1, 3, R, R] and watching every linear
    layer; the last one whose output equals the model's wins. UserError naming the candidates when
    none does; the last registered nn.Linear when the model does not run on such a batch. Noise,
    not a blank image: on zeros, bias-free layers all output zeros and any of them would match."""
    probe = copy.deepcopy(module).eval()  # the caller's module keeps its mode and hooks
    linears = [(name, child) for name, child in probe.named_modules() if isinstance(child, nn.Linear)]
    if not linears:
        raise UserError("the model has no nn.Linear layer to use as its head: pass head=<the final nn.Linear>")
    seen: list[tuple[str, torch.Tensor]] = []
    for name, child in linears:
        child.register_forward_hook(lambda _m, _i, out, name=name: seen.append((name, out.detach())))
    try:
        with torch.no_grad():
            noise = torch.randn(1, 3, resolution, resolution, generator=torch.Generator().manual_seed(0))
            output = unwrap_output(probe(noise))
    except Exception:  # whatever it raises, it takes no images of this size: keep the registration order
        return linears[-1][0]
    producing = [name for name, out in seen
                 if out.numel() == output.numel() and torch.equal(out.reshape(output.shape), output)]
    if not producing:
        candidates = ", ".join(f"{name} ({child.in_features} -> {child.out_features})" for name, child in linears)
        raise UserError(f"no nn.Linear produces the model's output directly; pass head=<name> among: {candidates}")
    return producing[-1]


def _set_submodule(module: nn.Module, dotted: str, value: nn.Module) -> None:
    parent_name, _, child_name = dotted.rpartition(".")
    parent = module.get_submodule(parent_name) if parent_name else module
    setattr(parent, child_name, value)


def unwrap_output(output) -> torch.Tensor:
    """A model's output as a tensor: Hugging Face outputs carry it in `.logits`, some models return
    a tuple or a dict."""
    if isinstance(output, torch.Tensor):
        return output
    if hasattr(output, "logits"):
        return output.logits
    if isinstance(output, dict) and "logits" in output:
        return output["logits"]
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise UserError(f"the model returned a {type(output).__name__}; wrap it so it returns a tensor of features")


class _Unwrapped(nn.Module):
    """A backbone whose output is always a tensor [N, D]."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return unwrap_output(self.module(x)).flatten(1)


def weights_digest(*modules: nn.Module) -> str:
    """A short hash of the modules' parameters and buffers: different weights, different digest."""
    digest = hashlib.sha1()
    for module in modules:
        for key, value in sorted(module.state_dict().items()):
            tensor = value.detach().cpu().contiguous().reshape(-1)
            digest.update(f"{key}|{tuple(tensor.shape)}|{tensor.dtype}".encode())
            digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()[:12]


@dataclass
class SourceModel:
    """A pretrained classifier: `backbone` maps a prepared batch to pre-logit features, `head` to logits.

    labels: source class ids (WordNet ids like "n01440764" for ImageNet); names: human names.
    preprocess(images) turns uint8/PIL images into the model's input [N, 3, H, W], resized and
    cropped as `resize` says (default: stretched to R x R, bilinear).
    spec: how to load it again — a registered name or "package.module:function" (None: the
    caller must pass the model itself when reloading a run made with it).
    """

    name: str
    backbone: nn.Module
    head: nn.Linear
    labels: list[str]
    names: list[str]
    resolution: int
    mean: tuple[float, float, float] = LITE_MEAN
    std: tuple[float, float, float] = LITE_STD
    preprocess_version: str = "v1"
    spec: str | None = None
    resize: Resize = Resize()

    def __post_init__(self) -> None:
        n_out = self.head.out_features
        if len(self.labels) != n_out or len(self.names) != n_out:
            raise UserError(
                f"the head has {n_out} outputs but {len(self.labels)} labels and {len(self.names)} names were given"
            )
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise UserError(f"mean and std need 3 values each (0-255 scale, std > 0), got {self.mean}, {self.std}")
        # channels_last doubles CPU convolution throughput of these nets (measured on Lite0).
        self.backbone.to(memory_format=torch.channels_last).eval()
        self.head.eval()

    @property
    def feature_dim(self) -> int:
        return self.head.in_features

    def preprocess(self, images: Sequence, resolution: int | None = None,
                   device: torch.device | None = None) -> torch.Tensor:
        """uint8 / PIL images -> normalised float tensor [N, 3, R, R] (R = resolution or the native one)
        on `device` (default: the CPU)."""
        x = resize_batch(images, resolution or self.resolution, device, self.resize)
        return normalise(x, channel_values(self.mean, x.device), channel_values(self.std, x.device))

    def head_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The source head as float32 (W [S, D], b [S]), detached; b is zeros for a head without bias."""
        weight = self.head.weight.detach().float()
        bias = self.head.bias
        return weight, (bias.detach().float() if bias is not None else weight.new_zeros(len(weight)))

    @property
    def network(self) -> Classifier:
        """Backbone + head as one module, holding this model's own layers (not copies)."""
        return Classifier(self.backbone, self.head)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Prepared batch [N, 3, H, W] -> pre-logit features [N, D]."""
        return self.network.features(x)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Prepared batch [N, 3, H, W] -> source logits [N, C_src]."""
        return self.network(x)

    @functools.cached_property
    def weights_digest(self) -> str:
        """A digest of every weight (`weights_digest`): the model's identity, wherever it is kept."""
        return weights_digest(self.backbone, self.head)

    @property
    def weights_key(self) -> str:
        """Name plus a digest of every weight: two models that differ in any weight never share
        cached features."""
        return f"{self.name}-{self.weights_digest}"

    def cache_key(self, resolution: int) -> str:
        return (f"{self.weights_key}-r{resolution}-{self.preprocess_version}-m{_fmt(self.mean)}-s{_fmt(self.std)}"
                f"{self.resize.key()}")

    @classmethod
    def from_module(
        cls,
        module: nn.Module,
        head: nn.Linear | str | None = None,
        labels: Sequence[str] | None = None,
        names: Sequence[str] | None = None,
        name: str = "custom",
        resolution: int | None = None,
        mean: tuple[float, float, float] | None = None,
        std: tuple[float, float, float] | None = None,
        spec: str | None = None,
        resize: Resize | None = None,
    ) -> "SourceModel":
        """Wrap any torch classifier whose last layer is an `nn.Linear`; the caller's module is
        left untouched (the wrapper holds a copy).

        head: the final linear layer (module or its dotted name); found automatically when omitted
        (the nn.Linear whose output is the model's output, seen by running it once). The backbone
        is a copy of `module` with that layer replaced by identity, so `features` returns what the
        head consumes; outputs with `.logits` (Hugging Face), tuples (the first element) and dicts
        are unwrapped. labels: source class ids; a 1000-output head without labels gets the
        ImageNet-1k WordNet ids (in the standard class order), any other head "0".."C-1".
        mean/std are on the 0-255 scale; resolution is the input size images are resized to. When
        omitted they come from a timm-style `module.pretrained_cfg` (mean, std, input_size: see
        `config_normalisation` and `config_size`), else torchvision's ImageNet normalisation and 224 px.
        resize: how images are resized and cropped; when omitted, from the pretrained_cfg's crop_pct,
        crop_mode and interpolation (`config_resize`), else headstart's default (stretched, bilinear).
        """
        cfg = getattr(module, "pretrained_cfg", None) or {}
        if resolution is None:
            resolution = config_size(cfg["input_size"], "pretrained_cfg['input_size']") if "input_size" in cfg else 224
        if mean is None or std is None:
            cfg_mean, cfg_std = config_normalisation(cfg.get("mean"), cfg.get("std"), "the model's pretrained_cfg")
            mean, std = cfg_mean if mean is None else mean, cfg_std if std is None else std
        resize = config_resize(cfg) if resize is None else resize
        if head is None:
            head_name = find_head(module, resolution)
        elif isinstance(head, str):
            head_name = head
        else:
            matches = [n for n, m in module.named_modules() if m is head]
            if not matches:
                raise UserError("head must be a layer inside the module (or its dotted name)")
            head_name = matches[0]
        try:
            head_layer = module.get_submodule(head_name)
        except AttributeError:
            raise UserError(f"the module has no layer {head_name!r} to use as its head") from None
        if not isinstance(head_layer, nn.Linear):
            raise UserError(f"head {head_name!r} is a {type(head_layer).__name__}, not an nn.Linear")
        n_out = head_layer.out_features
        if labels is None:
            labels, default_names = _default_labels(n_out)
        else:
            labels, default_names = list(labels), list(labels)
        names = list(names) if names is not None else default_names
        backbone = copy.deepcopy(module)
        head_copy = copy.deepcopy(head_layer)
        _set_submodule(backbone, head_name, nn.Identity())
        return cls(name=name, backbone=_Unwrapped(backbone.eval()), head=head_copy, labels=list(labels),
                   names=names, resolution=resolution, mean=tuple(mean), std=tuple(std), spec=spec, resize=resize)


def config_resize(cfg: dict) -> Resize:
    """The resize a timm `pretrained_cfg` defines: its crop_pct (timm's default 0.875 when it gives
    only an interpolation), crop_mode "center" (the shorter side resized) or "squash" (stretched, then
    cropped) and interpolation; headstart's default Resize() when it gives neither crop_pct nor
    interpolation. An interpolation other than bilinear and bicubic is taken as bicubic, with one
    warning; UserError naming the key for a value that is not one."""
    if cfg.get("crop_pct") is None and cfg.get("interpolation") is None:
        return Resize()
    crop_pct = cfg.get("crop_pct") if cfg.get("crop_pct") is not None else 0.875
    if not isinstance(crop_pct, Real) or isinstance(crop_pct, bool) or not 0.1 <= crop_pct <= 1:
        raise UserError(f"pretrained_cfg['crop_pct'] is {crop_pct!r:.80}: it must be a number in 0.1..1")
    return Resize(float(crop_pct), cfg.get("crop_mode", "center") != "squash",
                  known_interpolation(cfg.get("interpolation") or "bicubic", "pretrained_cfg['interpolation']"))


def known_interpolation(name, where: str) -> str:
    """`name` when headstart resizes with it, else "bicubic" with one warning naming `where`."""
    if name in INTERPOLATIONS:
        return name
    import warnings

    warnings.warn(f"{where} asks for {name!r} interpolation; headstart resizes with bilinear or bicubic and uses "
                  "bicubic", stacklevel=3)
    return "bicubic"


def config_normalisation(mean, std, where: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """A mean and std as a model's config writes them (a number or 1 or 3 per-channel numbers; None:
    not given, torchvision's ImageNet values) -> (mean, std) on the 0-255 scale, 3 values each.

    Configs write them on 0-1 (timm, Hugging Face), but some on 0-255: no 0-1 mean or std exceeds
    1, so when a given value does, both are taken as written. UserError naming `where` otherwise."""
    given = {what: _channel_numbers(values, what, where) for what, values in (("mean", mean), ("std", std))
             if values is not None}
    scale = 1.0 if any(v > 1 for values in given.values() for v in values) else 255.0
    scaled = {what: tuple(scale * v for v in values) for what, values in given.items()}
    return scaled.get("mean", IMAGENET_MEAN), scaled.get("std", IMAGENET_STD)


def _channel_numbers(values, what: str, where: str) -> tuple[float, ...]:
    numbers = [values] if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__") else list(values)
    if len(numbers) == 1:
        numbers *= 3
    if len(numbers) != 3 or not all(isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v)
                                    for v in numbers):
        raise UserError(f"{where} gives {what} {values!r:.80}: it must be a number or 3 numbers, one per RGB channel, "
                        "e.g. [0.485, 0.456, 0.406]")
    return tuple(float(v) for v in numbers)


def config_size(size, where: str) -> int:
    """An input size as configs write it (a number, or a sequence ending with the width like timm's
    (3, H, W)) -> pixels; UserError naming `where` when it is neither."""
    value = size[-1] if isinstance(size, (list, tuple)) and size else size
    if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
        raise UserError(f"{where} is {size!r:.80}: give the input size as a number of pixels or (3, H, W), e.g. 224")
    return int(value)


def _fmt(values: Sequence[float]) -> str:
    return "_".join(f"{v:g}" for v in values)


def _default_labels(n_out: int) -> tuple[list[str], list[str]]:
    if n_out == 1000:
        from headstart.sources.imagenet import imagenet_labels

        return imagenet_labels()
    labels = [str(i) for i in range(n_out)]
    return labels, labels
