"""Bad inputs and faults, tried on the real command line: what each does now.

    python benchmarks/reliability.py > docs/results/reliability.md

Every case runs `python -m headstart ...` as a user would, in a scratch folder with its own cache,
and is judged: `ok` when it exits 0 with a correct result, or exits non-zero with a one-line error
and no traceback; `BAD` otherwise (a traceback, or a silent wrong result). Cases that inspect a
result say what they checked.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]
CALTECH = ROOT.parent / "shared" / "datasets" / "caltech50"


def headstart(*args, cwd: Path, env: dict, preexec=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "headstart", "--quiet", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900, preexec_fn=preexec)


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


def case_runner(rows: list, work: Path, env: dict):
    """`case(name, args, expect_ok, check=None, case_env=None, preexec=None)`: runs `headstart ARGS` in `work`
    and appends its table row to `rows`: ok when no traceback, the exit code is as expected, and `check`
    (result -> (good, note)) agrees."""
    def case(name: str, args, expect_ok: bool, check=None, case_env=None, preexec=None):
        result = headstart(*args, cwd=work, env=case_env or env, preexec=preexec)
        good = "Traceback" not in result.stderr and (result.returncode == 0) == expect_ok
        note = ""
        if good and check is not None:
            good, note = check(result)
        rows.append((name, " ".join(["headstart", *map(str, args)]), result.returncode, first_line(result),
                     note, "ok" if good else "BAD"))
        print(f"{'ok ' if good else 'BAD'} {name}", file=sys.stderr)
    return case


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="headstart-reliability-"))
    env = {**os.environ, "HEADSTART_CACHE": str(work / "cache"), "PYTHONWARNINGS": "ignore"}
    rows = []

    case = case_runner(rows, work, env)

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
    env_file = {**env, "HEADSTART_CACHE": "cachefile"}  # relative to the scratch folder: no machine path printed
    result = headstart("init", "--classes", "cat,dog", "--out", "c", cwd=work, env=env_file)
    rows.append(("HEADSTART_CACHE is a file", "HEADSTART_CACHE=FILE headstart init ...", result.returncode,
                 first_line(result), "",
                 "ok" if result.returncode == 2 and "Traceback" not in result.stderr else "BAD"))

    second_round(case, rows, work, env)
    security_round(case, work)
    models_round(case, rows, work, env)
    files_round(case, rows, work, env)
    good = sum(r[-1] == "ok" for r in rows)
    print("# Reliability: bad inputs and faults on the command line\n")
    print("Command: `python benchmarks/reliability.py > docs/results/reliability.md` (each case a real "
          "`python -m headstart --quiet ...` process in a scratch folder with its own cache).\n")
    print(f"**{good} of {len(rows)} cases behave well; {len(rows) - good} do not.**\n")
    print("Cost of hashing every image's bytes for the dataset key (`python benchmarks/reliability.py`, "
          "first 1,000 files of each folder, warm page cache): " + "; ".join(hash_cost()) + ".\n")
    print_table(rows, work)
    shutil.rmtree(work, ignore_errors=True)


def print_table(rows: list, work: Path) -> None:
    print("| case | command | exit | first line of output | checked | verdict |")
    print("|---|---|---:|---|---|---|")
    from headstart.safe_text import visible

    def cell(text) -> str:  # no path of this machine, no control character or markup in the page
        return visible(str(text).replace(str(work), "SCRATCH")).replace("|", "/").replace("<", "&lt;")

    for name, command, code, line, note, verdict in rows:
        print(f"| {cell(name)} | `{command}` | {code} | {cell(line)} | {cell(note)} | {verdict} |")


MY_MODELS = """
import torch
from torch import nn


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, 4))


def double():
    return _net().double()


def bf16():
    return _net().bfloat16()


def needs_args(width):
    return _net()
"""


def second_round(case, rows: list, work: Path, env: dict) -> None:
    """Issue 22's classes of faults. Where a result could be silently wrong, it is compared with the
    same command run with an empty cache (the control)."""
    fit = ["fit", "--resolution", 64, "--method", "logreg", "--epochs", 20]

    def like_empty_cache(data: str, run: str):
        def check(result):
            fresh = {**env, "HEADSTART_CACHE": str(work / f"empty-cache-{run}")}
            headstart(*fit, "--data", data, "--out", f"{run}-control", cwd=work, env=fresh)
            got, want = fit_accuracy(work / run), fit_accuracy(work / f"{run}-control")
            same_head = torch.allclose(load_file(str(work / run / "head.safetensors"))["weight"],
                                       load_file(str(work / f"{run}-control" / "head.safetensors"))["weight"],
                                       atol=1e-5)
            return got == want and same_head, f"{got}, empty cache {want}, {'same' if same_head else 'other'} head"
        return check

    def keep_times(path: Path, change) -> None:  # what cp -p, rsync -t and tar x leave
        stat = path.stat()
        change()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    # -- the feature cache: labels, splits, edited bytes, zeroed values ---------------------------
    images(work / "csvdata", 6)
    listing = [(f"{c}/{i}.png", c) for c in ("cat", "dog", "car") for i in range(6)]
    write = lambda name, lines: (work / "csvdata" / name).write_text("\n".join(",".join(x) for x in lines) + "\n")  # noqa: E731
    write("l.csv", [("path", "label")] + listing)
    case("fit a CSV", [*fit, "--data", "csvdata/l.csv", "--out", "run-csv"], True)
    write("l.csv", [("path", "label")] + [(p, {"cat": "dog", "dog": "cat"}[c] if p[-5] in "01" and c != "car" else c)
                                           for p, c in listing])
    case("fit the CSV with 4 labels changed", [*fit, "--data", "csvdata/l.csv", "--out", "run-relabelled"], True,
         like_empty_cache("csvdata/l.csv", "run-relabelled"))
    write("s.csv", [("path", "label", "split")] + [(p, c, "test" if p[-5] in "01" else "train") for p, c in listing])
    case("fit a CSV with a split column", [*fit, "--data", "csvdata/s.csv", "--out", "run-split"], True)
    moved = {"cat/1.png": "train", "cat/2.png": "test"}
    write("s.csv", [("path", "label", "split")] + [(p, c, moved.get(p, "test" if p[-5] in "01" else "train"))
                                                   for p, c in listing])
    case("fit it with one row moved train->test, one test->train", [*fit, "--data", "csvdata/s.csv", "--out",
                                                                     "run-moved"], True,
         like_empty_cache("csvdata/s.csv", "run-moved"))
    images(work / "bmp", 6)
    bmp = work / "bmp" / "cat" / "x.bmp"
    Image.fromarray(np.full((24, 24, 3), 10, np.uint8)).save(bmp)
    case("fit a folder with a BMP", [*fit, "--data", "bmp", "--out", "run-bmp"], True)
    keep_times(bmp, lambda: Image.fromarray(np.full((24, 24, 3), 240, np.uint8)).save(bmp))
    case("fit after rewriting the BMP's pixels, mtime restored", [*fit, "--data", "bmp", "--out", "run-bmp2"], True,
         like_empty_cache("bmp", "run-bmp2"))
    images(work / "swap", 6)
    a, b = work / "swap" / "cat" / "s.bmp", work / "swap" / "dog" / "s.bmp"
    Image.fromarray(np.zeros((24, 24, 3), np.uint8)).save(a)
    Image.fromarray(np.full((24, 24, 3), 255, np.uint8)).save(b)
    case("fit a folder with two same-size BMPs", [*fit, "--data", "swap", "--out", "run-swap"], True)
    bytes_a, bytes_b = a.read_bytes(), b.read_bytes()
    keep_times(a, lambda: a.write_bytes(bytes_b))
    keep_times(b, lambda: b.write_bytes(bytes_a))
    case("fit after swapping them between classes, mtimes kept", [*fit, "--data", "swap", "--out", "run-swap2"],
         True, like_empty_cache("swap", "run-swap2"))
    images(work / "zeroed", 6)
    case("fit a folder (fills the cache)", [*fit, "--data", "zeroed", "--out", "run-zeroed"], True)
    for path in (work / "cache" / "features").iterdir():  # the values behind complete checksums, zeroed
        header = path.read_bytes()[:4096]
        if b"folder-zeroed-" in header:
            meta = json.loads(header.split(b"\n", 1)[1].decode().strip())
            with open(path, "r+b") as f:
                f.seek(4096 + -(-8 * meta["rows"] // 64) * 64)
                f.write(bytes(4 * meta["rows"] * meta["dim"]))
    case("fit after zeroing the cached values, checksums kept", [*fit, "--data", "zeroed", "--out", "run-zeroed2"],
         True, like_empty_cache("zeroed", "run-zeroed2"))

    # -- run folders whose files do not belong together -----------------------------------------
    def mixed(name: str, change) -> str:
        folder = work / name
        shutil.copytree(work / "run-flat", folder)
        change(folder)
        return name

    case("predict with another run's head copied in", ["predict", mixed(
        "mixed-copy", lambda f: shutil.copy(work / "run-csv" / "head.safetensors", f / "head.safetensors")),
        "deep.png"], False)
    case("predict with another run's head symlinked in", ["predict", mixed(
        "mixed-link", lambda f: ((f / "head.safetensors").unlink(),
                                 (f / "head.safetensors").symlink_to(work / "run-csv" / "head.safetensors"))),
        "deep.png"], False)
    case("predict with another run's run.json (3 classes too)", ["predict", mixed(
        "mixed-meta", lambda f: shutil.copy(work / "run-csv" / "run.json", f / "run.json")), "deep.png"], False)
    case("export with class_names reordered against classes", ["export", mixed(
        "mixed-order", lambda f: _edit(f, class_names=json.loads((f / "run.json").read_text())["class_names"][::-1])),
        "--onnx", "reordered.onnx"], False)

    # -- commands that would destroy a run or the user's files ----------------------------------
    shutil.copytree(work / "run-flat", work / "victim")
    (work / "victim" / "notes.txt").write_text("the user's notes")
    before = {p.name: p.read_bytes() for p in (work / "victim").iterdir()}
    intact = lambda r: ({p.name: p.read_bytes() for p in (work / "victim").iterdir()} == before,  # noqa: E731
                        "every file of the folder unchanged")

    def tiny_bench(methods="zero", shots=1, dataset="fashion-mnist"):
        return ["bench", "--methods", methods, "--shots", shots, "--dataset", dataset, "--seeds", 1, "--epochs", 2,
                "--test-size", 100, "--resolution", 64]

    case("bench --out a fitted run", [*tiny_bench(), "--out", "victim"], False, intact)
    case("export --torchscript RUN/head.safetensors", ["export", "victim", "--torchscript",
                                                      "victim/head.safetensors"], False, intact)
    case("fit into a run folder holding the user's notes", [*fit, "--data", "flat", "--out", "victim"], False, intact)

    # -- bench grids that would mislabel or repeat rows -----------------------------------------
    images(work / "three", 3)
    case("bench --shots 10 on 3 images per class", [*tiny_bench(shots=10, dataset="three"), "--out", "B10"], False,
         lambda r: (not (work / "B10" / "results.csv").exists(), "no rows written"))
    case("bench --methods zero,zero --shots 1,1", [*tiny_bench("zero,zero", "1,1"), "--out", "Bdup"], True,
         lambda r: (_unique_rows(work / "Bdup"), "each (method, shots, seed, epoch) once"))

    # -- two benches at once into one folder, then a resume -------------------------------------
    command = [sys.executable, "-m", "headstart", "--quiet", *map(str, tiny_bench("zero,imprint")), "--out", "Bpar"]
    both = [subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outputs = [p.communicate(timeout=900) for p in both]
    results = [subprocess.CompletedProcess(command, p.returncode, *o) for p, o in zip(both, outputs)]
    refused = [r for r in results if r.returncode != 0]
    good = (all(r.returncode in (0, 2) for r in results) and len(refused) < 2 and not any(
        "Traceback" in r.stderr for r in results) and all("another headstart bench" in r.stderr for r in refused)
        and _unique_rows(work / "Bpar"))
    rows.append(("two benches started at once into one folder", "headstart bench ... --out Bpar (twice, at once)",
                 "/".join(str(r.returncode) for r in results), first_line(refused[0]) if refused else "both finished",
                 "no duplicated rows", "ok" if good else "BAD"))
    case("resume the folder of the two benches", [*tiny_bench("zero,imprint"), "--out", "Bpar"], True,
         lambda r: (_unique_rows(work / "Bpar"), "no duplicated rows"))

    # -- models, paths and permissions ----------------------------------------------------------
    (work / "mymodels.py").write_text(MY_MODELS)
    for name in ("double", "bf16"):
        case(f"fit with a {name} model", [*fit, "--model", f"mymodels:{name}", "--data", "flat", "--out", f"r-{name}"],
             False, lambda r: (("float64" if "double" in " ".join(r.args) else "bfloat16") in first_line(r),
                               "the dtype is named"))
    case("fit with a model function that needs arguments", [*fit, "--model", "mymodels:needs_args", "--data", "flat",
                                                           "--out", "r-args"], False)
    case("fit --data FILE", [*fit, "--data", "flat/cat/0.png", "--out", "r-file"], False,
         lambda r: ("is a file" in first_line(r), "says it is a file"))
    umask = lambda: os.umask(0o022)  # noqa: E731
    case("fit under umask 022", [*fit, "--data", "flat", "--out", "run-shared"], True,
         lambda r: ((oct(_mode(work / "run-shared")), sorted({oct(_mode(p)) for p in (work / "run-shared").iterdir()}))
                    == ("0o755", ["0o644"]), "folder 0755, files 0644"), preexec=umask)
    case("export under umask 022", ["export", "run-shared", "--onnx", "shared.onnx"], True,
         lambda r: (oct(_mode(work / "shared.onnx")) == "0o644", "file 0644"), preexec=umask)

    # -- full disks: a real tmpfs (root only) -----------------------------------------------------
    disk, small = work / "full-cache", work / "full-run"
    disk.mkdir()
    small.mkdir()
    mounted = [subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                              capture_output=True).returncode == 0 for where, size in ((disk, "128k"), (small, "64k"))]
    if not all(mounted):
        rows.append(("full disks", "(a small tmpfs)", "", "not run: mounting a tmpfs needs root", "", "skipped"))
        return
    try:
        full = {**env, "HEADSTART_CACHE": str(disk)}
        for attempt in ("", "again "):
            case(f"fit {attempt}with the feature cache on a full disk", [*fit, "--data", "eq.v1", "--out",
                                                                         f"run-full-cache{len(attempt)}"], True,
                 case_env=full)
        case("init onto a small disk", ["init", "--classes", "cat,dog", "--out", "full-run/run"], True)
        before = {p.name: p.read_bytes() for p in (small / "run").iterdir()}
        fd = os.open(small / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"x" * 4096):
                pass
        except OSError:  # full
            pass
        finally:
            os.close(fd)
        case("init again when the disk is full", ["init", "--classes", "cat,dog,car", "--out", "full-run/run"], False,
             lambda r: ({p.name: p.read_bytes() for p in (small / "run").iterdir()} == before, "the old run intact"))
    finally:
        for where in (disk, small):
            subprocess.run(["umount", str(where)], capture_output=True)


EVIL_MODULE = """
from pathlib import Path

Path("evil-ran").write_text("imported")


def make():
    Path("evil-ran").write_text("called")
    import headstart
    return headstart.load_source("efficientnet-lite0")
"""
HOSTILE_NAMES = ["=cmd|' /C calc'!A0", "+SUM(1+1)", "\x1b[2J\x1b]0;owned\x07<img src=x onerror=alert(1)>"]


def security_round(case, work: Path) -> None:
    """Issue 29's security and data-loss cases: what a received run, hostile class and file names and
    outputs that name inputs do (docs/threat-model.md)."""
    case("init a run (names only)", ["init", "--classes", "cat,dog,car", "--out", "run3"], True)
    Image.fromarray(np.full((20, 20, 3), 90, np.uint8)).save(work / "=2+5.png")
    (work / "evilmod.py").write_text(EVIL_MODULE)
    evil = lambda r: (not (work / "evil-ran").exists(), "evilmod.py not imported")  # noqa: E731
    for spec in ("evilmod:make", "sys:exit"):
        folder = f"run-{spec.replace(':', '-')}"
        shutil.copytree(work / "run3", work / folder)
        _edit(work / folder, model=spec)
        case(f'predict a run whose run.json says "model": "{spec}"', ["predict", folder, "=2+5.png"], False, evil)
        case(f'export a run whose run.json says "model": "{spec}"', ["export", folder, "--onnx", "e.onnx"], False,
             evil)
    case("the same with --allow-code (the user trusts it)", ["predict", "run-evilmod-make", "=2+5.png",
                                                             "--allow-code"], True,
         lambda r: ((work / "evil-ran").read_text() == "called", "evilmod.make called, as asked"))

    images(work / "evaldata", 2)
    (work / "evalout").mkdir()
    (work / "victim.txt").write_text("the user's file")
    (work / "evalout" / "evaluation.json").symlink_to(work / "victim.txt")
    case("evaluate --out DIR with DIR/evaluation.json a link to the user's file", [
        "evaluate", "run3", "--data", "evaldata", "--out", "evalout"], True,
        lambda r: ((work / "victim.txt").read_text() == "the user's file"
                   and not (work / "evalout" / "evaluation.json").is_symlink(), "the link replaced, its target kept"))

    shutil.copytree(work / "run3", work / "hostile")
    meta = json.loads((work / "hostile" / "run.json").read_text())
    _edit(work / "hostile", class_names=HOSTILE_NAMES, labels=HOSTILE_NAMES,
          classes=[{**c, "name": n} for c, n in zip(meta["classes"], HOSTILE_NAMES)])

    def quoted(result):
        with open(work / "hostile.csv", newline="", encoding="utf-8") as f:
            header, row = list(csv.reader(f))
        cells = header[3:] + row[:2]
        return (not any(c.startswith(("=", "+", "-", "@")) for c in cells) and "\x1b" not in result.stdout,
                "no cell starts a formula; no escape code printed")
    case("predict --csv, class names =cmd.., +SUM.., ESC.. and image =2+5.png", [
        "predict", "hostile", "./=2+5.png", "--csv", "hostile.csv"], True, quoted)
    for name in ("a|b", "<img src=x onerror=alert(1)>", "two\nlines"):
        images(work / "hostile-data" / "train", 2, classes=(name,), seed=1)
        images(work / "hostile-data" / "test", 1, classes=(name,), seed=2)

    def tables(result):
        pages = [(work / "run-hostile" / page).read_text() for page in ("README.md", "report.md")]
        # each Markdown table (a run of lines starting with "|"): its "| " lines, separators not counted
        counts = [[sum(line.startswith("| ") for line in table.splitlines()) for table in
                   re.findall(r"(?:^\|.*\n)+", page, re.M)] for page in pages]
        good = all(counts) and all(n == 4 for page in counts for n in page) and not any("<img" in p for p in pages)
        return good, f"table rows {counts} (header + 3 classes each); no raw <img"
    case("fit classes named a|b, <img ...>, two\\nlines", ["fit", "--resolution", 64, "--epochs", 5, "--data",
                                                          "hostile-data", "--out", "run-hostile"], True, tables)

    (work / "list.csv").write_text("=2+5.png\n")
    before = {p: p.read_bytes() for p in [work / "list.csv", work / "=2+5.png", *(work / "run3").iterdir()]}
    intact = lambda r: (all(p.read_bytes() == b for p, b in before.items()), "inputs and run unchanged")  # noqa: E731
    for target in ("list.csv", "=2+5.png", "run3/run.json", "run3/README.md"):
        case(f"predict --csv {target} (an input or a run file)", ["predict", "run3", "list.csv", "--csv", target],
             False, intact)
    case("export --onnx into the run folder", ["export", "run3", "--onnx", "run3/model.onnx"], False, intact)
    case("evaluate --out a class folder of its data", ["evaluate", "run3", "--data", "evaldata", "--out",
                                                        "evaldata/cat"], False)


def security_main() -> None:
    """Only the security round (`python benchmarks/reliability.py --security`)."""
    work = Path(tempfile.mkdtemp(prefix="headstart-reliability-"))
    env = {**os.environ, "HEADSTART_CACHE": str(work / "cache"), "PYTHONWARNINGS": "ignore"}
    rows = []

    case = case_runner(rows, work, env)

    security_round(case, work)
    good = sum(r[-1] == "ok" for r in rows)
    print("# Reliability: a received run, hostile names, outputs that name inputs (issue 29)\n")
    print("Command: `python benchmarks/reliability.py --security > docs/results/reliability-security.md` (only "
          "this round of `benchmarks/reliability.py`; each case a real `python -m headstart --quiet ...` process "
          "in a scratch folder with its own cache; 2-core CPU, no GPU). What is promised: "
          "[docs/threat-model.md](../threat-model.md).\n")
    print(f"**{good} of {len(rows)} cases behave well; {len(rows) - good} do not.**\n")
    print_table(rows, work)
    shutil.rmtree(work, ignore_errors=True)
# -- issue 29: models, labels and exports as people have them ---------------------------------------

MODELS_29 = """
import torch
from torch import nn


class BiasFreeAux(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, bias=False), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc, self.side = nn.Linear(16, 8, bias=False), nn.Linear(16, 10, bias=False)
        self.aux = nn.Linear(10, 8, bias=False)

    def forward(self, x):
        h = self.body(x)
        return self.fc(h), self.aux(self.side(h))


def _net(outputs=4, bias=True):
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, outputs, bias=bias))


def bias_free_aux():
    return BiasFreeAux()


def bias_free_head():
    return _net(1000, bias=False)


def cfg_0_255():
    net = _net()
    net.pretrained_cfg = {"mean": (123.675, 116.28, 103.53), "std": (58.395, 57.12, 57.375), "input_size": 48}
    return net


def cfg_text_mean():
    net = _net()
    net.pretrained_cfg = {"mean": "0.5"}
    return net


def raises():
    raise RuntimeError("weights not found at /nowhere/model.pt")
"""

NAMES_IN_ANOTHER_ORDER = """
from pathlib import Path
import numpy as np
from PIL import Image
from headstart import HeadStart

files = sorted(Path("flat").rglob("*.png"))
images, labels = [np.asarray(Image.open(f)) for f in files], [f.parent.name for f in files]
HeadStart(method="logreg", resolution=64, epochs=20).fit(images, labels, ["dog", "cat", "car"]).save("run-named")
"""


def _vit_folder(folder: Path, n: int = 3, id2label: dict | None = None, **processor) -> str:
    """A tiny 32-px ViT saved as people save them, its processor's fields changed as given."""
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    torch.manual_seed(0)
    id2label = id2label or {i: f"c{i}" for i in range(n)}
    config = ViTConfig(image_size=32, patch_size=8, num_hidden_layers=1, hidden_size=16, num_attention_heads=2,
                       intermediate_size=32, num_labels=n, id2label=id2label,
                       label2id={v: k for k, v in id2label.items()})
    ViTForImageClassification(config).eval().save_pretrained(folder)
    ViTImageProcessor(image_mean=[0.5] * 3, image_std=[0.25] * 3, size={"height": 32, "width": 32}
                      ).save_pretrained(folder)
    path = folder / "preprocessor_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **processor}))
    return f"hf:{folder.name}"


class _Runs:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def models_round(case, rows: list, work: Path, env: dict) -> None:
    """Issue 29 items 5-8 and its tracebacks about models: hf: folders, own models, class names in
    another order than the labels, exports of an empty batch."""
    fit = ["fit", "--resolution", 64, "--method", "logreg", "--epochs", 20, "--data", "flat"]
    meta = lambda run: json.loads((work / run / "run.json").read_text())  # noqa: E731

    # -- own models (package.module:function) ---------------------------------------------------
    (work / "models29.py").write_text(MODELS_29)
    (work / "broken29.py").write_text("def make(:\n    pass\n")
    case("fit a bias-free model returning (fc(h), aux(h))", [*fit, "--model", "models29:bias_free_aux", "--out",
                                                              "r-aux"], True,
         lambda r: (meta("r-aux")["feature_dim"] == 16, f"head fc: {meta('r-aux')['feature_dim']} features"))
    images(work / "senses", 4, classes=("crane", "mouse", "bat"))
    case("fit the default method on a bias-free 1000-way head", ["fit", "--resolution", 64, "--epochs", 5, "--data",
                                                                  "senses", "--model", "models29:bias_free_head",
                                                                  "--out", "r-nobias"], True)
    case("fit a model whose pretrained_cfg is on 0-255, input_size=48",
         ["fit", "--method", "logreg", "--epochs", 20, "--data", "flat", "--model", "models29:cfg_0_255", "--out",
          "r-cfg"], True,
         lambda r: ((meta("r-cfg")["mean"][0], meta("r-cfg")["resolution"]) == (123.675, 48),
                    f"mean {meta('r-cfg')['mean'][0]}, {meta('r-cfg')['resolution']} px"))
    case("fit a model whose pretrained_cfg mean is \"0.5\"", [*fit, "--model", "models29:cfg_text_mean", "--out",
                                                              "r-text"], False)
    case("fit with a model function that raises", [*fit, "--model", "models29:raises", "--out", "r-raises"], False)
    case("fit with a model module with a syntax error", [*fit, "--model", "broken29:make", "--out", "r-syntax"], False)

    # -- class names given in another order than the labels -------------------------------------
    (work / "names29.py").write_text(NAMES_IN_ANOTHER_ORDER)
    made = subprocess.run([sys.executable, "names29.py"], cwd=work, env=env, capture_output=True, text=True,
                          timeout=900)
    case("predict a car with a run fitted with names [dog, cat, car]", ["predict", "run-named", "flat/car/0.png",
                                                                        "--json"], made.returncode == 0,
         lambda r: (meta("run-named")["class_names"] == meta("run-named")["labels"]
                    and json.loads(r.stdout)["top"][0]["class"] == "car",
                    f"names {meta('run-named')['class_names']}, top class {json.loads(r.stdout)['top'][0]['class']}"))

    # -- exports on an empty batch ----------------------------------------------------------------
    def empty_batch(file: str):
        def check(result):
            import warnings

            import onnxruntime

            empty = np.zeros((0, 40, 50, 3), np.uint8)
            if file.endswith(".onnx"):
                shape = onnxruntime.InferenceSession(str(work / file)).run(None, {"images": empty})[0].shape
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    shape = tuple(torch.jit.load(str(work / file))(torch.from_numpy(empty)).shape)
            return len(shape) == 2 and shape[0] == 0, f"empty batch -> {list(shape)}"  # [0, C]
        return check

    case("export --onnx, then run an empty batch", ["export", "run-plain", "--onnx", "e29.onnx"], True,
         empty_batch("e29.onnx"))
    case("export --torchscript, then run an empty batch", ["export", "run-plain", "--torchscript", "e29.pt"], True,
         empty_batch("e29.pt"))

    # -- Hugging Face folders -------------------------------------------------------------------
    try:
        import transformers  # noqa: F401
    except ImportError:
        rows.append(("hf: folders", "(tiny ViT folders)", "", "not run: transformers is not installed", "", "skipped"))
        return
    widgets = _vit_folder(work / "hf-widgets", 1000, {i: f"widget{i}" for i in range(1000)})
    case("init with an hf: 1000-way head labelled widget0..widget999", ["init", "--model", widgets, "--classes",
                                                                         "cat,dog", "--out", "r-widgets"], True,
         lambda r: (all(c["source"] == "text" for c in meta("r-widgets")["classes"]),
                    "no ImageNet WordNet ids: " + ", ".join(c["source"] for c in meta("r-widgets")["classes"])))
    scaled = _vit_folder(work / "hf-255", image_mean=[127.5] * 3, image_std=[63.75] * 3)
    case("fit an hf: folder whose image_mean/std are on 0-255", [fit[0], *fit[3:], "--model", scaled, "--out", "r-255"],
         True,
         lambda r: (meta("r-255")["mean"] == [127.5] * 3, f"mean {meta('r-255')['mean']}"))
    case("fit an hf: 32-px ViT at --resolution 64", [*fit, "--model", scaled, "--out", "r-vit64"], False)
    for name, change in [("image_mean \"0.5\"", dict(image_mean="0.5")),
                         ("processor size 64 for a 32-px ViT", dict(size={"height": 64, "width": 64}))]:
        folder = _vit_folder(work / f"hf-{len(rows)}", **change)
        case(f"fit an hf: folder with {name}", [*fit, "--model", folder, "--out", f"r-{len(rows)}"], False)
    holed = _vit_folder(work / "hf-hole")
    config = json.loads((work / "hf-hole" / "config.json").read_text())
    (work / "hf-hole" / "config.json").write_text(json.dumps({**config, "id2label": {"0": "a", "2": "c"}}))
    case("fit an hf: folder whose id2label has a hole", [*fit, "--model", holed, "--out", "r-hole"], False)
    evil = _vit_folder(work / "hf-pickle")
    (work / "hf-pickle" / "model.safetensors").unlink()
    marker = work / "pickle-ran"
    import pickle

    (work / "hf-pickle" / "pytorch_model.bin").write_bytes(pickle.dumps({"w": _Runs(str(marker))}, protocol=2))
    case("fit an hf: folder with a malicious pytorch_model.bin", [*fit, "--model", evil, "--out", "r-pickle"], False,
         lambda r: (not marker.exists(), "the pickle did not run"))


# -- issue 29, third round: files, images, caches and messages ----------------------------------------------

WITH_PEAK = """
import resource, runpy, sys
sys.argv = ["headstart", *sys.argv[1:]]
try:
    runpy.run_module("headstart", run_name="__main__", alter_sys=True)
finally:
    print(f"peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB", file=sys.stderr)
"""

NO_LOCKS = """
import errno, fcntl, runpy, sys
def flock(fd, operation):
    raise OSError(errno.ENOLCK, "No locks available")
fcntl.flock = flock  # what NFS without its lock daemon answers
sys.argv = ["headstart", *sys.argv[1:]]
runpy.run_module("headstart", run_name="__main__", alter_sys=True)
"""


def _png_of_size(path: Path, width: int, height: int) -> Path:
    """A gray PNG declaring width x height, written row by row: a few hundred kB."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\0" + (bytes(range(256)) * (width // 256 + 1))[:width]
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


def files_round(case, rows: list, work: Path, env: dict) -> None:
    """Issue 29's items on files, images, caches and messages (the third probe's 'bad' cases)."""
    fit = ["fit", "--resolution", 64, "--method", "logreg", "--epochs", 20]
    images(work / "f-data", 6)
    case("fit a folder (the third round's run)", [*fit, "--data", "f-data", "--out", "f-run"], True)
    warned = {k: v for k, v in env.items() if k != "PYTHONWARNINGS"}  # these cases read the warnings
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(work / "f-tiny.png")

    def warning(result) -> str:  # the warning a user reads (first_line shows the code line below it)
        said = [line.split("UserWarning: ", 1)[1] for line in result.stderr.splitlines() if "UserWarning: " in line]
        return (said or ["no warning"])[0].replace(str(work), "SCRATCH")[:110]

    def raw(name: str, script: str, args, check) -> None:  # python -c SCRIPT ARGS: headstart with a probe around it
        result = subprocess.run([sys.executable, "-c", script, "--quiet", *map(str, args)], cwd=work, env=env,
                                capture_output=True, text=True, timeout=900)
        good, note = check(result)
        good = good and "Traceback" not in result.stderr
        rows.append((name, " ".join(["headstart", *map(str, args)]), result.returncode, first_line(result), note,
                     "ok" if good else "BAD"))
        print(f"{'ok ' if good else 'BAD'} {name}", file=sys.stderr)

    # exports fed headstart.load_image give predict's probabilities on files PIL's convert("RGB") decodes otherwise
    rotated = np.zeros((30, 60, 3), np.uint8)
    rotated[:, :20, 0], rotated[:, 20:, 2] = 250, 180
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(rotated).save(work / "rotated.jpg", exif=exif, quality=95)
    Image.fromarray(np.linspace(0, 60000, 1600).reshape(40, 40).astype(np.uint16)).save(work / "deep16.png")
    Image.fromarray(np.linspace(0, 1, 1500, dtype=np.float32).reshape(30, 50), mode="F").save(work / "float.tif")
    awkward = ["rotated.jpg", "deep16.png", "float.tif"]
    case("export f-run to ONNX", ["export", "f-run", "--onnx", "f.onnx"], True)

    def export_matches(result):
        import onnxruntime

        import headstart as hs

        if not hasattr(hs, "load_image"):
            return False, "no headstart.load_image"
        session = onnxruntime.InferenceSession(str(work / "f.onnx"))
        with open(work / "f-pred.csv", newline="") as f:
            predicted = {Path(r["image"]).name: r for r in csv.DictReader(f)}
        gaps = []
        for name in awkward:
            (got,) = session.run(None, {"images": hs.load_image(work / name)[None]})
            want = np.array([float(predicted[name][c]) for c in ("car", "cat", "dog")])
            gaps.append(float(np.abs(got[0] - want).max()))
        return max(gaps) < 1e-3, "export(load_image) vs predict: " + ", ".join(f"{g:.1e}" for g in gaps)
    case("export on load_image() of a rotated JPEG, 16-bit PNG, float TIFF", ["predict", "f-run", *awkward, "--csv",
                                                                              "f-pred.csv"], True, export_matches)

    # a 137 kB-like PNG declaring 12000 x 12000 pixels
    _png_of_size(work / "huge.png", 12000, 12000)
    raw("predict a 12000x12000 PNG (peak memory)", WITH_PEAK, ["predict", "f-run", "huge.png"],
        lambda r: (r.returncode == 0 and int(r.stderr.split("peak ")[1].split()[0]) < 1500,
                   r.stderr.strip().splitlines()[-1] + " (3.4 GB more before)"))

    # evaluate: fit's warning for skipped files, and the layouts fit reads
    shutil.copytree(work / "f-data", work / "f-broken")
    (work / "f-broken" / "cat" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a whole JPEG")
    case("evaluate a folder with an undecodable JPEG", ["evaluate", "f-run", "--data", "f-broken"], True,
         lambda r: ("skipped 1 non-image or unreadable files" in r.stderr, warning(r)), case_env=warned)
    (work / "f-trainval").mkdir()
    shutil.copytree(work / "f-data", work / "f-trainval" / "train")
    shutil.copytree(work / "f-data", work / "f-trainval" / "validation")
    (work / "f-lonetrain").mkdir()
    shutil.copytree(work / "f-data", work / "f-lonetrain" / "train")
    shutil.copytree(work / "f-data" / "dog", work / "f-oneclass" / "dog")
    for label, folder, count in (("train/ + validation/", "f-trainval", 18), ("a lone train/", "f-lonetrain", 18),
                                 ("a one-class folder", "f-oneclass", 6)):
        # copies of the run's own images: --include-training scores them (the layout is what is tried here)
        case(f"evaluate {label}", ["evaluate", "f-run", "--data", folder, "--include-training"], True,
             lambda r, count=count: (r.stdout.startswith(f"{count} images:"), f"{count} images scored"))
    case("init café,dog", ["init", "--classes", "café,dog", "--out", "f-cafe"], True)
    for name, form in (("café", "NFD"), ("dog", "NFC")):
        shutil.copytree(work / "f-data" / ("cat" if name == "café" else name),
                        work / "f-nfd" / unicodedata.normalize(form, name))
    case("evaluate class folders spelt NFD (macOS) against NFC names", ["evaluate", "f-cafe", "--data", "f-nfd"], True)

    # evaluate --out: onto a file, into the run, on 400 classes
    (work / "taken.json").write_text("the user's file")
    case("evaluate --out onto an existing file", ["evaluate", "f-run", "--data", "f-data", "--out", "taken.json"],
         False, lambda r: ((work / "taken.json").read_text() == "the user's file", "file intact"))
    case("evaluate --out RUN", ["evaluate", "f-run", "--data", "f-data", "--out", "f-run"], True)
    case("fit again into RUN after evaluate --out RUN", [*fit, "--data", "f-data", "--out", "f-run"], True)
    names = [f"class{i:03d}" for i in range(400)]
    headstart("init", "--classes", ",".join(names), "--method", "zero", "--out", "f-400", cwd=work, env=env)
    for i, name in enumerate(names):
        (work / "f-400-data" / name).mkdir(parents=True)
        Image.fromarray(np.full((8, 8, 3), i % 256, np.uint8)).save(work / "f-400-data" / name / "0.png")

    def plot_size(result):
        with Image.open(work / "f-400-eval" / "confusion.png") as plot:
            return max(plot.size) <= 1600, f"confusion.png {plot.size[0]}x{plot.size[1]} px (16200 px before)"
    case("evaluate --out on a 400-class run", ["evaluate", "f-400", "--data", "f-400-data", "--out", "f-400-eval"],
         True, plot_size)

    # the feature cache: two rows swapped together with their checksums
    images(work / "f-swap", 6)
    case("fit a folder (fills the cache)", [*fit, "--data", "f-swap", "--out", "f-swap-run"], True)
    for path in (work / "cache" / "features").iterdir():
        header = path.read_bytes()[:4096]
        if b"folder-f-swap-" in header and b"|train" in header:
            meta = json.loads(header.split(b"\n", 1)[1].decode().strip())
            values, size = 4096 + -(-8 * meta["rows"] // 64) * 64, 4 * meta["dim"]
            with open(path, "r+b") as f:
                for start, width in ((4096, 8), (values, size)):
                    f.seek(start)
                    first, second = f.read(width), f.read(width)
                    f.seek(start)
                    f.write(second + first)

    def like_empty_cache(result):
        fresh = {**env, "HEADSTART_CACHE": str(work / "f-empty-cache")}
        headstart(*fit, "--data", "f-swap", "--out", "f-swap-control", cwd=work, env=fresh)
        same = torch.allclose(load_file(str(work / "f-swap-run2" / "head.safetensors"))["weight"],
                              load_file(str(work / "f-swap-control" / "head.safetensors"))["weight"], atol=1e-5)
        return same and "do not match their checksums" in result.stderr, \
            f"{'same head as' if same else 'another head than'} an empty cache's; {warning(result)}"
    case("fit after swapping two cached rows with their checksums", [*fit, "--data", "f-swap", "--out", "f-swap-run2"],
         True, like_empty_cache, case_env=warned)

    # tracebacks that are now one line
    listing = [f"f-data/cat/{i}.png" for i in range(3)]
    (work / "latin1.csv").write_bytes(("path\n" + "\n".join(listing) + "\ncaf\xe9.png\n").encode("latin-1"))
    case("predict a Latin-1 CSV", ["predict", "f-run", "latin1.csv"], False)
    shutil.copytree(work / "f-run", work / "f-deep")
    (work / "f-deep" / "run.json").write_text("[" * 200_000 + "]" * 200_000)
    case("predict with a run.json nested 200,000 deep", ["predict", "f-deep", "f-tiny.png"], False)
    raw("bench where flock fails with ENOLCK (NFS; simulated)", NO_LOCKS,
        ["bench", "--methods", "zero", "--shots", 1, "--dataset", "f-data", "--seeds", 1, "--epochs", 2,
         "--resolution", 64, "--out", "f-nfs"],
        lambda r: (r.returncode == 2 and "No locks available" in first_line(r), "one line naming it"))

    # documentation is not the model; predict's CSV lists as fit reads them
    for label, change in (("a note appended to README.md", lambda f: open(f / "README.md", "a").write("\nmy note\n")),
                          ("README.md deleted", lambda f: (f / "README.md").unlink()),
                          ("report.md in CRLF", lambda f: (f / "report.md").write_bytes(
                              (f / "report.md").read_bytes().replace(b"\n", b"\r\n")))):
        folder = work / f"f-doc-{label.split()[0]}{len(label)}"
        shutil.copytree(work / "f-run", folder)
        change(folder)
        case(f"predict with {label}", ["predict", folder.name, "f-tiny.png"], True,
             lambda r: ("the model's files are intact" in r.stderr, warning(r)), case_env=warned)
    (work / "bom.csv").write_bytes(("path\n" + "\n".join(listing) + "\n").encode("utf-8-sig"))
    case("predict a UTF-8 CSV with a byte-order mark", ["predict", "f-run", "bom.csv"], True,
         lambda r: (len(r.stdout.splitlines()) == 3, "3 images"))
    (work / "folders.csv").write_text("path\nf-data/cat\nf-data/dog/0.png\n")
    case("predict a CSV whose row names a folder", ["predict", "f-run", "folders.csv"], True,
         lambda r: (len(r.stdout.splitlines()) == 7, "6 images of the folder + 1"))


def _unique_rows(out: Path) -> bool:
    with open(out / "results.csv", newline="") as f:
        keys = [(r["method"], r["shots"], r["seed"], r["epoch"]) for r in csv.DictReader(f)]
    return len(keys) == len(set(keys)) > 0


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def hash_cost() -> list[str]:
    """What hashing every image's bytes (the dataset key) costs per 1,000 images, warm page cache."""
    from headstart.data.folder import file_digest

    lines = []
    for name in ("caltech50", "cifar10-small"):
        folder = ROOT.parent / "shared" / "datasets" / name
        files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))[:1000]
        for path in files:  # reads the files into the page cache, as a second run finds them
            path.read_bytes()
        start = time.perf_counter()
        for path in files:
            file_digest(path)
        seconds = time.perf_counter() - start
        kib = sum(p.stat().st_size for p in files) / len(files) / 1024
        lines.append(f"{name}: {1000 * seconds / len(files) * 1000:.0f} ms per 1,000 images ({kib:.1f} KiB each)")
    return lines


def _edit(folder: Path, **changes) -> None:
    meta = json.loads((folder / "run.json").read_text())
    meta.update(changes)
    (folder / "run.json").write_text(json.dumps(meta))


if __name__ == "__main__":
    security_main() if sys.argv[1:] == ["--security"] else main()
