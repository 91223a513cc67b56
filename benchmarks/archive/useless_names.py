"""The default with names that carry no semantics (nosem) or mislead (shifted): it must fall back to
logistic regression and never lose to it.

    python benchmarks/archive/useless_names.py [--out docs/results] [--seeds 10] [--resolution 224]

The same Fashion-MNIST images (`headstart export-images --train-per-class 50 --test-per-class 100
--seed 7`) in two folders whose class folders are renamed: nonsense words (no synset, so only text
rows), or each class named as the next one (Bag images in "Coat", ...). Then the bench with
headstart and logreg on each, 1-20 shots.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

NONSENSE = ["blorf", "zqxv", "mimsy", "gorple", "vantry", "plimb", "snark", "quoggle", "trelm", "wibbet"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/results")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--resolution", type=int, default=224)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="headstart-names-") as tmp:  # removed even when a run fails
        work = Path(tmp)
        run = lambda *a: subprocess.run([sys.executable, "-m", "headstart", "--quiet", *map(str, a)], check=True)  # noqa: E731
        run("export-images", "--train-per-class", 50, "--test-per-class", 100, "--seed", 7, "--out", work / "fm")
        classes = sorted(p.name for p in (work / "fm" / "train").iterdir())
        renames = {"nosem": dict(zip(classes, NONSENSE)),
                   "shifted": dict(zip(classes, classes[1:] + classes[:1]))}
        for name, mapping in renames.items():
            folder = work / name
            for split in ("train", "test"):
                for old, new in mapping.items():
                    shutil.copytree(work / "fm" / split / old, folder / split / new)
            run("bench", "--dataset", folder, "--methods", "logreg,headstart", "--shots", "1,2,5,10,20",
                "--seeds", args.seeds, "--resolution", args.resolution,
                "--out", Path(args.out) / f"bench-lite0-{name}-{args.resolution}")


if __name__ == "__main__":
    main()
