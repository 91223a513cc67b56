"""Bad inputs and faults, tried on the real command line: what each does now.

    python benchmarks/reliability.py > docs/results/reliability.md

Every case runs `python -m headstart ...` as a user would, in a scratch folder with its own cache,
and is judged: `ok` when it exits 0 with a correct result, or exits non-zero with a one-line error
and no traceback; `BAD` otherwise (a traceback, or a silent wrong result). Cases that inspect a
result say what they checked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
CALTECH = ROOT.parent / "shared" / "datasets" / "caltech50"


def headstart(*args, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "headstart", "--quiet", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


def first_line(result: subprocess.CompletedProcess) -> str:
    """The line a user reads first: the error (headstart's, or the option parser's), else the first."""
    lines = [line.strip(" │╭╰─") for line in (result.stderr + result.stdout).splitlines()]
    lines = [line for line in lines if line and not line.startswith(("warnings.warn", "/"))]
    error = [line for line in lines if line.startswith(("error:", "Invalid value"))]
    return (error or lines or [""])[0][:150]


def images(folder: Path, per_class: int, classes=("cat", "dog", "car"), seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for c, name in enumerate(classes):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            array = rng.integers(0, 120, (24, 24, 3), dtype=np.uint8)
            array[..., c % 3] += 120
            Image.fromarray(array).save(folder / name / f"{i}.png")
    return folder


def fit_accuracy(run: Path) -> str:
    m = json.loads((run / "run.json").read_text())["metrics"]
    return f"{100 * m['accuracy_before_training']:.1f} -> {100 * m['test_accuracy']:.1f} %"


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="headstart-reliability-"))
    env = {**os.environ, "HEADSTART_CACHE": str(work / "cache"), "PYTHONWARNINGS": "ignore"}
    rows = []

    def case(name: str, args, expect_ok: bool, check=None):
        result = headstart(*args, cwd=work, env=env)
        traceback = "Traceback" in result.stderr
        good = not traceback and (result.returncode == 0) == expect_ok
        note = ""
        if good and check is not None:
            good, note = check(result)
        rows.append((name, " ".join(["headstart", *map(str, args)]), result.returncode, first_line(result),
                     note, "ok" if good else "BAD"))
        print(f"{'ok ' if good else 'BAD'} {name}", file=sys.stderr)

    # -- silent corruption ---------------------------------------------------------------------
    for name in ("eq.v1", "eqv1"):
        case(f"export + fit into folder {name}", ["export-images", "--train-per-class", 3, "--test-per-class", 3,
                                                  "--out", name], True)
    case("fit eq.v1", ["fit", "--resolution", 64, "--data", "eq.v1", "--out", "run-dotted"], True)
    case("fit eqv1 (same images)", ["fit", "--resolution", 64, "--data", "eqv1", "--out", "run-plain"], True,
         lambda r: (fit_accuracy(work / "run-dotted") == fit_accuracy(work / "run-plain"),
                    f"dotted {fit_accuracy(work / 'run-dotted')}, plain {fit_accuracy(work / 'run-plain')}"))
    images(work / "flat", 6)
    case("fit a split-less folder", ["fit", "--resolution", 64, "--data", "flat", "--out", "run-flat"], True)
    (values,) = [p for p in (work / "cache" / "features").iterdir()  # the header names the key
                 if b"folder-eq.v1-" in p.read_bytes()[:4096] and b"|test" in p.read_bytes()[:4096]]
    os.truncate(values, values.stat().st_size // 2)
    case("fit after truncating a cache file", ["fit", "--resolution", 64, "--data", "eq.v1", "--out", "run-trunc"],
         True, lambda r: (fit_accuracy(work / "run-trunc") == fit_accuracy(work / "run-dotted"),
                          f"{fit_accuracy(work / 'run-trunc')} (recomputed, warned)"))
    bench = ["bench", "--methods", "zero,imprint", "--shots", 1, "--seeds", 1, "--epochs", 2]
    case("bench at 64 px / 100 test images", [*bench, "--test-size", 100, "--resolution", 64, "--out", "B"], True)
    case("resume B at 112 px / 300 test images", [*bench, "--test-size", 300, "--resolution", 112, "--out", "B"],
         False, lambda r: ("64" in (work / "B" / "run.json").read_text(), "run.json still says 64 px"))
    shutil.copytree(work / "run-dotted", work / "run-ft")
    (work / "run-ft" / "backbone.safetensors").write_bytes(b"stale backbone of an earlier --full-finetune")
    case("plain fit into a run folder with a stale backbone", ["fit", "--resolution", 64, "--data", "eq.v1",
                                                              "--out", "run-ft"], True,
         lambda r: (not (work / "run-ft" / "backbone.safetensors").exists(), "backbone.safetensors gone"))

    # -- bad images ----------------------------------------------------------------------------
    images(work / "trunc", 4)
    jpeg = work / "trunc" / "cat" / "photo.jpg"
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(jpeg)
    jpeg.write_bytes(jpeg.read_bytes()[:200])
    case("fit with a truncated JPEG", ["fit", "--resolution", 64, "--data", "trunc", "--out", "run-j"], True)
    case("init --unlabelled with a truncated JPEG", ["init", "--classes", "cat,dog", "--unlabelled", "trunc",
                                                     "--out", "run-u"], True)
    Image.fromarray(np.full((30, 30), 30000, np.uint16)).save(work / "deep.png")
    case("predict a 16-bit PNG", ["predict", "run-plain", "deep.png"], True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(work / "tiny.png")
    case("predict a missing image", ["predict", "run-plain", "nope.png"], False)
    (work / "notes.png").write_text("a text file with an image's name")
    case("predict a text file named .png", ["predict", "run-plain", "notes.png"], False)

    # -- tampered runs -------------------------------------------------------------------------
    for label, tamper in [("invalid JSON", lambda f: (f / "run.json").write_text("{oops")),
                          ("empty run.json", lambda f: (f / "run.json").write_text("")),
                          ("run.json a list", lambda f: (f / "run.json").write_text("[]")),
                          ("resolution -5", lambda f: _edit(f, resolution=-5)),
                          ("class_names null", lambda f: _edit(f, class_names=None)),
                          ("extra key", lambda f: _edit(f, surprise=1)),
                          ("head garbage", lambda f: (f / "head.safetensors").write_bytes(b"junk")),
                          ("head missing", lambda f: (f / "head.safetensors").unlink())]:
        folder = work / f"tampered-{label.replace(' ', '-')}"
        shutil.copytree(work / "run-plain", folder)
        tamper(folder)
        case(f"predict with {label}", ["predict", folder.name, "deep.png"], False)

    # -- bad numbers and names -----------------------------------------------------------------
    for args in (["fit", "--data", "flat", "--out", "x", "--resolution", -1],
                 ["fit", "--data", "flat", "--out", "x", "--resolution", 8],
                 ["fit", "--data", "flat", "--out", "x", "--epochs", -3],
                 ["similar", "--classes", "cat", "--top", -1],
                 ["bench", "--test-size", 0], ["bench", "--test-size", -5], ["bench", "--shots", "1,-2"],
                 ["export-images", "--train-per-class", -3, "--out", "neg"],
                 ["export-images", "--train-per-class", 0, "--out", "zero"],
                 ["export-images", "--out", "eq.v1"],
                 ["similar", "--classes", ""], ["similar", "--classes", ",,,"],
                 ["init", "--classes", "cat", "--out", "one"], ["init", "--classes", "cat,cat", "--out", "dup"],
                 ["init", "--classes", "cat,dog", "--out", "deep.png"],
                 ["similar", "--classes", "cat", "--heatmap", "deep.png/h.png"]):
        case("rejects " + " ".join(map(str, args[:1] + args[-2:])), args, False)
    (work / "utf16.txt").write_text("Bag=bag.n.06\n", encoding="utf-16")
    case("similar with a UTF-16 overrides file", ["similar", "--classes", "Bag", "--overrides", "utf16.txt",
                                                  "--json"], True,
         lambda r: ('"bag.n.06"' in r.stdout, "override applied"))
    (work / "bad.txt").write_text("Bag=bag.n.99\n")
    case("init with a bad override id", ["init", "--classes", "Bag,Coat", "--overrides", "bad.txt", "--out", "o"],
         False)
    case("init with an unknown name", ["init", "--classes", "Bag,Coat,zqxvw", "--out", "unk"], True,
         lambda r: ([c["source"] for c in json.loads((work / "unk" / "run.json").read_text())["classes"]]
                    == ["wordnet", "wordnet", "text"], "Bag and Coat stay WordNet, zqxvw alone is text"))
    if CALTECH.is_dir():
        case("similar with the caltech50 folder names", ["similar", "--classes", ",".join(
            sorted(p.name for p in (CALTECH / "train").iterdir())), "--top", 1], True)
    (work / "cachefile").write_text("x")
    env_file = {**env, "HEADSTART_CACHE": str(work / "cachefile")}
    result = headstart("init", "--classes", "cat,dog", "--out", "c", cwd=work, env=env_file)
    rows.append(("HEADSTART_CACHE is a file", "HEADSTART_CACHE=FILE headstart init ...", result.returncode,
                 first_line(result), "", "ok" if result.returncode == 2 and "Traceback" not in result.stderr else "BAD"))

    good = sum(r[-1] == "ok" for r in rows)
    print("# Reliability: bad inputs and faults on the command line\n")
    print("Command: `python benchmarks/reliability.py > docs/results/reliability.md` (each case a real "
          "`python -m headstart --quiet ...` process in a scratch folder with its own cache).\n")
    print(f"**{good} of {len(rows)} cases behave well; {len(rows) - good} do not.**\n")
    print("| case | command | exit | first line of output | checked | verdict |")
    print("|---|---|---:|---|---|---|")
    for name, command, code, line, note, verdict in rows:
        line = line.replace(str(work), "SCRATCH").replace("|", "/")  # no path of this machine in the page
        print(f"| {name} | `{command}` | {code} | {line} | {note} | {verdict} |")
    shutil.rmtree(work, ignore_errors=True)


def _edit(folder: Path, **changes) -> None:
    meta = json.loads((folder / "run.json").read_text())
    meta.update(changes)
    (folder / "run.json").write_text(json.dumps(meta))


if __name__ == "__main__":
    main()
