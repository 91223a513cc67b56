"""Feature-extraction throughput: headstart's cached pipeline vs a raw `model(x)` loop.

    python benchmarks/features.py [--images 256] [--batch-size 64] [--resolution 224]

Pipeline = FeatureCache on Fashion-MNIST uint8 images (load + resize + normalise + forward + write
to the on-disk cache). Raw = the reference package's EfficientNet-Lite0 `model(x)` on tensors
prepared beforehand (no loading, no preprocessing, no cache), same batch size. Then the same
indices again through a fresh cache object: a cache hit.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import headstart
from headstart.bench import machine_description
from headstart.data import load_dataset
from headstart.data.features import FeatureCache
from headstart.runtime import configure
from headstart.sources.efficientnet_lite import build_reference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--resolution", type=int, default=224)
    args = parser.parse_args()
    configure()
    source = headstart.load_source("efficientnet-lite0")
    data = load_dataset("fashion-mnist")
    indices = np.arange(args.images)

    reference = build_reference("efficientnet-lite0")
    batches = [source.preprocess(data.test.load(indices[i:i + args.batch_size]), args.resolution)
               for i in range(0, args.images, args.batch_size)]
    with torch.inference_mode():
        reference(batches[0][:4])  # warm-up
        start = time.perf_counter()
        for x in batches:
            reference(x)
        raw = args.images / (time.perf_counter() - start)

    with tempfile.TemporaryDirectory() as root:
        cache = FeatureCache(source, data, "test", args.resolution, root=Path(root))
        with torch.inference_mode():
            source.features(batches[0][:4])  # same warm-up
        start = time.perf_counter()
        cache.get(indices, batch_size=args.batch_size, progress=False)
        pipeline = args.images / (time.perf_counter() - start)
        start = time.perf_counter()
        FeatureCache(source, data, "test", args.resolution, root=Path(root)).get(indices, progress=False)
        hit = args.images / (time.perf_counter() - start)

    print(f"Machine: {machine_description()}, torch threads {torch.get_num_threads()}")
    print(f"Lite0 at {args.resolution} px, {args.images} Fashion-MNIST test images, batch {args.batch_size}\n")
    print("| path | images/s | vs raw |")
    print("|---|---:|---:|")
    print(f"| raw `model(x)` loop on prepared tensors (reference package) | {raw:.1f} | 1.00x |")
    print(f"| headstart pipeline, cold cache (load + preprocess + forward + write) | {pipeline:.1f} | {pipeline / raw:.2f}x |")
    print(f"| headstart pipeline, cache hit | {hit:.0f} | {hit / raw:.0f}x |")


if __name__ == "__main__":
    main()
