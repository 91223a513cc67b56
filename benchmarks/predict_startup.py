"""`headstart predict` in a new process against a plain onnxruntime script on `headstart export`'s
model (benchmarks/plain_onnx_predict.py), for one image and for a batch: the two commands run in
turn (A B A B ...), each a new process timed from start to exit; medians and the median of the
pair-by-pair ratio A/B are printed as a Markdown table (issue 33's targets: <= 1.5x for one image,
<= 1.3x for 100 images).

    python benchmarks/predict_startup.py --run RUN --images FOLDER [--batch 100] [--repeats 7]

Before timing, the run is exported (`headstart export RUN --onnx`) and predicted once, so that
both sides start from what they keep: the exported file, and headstart's cached ONNX model."""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def timed(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds user + sys) of `command` run as a new process; a command starting
    with "PYTHONPATH=..." runs with that PYTHONPATH."""
    env = dict(os.environ)
    if command[0].startswith("PYTHONPATH="):
        env["PYTHONPATH"], command = command[0].partition("=")[2], command[1:]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def paired(a: list[str], b: list[str], repeats: int) -> dict:
    timed(a), timed(b)  # warm the file cache
    runs_a, runs_b = [], []
    for _ in range(repeats):
        runs_a.append(timed(a))
        runs_b.append(timed(b))
    ratios = [x[0] / y[0] for x, y in zip(runs_a, runs_b)]
    return {"a": statistics.median(x[0] for x in runs_a), "b": statistics.median(y[0] for y in runs_b),
            "ratio": statistics.median(ratios), "ratio_range": (min(ratios), max(ratios)),
            "cpu_a": statistics.median(x[1] for x in runs_a), "cpu_b": statistics.median(y[1] for y in runs_b)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--images", type=Path, required=True, help="folder; its first --batch images (sorted)")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--before", type=Path, help="also time the same `headstart predict` with this checkout "
                                                    "on PYTHONPATH (e.g. an export of the commit before this path)")
    args = parser.parse_args()
    images = sorted(str(p) for p in args.images.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    images = images[:args.batch]
    headstart = [sys.executable, "-m", "headstart", "predict", str(args.run)]  # with its progress bar, as users run it
    with tempfile.TemporaryDirectory() as folder:
        model = str(Path(folder) / "model.onnx")
        subprocess.run([sys.executable, "-m", "headstart", "export", str(args.run), "--onnx", model], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(headstart + images[:1], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)  # caches headstart's model
        plain = [sys.executable, str(HERE / "plain_onnx_predict.py"), model]
        rows = [("1 image", paired(headstart + images[:1], plain + images[:1], args.repeats)),
                (f"{len(images)} images", paired(headstart + images, plain + images, args.repeats))]
        if args.before is not None:
            # -P: the current folder (maybe a newer checkout) must not come before PYTHONPATH
            before = [f"PYTHONPATH={args.before.resolve()}", sys.executable, "-P", *headstart[1:]]
            rows += [(f"{n} image{'s' * (n > 1)}, against `--before`",
                      paired(headstart + images[:n], before + images[:n], args.repeats)) for n in (1, len(images))]
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; python {platform.python_version()}; "
          f"{args.repeats} alternating pairs after one warm-up pair; medians per new process\n")
    print("| images | headstart predict: wall s (CPU s) | plain onnxruntime script (or --before): wall s (CPU s) "
          "| wall ratio, median of pairs (min-max) |")
    print("| --- | --- | --- | --- |")
    for name, r in rows:
        low, high = r["ratio_range"]
        print(f"| {name} | {r['a']:.3f} ({r['cpu_a']:.2f}) | {r['b']:.3f} ({r['cpu_b']:.2f}) "
              f"| {r['ratio']:.2f} ({low:.2f}-{high:.2f}) |")


if __name__ == "__main__":
    main()
