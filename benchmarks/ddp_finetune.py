"""Wall time of full fine-tuning (backbone + head) of EfficientNet-Lite0 on a small Fashion-MNIST
subset, one process vs `torchrun --nproc_per_node=N` with the same global batch.

    python benchmarks/ddp_finetune.py --compare 2      # runs both and prints a table
    torchrun --nproc_per_node=2 benchmarks/ddp_finetune.py   # one configuration, one JSON line

The comparison also runs one process with one thread, to separate the effect of DDP from that of
intra-op threading. Times `headstart.finetune.train_full` only (model loading and process start-up are reported apart).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

T0 = time.perf_counter()


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_once(args) -> dict:
    import numpy as np
    import torch

    from headstart import distributed
    from headstart.data import load_dataset
    from headstart.protocol import few_shot_indices
    from headstart.process_settings import configure
    from headstart.finetune import FinetuneConfig, train_full
    from headstart.sources import load_source

    if not distributed.init_process_group_from_env():
        configure()
    if args.threads:
        torch.set_num_threads(args.threads)
    source = load_source(args.model)
    data = load_dataset("fashion-mnist")
    indices = few_shot_indices(data.train.labels, args.per_class, seed=0)
    images, labels = data.train.load(indices), torch.as_tensor(data.train.labels[indices])
    head = (torch.zeros(10, source.feature_dim), torch.zeros(10))
    config = FinetuneConfig(epochs=args.epochs, batch_size=args.batch_size, resolution=args.resolution)
    distributed.barrier()
    start = time.perf_counter()
    _, losses = train_full(source, images, labels, np.arange(len(indices)), head, config)
    distributed.barrier()
    train_s = time.perf_counter() - start
    return {"processes": distributed.world_size(), "threads_per_process": torch.get_num_threads(),
            "images": len(indices), "epochs": args.epochs, "global_batch": args.batch_size,
            "resolution": args.resolution, "train_s": round(train_s, 1),
            "images_per_s": round(len(indices) * args.epochs / train_s, 1),
            "startup_s": round(start - T0, 1), "final_loss": round(losses[-1], 3)}


def compare(args) -> None:
    script = os.path.abspath(__file__)
    common = ["--model", args.model, "--per-class", str(args.per_class), "--epochs", str(args.epochs),
              "--batch-size", str(args.batch_size), "--resolution", str(args.resolution)]
    commands = [[sys.executable, script, *common], [sys.executable, script, *common, "--threads", "1"],
                [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={args.compare}", script, *common]]
    print(f"machine: {os.cpu_count()} CPU cores, {cpu_model()}; torch {__import__('torch').__version__}")
    print("| processes | threads/process | train s | images/s | start-up s | final loss |")
    print("|---|---|---|---|---|---|")
    for command in commands:
        env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
        row = json.loads([line for line in result.stdout.splitlines() if line.startswith("{")][-1])
        print(f"| {row['processes']} | {row['threads_per_process']} | {row['train_s']} | {row['images_per_s']} "
              f"| {row['startup_s']} | {row['final_loss']} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="efficientnet-lite0")
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32, help="global batch (split across processes)")
    parser.add_argument("--resolution", type=int, default=112)
    parser.add_argument("--threads", type=int, default=0, help="torch threads per process (default: cores / processes)")
    parser.add_argument("--compare", type=int, default=0, metavar="N", help="run 1 process and N processes")
    args = parser.parse_args()
    if args.compare:
        compare(args)
        return
    row = run_once(args)
    from headstart import distributed

    if distributed.is_main():
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
