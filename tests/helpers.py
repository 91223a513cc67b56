"""What several test files share: the checkout's paths, the shared real-photo folders, a tiny source
model, a tiny Hugging Face ViT folder, small synthetic images and image folders. Test files import
from here (or use conftest's fixtures), never from one another (tests/test_layout.py checks that).
Models users bring are in `own_models.py` (importable as `own_models:<function>` specs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

TESTS = Path(__file__).resolve().parent  # tests/ (own_models.py, data/senses.csv)
ROOT = TESTS.parent  # the checkout
# The real-photo folders live beside the checkout (../shared/datasets, as on CI); a checkout
# without them skips the tests that read them, saying why, instead of failing on a missing path.
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"


def shared_dataset(name: str) -> Path:
    folder = SHARED_DATASETS / name
    if not folder.is_dir():
        pytest.skip(f"{folder} is not here (the shared datasets sit beside the checkout on CI)")
    return folder


def sample_photos():
    from sklearn.datasets import load_sample_images

    return load_sample_images().images  # china.jpg (a temple by a lake), flower.jpg (a daisy)


TINY_DIM = 16  # tiny_source's feature dimension


def tiny_source(n_source_classes: int = 4, seed: int = 0):
    """A conv net small enough to fine-tune in well under a second, with non-trivial BN statistics."""
    from headstart.sources.model import SourceModel

    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, TINY_DIM, 3, stride=2, padding=1), nn.BatchNorm2d(TINY_DIM), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(TINY_DIM, n_source_classes))
    for layer in net.modules():
        if isinstance(layer, nn.BatchNorm2d):
            layer.running_mean.uniform_(-0.5, 0.5)
            layer.running_var.uniform_(0.5, 2.0)
    return SourceModel.from_module(net, name="tiny", resolution=24)


def tiny_vit(folder: Path, id2label: dict | None = None, num_labels: int = 3) -> Path:
    """A tiny 32-px ViT built from a config (nothing downloaded, seeded), saved into `folder` as people
    save them, with `num_labels` outputs labelled `id2label` (c0, c1, ...) and no processor file."""
    from transformers import ViTConfig, ViTForImageClassification

    torch.manual_seed(0)
    id2label = id2label or {i: f"c{i}" for i in range(num_labels)}
    config = ViTConfig(image_size=32, patch_size=8, num_hidden_layers=1, hidden_size=16, num_attention_heads=2,
                       intermediate_size=32, num_labels=len(id2label), id2label=id2label,
                       label2id={v: k for k, v in id2label.items()})
    ViTForImageClassification(config).eval().save_pretrained(folder)
    return folder


def colour_images(per_class: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """3 easy classes (reddish, greenish, bluish 16x16 noise images) -> (images, labels [N])."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for c in range(3):
        for _ in range(per_class):
            image = rng.integers(0, 90, size=(16, 16, 3))
            image[..., c] += 160
            images.append(image.astype(np.uint8))
            labels.append(c)
    return images, np.array(labels)


def zero_head_fitter(part) -> tuple[torch.Tensor, torch.Tensor]:
    """A useless head-only stage of `tiny_source`'s 3 classes (always predicts class 0) of any
    images `part`, so fine-tuning has room to win."""
    return torch.zeros(3, TINY_DIM), torch.zeros(3)


def finetuned_accuracy(source, state: dict | None, head, images, labels) -> float:
    """Top-1 accuracy of `finetune`'s result (backbone state or None, head (W [C, D], b [C])) on images
    with labels [N], as a fitted HeadStart scores it: the state loaded into a copy of the source
    (`with_backbone`), features extracted, the head applied."""
    from headstart.data.features import extract
    from headstart.estimator import with_backbone
    from headstart.train import accuracy

    network = source if state is None else with_backbone(source, state)
    features = extract(network, images, backend="torch")
    return accuracy(*head, features, torch.as_tensor(np.asarray(labels)))


def write_images(folder, per_class=4, classes=("cat", "dog"), size=20, seed=0):
    rng = np.random.default_rng(seed)
    for c, name in enumerate(classes):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = rng.integers(0, 120, (size, size, 3), dtype=np.uint8)
            image[..., c % 3] += 120
            Image.fromarray(image).save(folder / name / f"{i}.png")
    return folder


def write_split_folder(root, per_class=3, classes=("cat", "dog")):
    """train/ and test/ of the same size, as `headstart export` writes them."""
    write_images(root / "train", per_class, classes, seed=0)
    write_images(root / "test", per_class, classes, seed=1)
    return root


def run_main(monkeypatch, capsys, *args):
    """`headstart ARGS` in this process -> (exit code, stdout, stderr)."""
    from headstart import cli

    monkeypatch.setattr("sys.argv", ["headstart", *map(str, args)])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def run_cli(*args, check: bool = True) -> subprocess.CompletedProcess:
    """`python -m headstart ARGS` in a fresh process, this checkout's package and tests/ (own_models)
    on its path; with `check`, a non-zero exit fails the test showing stderr."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)])}
    result = subprocess.run([sys.executable, "-m", "headstart", *map(str, args)], capture_output=True, text=True,
                            timeout=600, env=env)
    if check:
        assert result.returncode == 0, result.stderr
    return result


TINY_BENCH = dict(model="efficientnet-lite0", dataset="fashion-mnist", methods=["zero", "imprint"], shots=[1],
                  seeds=2, resolution=32, test_size=20, epochs=2, eval_epochs=[0, 2])
