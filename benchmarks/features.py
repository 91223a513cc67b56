"""Feature-extraction throughput: every path in one process, in alternating rounds, on Fashion-MNIST
items and on the photos of an image folder.

    python benchmarks/features.py [--images 256] [--gpu-images N] [--batch-size 64] [--resolution 224] [--rounds 5]
        [--folder ../shared/datasets/caltech50] [--peak-gflops GFLOPS] [--amp-accuracy]

Paths, on the same uint8 images:
- torch eager: the reference package's EfficientNet-Lite0 `model(x)` on tensors prepared
  beforehand (no loading, decoding or resizing): the plain loop a user would write;
- torch / ONNX pipeline: `headstart.data.features.extract` with backend torch / onnx on the CPU
  (load + decode + resize + normalise + forward, decode workers where they pay), and torch with
  bf16 autocast;
- ONNX pipeline with decoding in this process / in one worker process: the same with
  HEADSTART_DECODE_WORKERS=0 / 1 instead of headstart's choice (on the CPU: in this process);
- CUDA fp32 / bf16 / fp16 pipelines, when a GPU is present (batches of --gpu-batch-size), and the
  network alone on the GPU: the same prepared batches already in GPU memory, features copied back
  (what the GPU itself sustains, whatever the CPU's share of decoding and resizing).
Each round runs every path once, so a machine whose speed drifts slows them alike; the tables give
each path's best, median and worst round, its best over torch eager's best, the share of wall time
spent outside the network, and its best against two ceilings: the backbone's FLOPs per image at
the CPU's peak (--peak-gflops, when given) and at the rate of a large fp32 matmul timed in the same
rounds.

--amp-accuracy: also the effect of mixed precision on accuracy: logistic regression on 10
Fashion-MNIST images per class, tested on 1000, with fp32 and with autocast features (bf16 on the
CPU; bf16 and fp16 on a GPU), 3 subsets.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

import headstart
from headstart.backends import resolve, runner_for
from headstart.backends.runner import TorchRunner
from headstart.lab.bench import machine_description
from headstart.data import load_dataset, load_image_folder, loading
from headstart.data.dataset import Split
from headstart.data.features import extract
from headstart.process_settings import configure
from headstart.protocol import few_shot_indices
from headstart.sources.efficientnet_lite import build_reference


@dataclass
class Timed:
    """One way of computing features on `images` images; `run()` -> (seconds, share of them outside
    the network or None)."""

    name: str
    images: int
    run: Callable[[], tuple[float, float | None]]
    seconds: list[float] = field(default_factory=list)
    outside: list[float] = field(default_factory=list)


def first(split: Split, n: int) -> Split:
    """The first n images of a split (loaded on demand, as `extract` sees any dataset)."""
    return Split(split.name, split.labels[:n], split.load)


def eager_path(reference: torch.nn.Module, batches: list[torch.Tensor]) -> Callable:
    def run():
        start = time.perf_counter()
        with torch.inference_mode():
            for x in batches:
                reference(x)
        return time.perf_counter() - start, None

    return run


def pipeline_path(source, images: Split, args, device="cpu", backend="auto", precision=None,
                  decode_workers: str | None = None) -> Callable:
    """extract() on `images`; decode_workers: a value for HEADSTART_DECODE_WORKERS (None: headstart's rule)."""
    runner = runner_for(source, args.resolution, resolve(device, backend, precision))

    def run():
        before = os.environ.pop(loading.WORKERS_ENV, None)
        if decode_workers is not None:
            os.environ[loading.WORKERS_ENV] = decode_workers
        in_network = runner.seconds
        start = time.perf_counter()
        try:
            extract(source, images, args.resolution, args.batch_size, device=device, backend=backend,
                    precision=precision)
        finally:
            os.environ.pop(loading.WORKERS_ENV, None)
            if before is not None:
                os.environ[loading.WORKERS_ENV] = before
        wall = time.perf_counter() - start
        return wall, 1 - (runner.seconds - in_network) / wall

    return run


def gpu_network_path(source, prepared: list[torch.Tensor], precision: str, repeats: int) -> Callable:
    """The backbone on prepared batches already on the GPU (moved there once, outside the timing),
    `repeats` passes per run so that a run lasts long enough to time; -> seconds per pass."""
    runner = TorchRunner(source, resolve("cuda", "torch", precision))
    on_gpu = [x.to("cuda") for x in prepared]

    def run():
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(repeats):
            for x in on_gpu:
                runner.forward(x)  # returns float32 features on the CPU: synchronises every batch
        return (time.perf_counter() - start) / repeats, None

    return run


def matmul_gflops(n: int = 4096) -> float:
    """fp32 GFLOP/s of an n x n matmul: what the cores reach on the friendliest kernel."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    start = time.perf_counter()
    a @ b
    return 2 * n ** 3 / (time.perf_counter() - start) / 1e9


def flops_per_image(source, resolution: int) -> float:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        source.features(torch.zeros(1, 3, resolution, resolution))
    return counter.get_total_flops()


def prepared_tensors(source, images: Split, batch_size: int, resolution: int) -> list[torch.Tensor]:
    return [source.preprocess(images.load(range(s, min(s + batch_size, len(images)))), resolution)
            for s in range(0, len(images), batch_size)]


def paths_for(source, reference, split: Split, args) -> list[Timed]:
    """The CPU paths on the first --images of `split`, the CUDA ones (when there is a GPU) on the
    first --gpu-images: enough batches for the decode workers to run side by side."""
    images = first(split, args.images)
    n = len(images)
    prepared = prepared_tensors(source, images, args.batch_size, args.resolution)
    paths = [Timed("torch eager, prepared tensors", n, eager_path(reference, prepared)),
             Timed("torch pipeline", n, pipeline_path(source, images, args, backend="torch")),
             Timed("torch pipeline, bf16 autocast", n, pipeline_path(source, images, args, backend="torch",
                                                                    precision="bf16")),
             Timed("ONNX pipeline", n, pipeline_path(source, images, args, backend="onnx")),
             Timed("ONNX pipeline, decoding in this process", n,
                   pipeline_path(source, images, args, backend="onnx", decode_workers="0")),
             Timed("ONNX pipeline, decoding in one worker process", n,
                   pipeline_path(source, images, args, backend="onnx", decode_workers="1"))]
    if torch.cuda.is_available():
        gpu_args = argparse.Namespace(**{**vars(args), "batch_size": args.gpu_batch_size})
        images = first(split, args.gpu_images or args.images)
        gpu_batches = prepared_tensors(source, images, args.gpu_batch_size, args.resolution)
        for precision in ("fp32", "bf16", "fp16"):
            paths += [Timed(f"CUDA {precision} pipeline", len(images),
                            pipeline_path(source, images, gpu_args, "cuda", "torch", precision)),
                      Timed(f"CUDA {precision} network alone, inputs in GPU memory", len(images),
                            gpu_network_path(source, gpu_batches, precision, args.gpu_repeats))]
    return paths


def measure(datasets: dict[str, list[Timed]], rounds: int) -> list[float]:
    """Warm every path up once, then `rounds` rounds of every path in turn; -> matmul GFLOP/s per round."""
    for paths in datasets.values():
        for path in paths:
            path.run()
    peaks = []
    for _ in range(rounds):
        peaks.append(matmul_gflops())
        for paths in datasets.values():
            for path in paths:
                seconds, outside = path.run()
                path.seconds.append(seconds)
                if outside is not None:
                    path.outside.append(outside)
    return peaks


def table(paths: list[Timed], ceilings: dict[str, float]) -> str:
    """Markdown rows per path (the first: torch eager, the reference); ceilings: name -> img/s (CPU paths only)."""
    rate = lambda path, pick: path.images / pick(path.seconds)  # noqa: E731
    eager = rate(paths[0], min)
    lines = ["| path | best img/s | median | worst | best / torch eager's best | / torch eager in the same round "
             "(min, median, max) | outside the network (best round) | "
             + "".join(f"best / {name} | " for name in ceilings),
             "|---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(ceilings)]
    for path in paths:
        best = rate(path, min)
        paired = [(path.images / s) / (paths[0].images / e) for e, s in zip(paths[0].seconds, path.seconds)]
        outside = f"{100 * path.outside[path.seconds.index(min(path.seconds))]:.0f} %" if path.outside else "-"
        on_cpu = not path.name.startswith("CUDA")
        lines.append(f"| {path.name} ({path.images} images) | {best:.1f} | {rate(path, statistics.median):.1f} "
                     f"| {rate(path, max):.1f} "
                     f"| {best / eager:.2f}x | {min(paired):.2f}, {statistics.median(paired):.2f}, {max(paired):.2f} "
                     f"| {outside} | "
                     + "".join(f"{best / ceiling:.2f} | " if on_cpu else "- | " for ceiling in ceilings.values()))
    return "\n".join(lines)


def amp_accuracy(source, resolution: int, batch_size: int) -> str:
    """Logistic regression accuracy with fp32 and autocast features (see the module docstring)."""
    data = load_dataset("fashion-mnist")
    test_idx = few_shot_indices(data.test.labels, 100, seed=0)
    train_idx = np.unique(np.concatenate([few_shot_indices(data.train.labels, 10, seed=s) for s in range(3)]))
    precisions = ["bf16", "fp16"] if torch.cuda.is_available() else ["bf16"]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    features = {}
    for precision in ["fp32", *precisions]:
        for name, split, idx in (("train", data.train, train_idx), ("test", data.test, test_idx)):
            images = Split(name, split.labels[idx], lambda rows, split=split, idx=idx: split.load(idx[list(rows)]))
            features[precision, name] = extract(source, images, resolution, batch_size, device=device,
                                                precision=None if precision == "fp32" else precision)
    lines = [f"| features | max abs difference to fp32 (scale {features['fp32', 'test'].abs().max():.1f}) "
             "| min cosine to fp32 | accuracy, 3 subsets | mean |", "|---|---:|---:|---|---:|"]
    for precision in ["fp32", *precisions]:
        accuracies = []
        for seed in range(3):
            rows = np.searchsorted(train_idx, few_shot_indices(data.train.labels, 10, seed=seed))
            clf = headstart.HeadStart(source, "logreg", resolution=resolution).fit(
                features[precision, "train"][rows], data.train.labels[train_idx[rows]], data.class_names)
            accuracies.append(clf.score(features[precision, "test"], data.test.labels[test_idx]))
        test, reference = features[precision, "test"], features["fp32", "test"]
        cosine = torch.nn.functional.cosine_similarity(test, reference, dim=1).min()
        lines.append(f"| {device} {precision} | {(test - reference).abs().max():.3g} | {cosine:.5f} "
                     f"| {', '.join(f'{100 * a:.1f}' for a in accuracies)} | {100 * np.mean(accuracies):.2f} % |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256, help="images per dataset")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--gpu-batch-size", type=int, default=256, help="batch size of the CUDA paths")
    parser.add_argument("--gpu-images", type=int, default=None,
                        help="images per dataset for the CUDA paths (default: --images)")
    parser.add_argument("--gpu-repeats", type=int, default=10,
                        help="passes over the images per timed run of the network-alone CUDA paths")
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--folder", default="../shared/datasets/caltech50", help="an image folder (its test split)")
    parser.add_argument("--peak-gflops", type=float, default=None,
                        help="the CPU's fp32 peak, for the ceiling column (this repository's 2-core CPU: 160, "
                             "2 cores x 2.5 GHz x 32 FLOP/cycle with AVX-512 FMA)")
    parser.add_argument("--amp-accuracy", action="store_true", help="also measure mixed precision's effect on accuracy")
    args = parser.parse_args()
    configure()
    source = headstart.load_source("efficientnet-lite0")
    reference = build_reference("efficientnet-lite0")
    flops = flops_per_image(source, args.resolution)
    datasets = {}
    for name, split in (("Fashion-MNIST test items (28 px gray, in memory)", load_dataset("fashion-mnist").test),
                        (f"{args.folder} test photos (JPEG files, up to 192 px)", load_image_folder(args.folder).test)):
        datasets[name] = paths_for(source, reference, split, args)
    peaks = measure(datasets, args.rounds)

    print(f"Machine: {machine_description()}, torch threads {torch.get_num_threads()}")
    gpu = f" ({torch.cuda.get_device_name(0)}: batch {args.gpu_batch_size})" if torch.cuda.is_available() else ""
    print(f"EfficientNet-Lite0 at {args.resolution} px, batch {args.batch_size}{gpu}, {args.rounds} alternating rounds "
          f"after a warm-up; {flops / 1e9:.2f} GFLOP per image")
    ceilings = {"matmul ceiling": max(peaks) * 1e9 / flops}
    print(f"Matmul ceiling: a 4096x4096 fp32 matmul ran at {max(peaks):.0f} GFLOP/s (best round; median "
          f"{statistics.median(peaks):.0f}) -> {ceilings['matmul ceiling']:.0f} img/s")
    if args.peak_gflops:
        ceilings["peak ceiling"] = args.peak_gflops * 1e9 / flops
        print(f"Peak ceiling: {args.peak_gflops:.0f} GFLOP/s -> {ceilings['peak ceiling']:.0f} img/s")
    for name, paths in datasets.items():
        print(f"\n{name}\n")
        print(table(paths, ceilings))
    if args.amp_accuracy:
        print("\nMixed precision, logistic regression on 10 Fashion-MNIST images per class, 1000 test images\n")
        print(amp_accuracy(source, args.resolution, args.batch_size))


if __name__ == "__main__":
    main()
