"""Each promise of docs/threat-model.md, tested as an attacker would try it (issue 29): a received run
folder, a received dataset, class names from anywhere. One test (or parametrised test) per promise,
named after it; `test_the_doc_lists_these_promises` keeps the doc and this file in step."""

from __future__ import annotations

import csv
import json
from html import escape
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from headstart import HeadStart, Predictor
from headstart.errors import UserError
from headstart.safe_text import visible
from helpers import ROOT, run_main

ESC = "\x1b"
HOSTILE = ["=cmd|' /C calc'!A0", "+SUM(1+1)", "-", "@x", "\tTab", "\rcr", "<img src=x onerror=alert(1)>",
           f"{ESC}[31mred{ESC}[0m{ESC}]0;title\a", "a|b", "two\nlines", "[x](javascript:alert(1))"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A real run of three classes (names only, 32 px). The ONNX exports that predict makes of it and of
    a received copy (cached by run.json) are made here, once, not inside the first test that predicts."""
    folder = HeadStart("efficientnet-lite0", resolution=32).fit(None, None, ["cat", "dog", "car"]).save(
        tmp_path_factory.mktemp("threat") / "run")
    for predicted in (folder, received(folder, tmp_path_factory.mktemp("warm"))):
        Predictor(predicted)
    return folder


def received(run, tmp_path, name="received", **changes) -> Path:
    """A copy of `run` whose run.json was edited by whoever sent it."""
    folder = Path(shutil.copytree(run, tmp_path / name))
    meta = json.loads((folder / "run.json").read_text())
    meta.update(changes)
    (folder / "run.json").write_text(json.dumps(meta))
    return folder


def renamed(run, tmp_path, names, name="hostile") -> Path:
    """A received run whose classes carry `names` (run.json's class names, labels and senses)."""
    meta = json.loads((run / "run.json").read_text())
    classes = [{**c, "name": n} for c, n in zip(meta["classes"], names)]
    return received(run, tmp_path, name, class_names=list(names), labels=list(names), classes=classes)


def image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(path)
    return path


def cli(*args, cwd):
    """`python -m headstart ARGS` in a fresh process started in `cwd` (which Python puts on sys.path)."""
    paths = [p for p in (os.environ.get("PYTHONPATH"), str(ROOT)) if p]  # the package under test, else this one
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    return subprocess.run([sys.executable, "-m", "headstart", "--quiet", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def one_error_line(err: str, *needles: str) -> None:
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert all(n in errors[0] for n in needles), errors[0]


# -- 1. loading a run never imports or calls code ------------------------------------------------

EVIL = """
from pathlib import Path

Path({marker!r}).write_text("ran")


def make():
    Path({marker!r}).write_text("called")
    import headstart
    return headstart.load_source("efficientnet-lite0")
"""


def evil_run(run, tmp_path, spec="evilmod:make") -> tuple[Path, Path]:
    folder = received(run, tmp_path, model=spec)
    marker = tmp_path / "marker"
    (folder / "evilmod.py").write_text(EVIL.format(marker=str(marker)))
    image(folder / "img.png")
    return folder, marker


@pytest.mark.slow
@pytest.mark.parametrize("command", [["predict", ".", "img.png"], ["export", ".", "--onnx", "../m.onnx"],
                                     ["evaluate", ".", "--data", "."]])
def test_p1_a_received_run_never_runs_the_code_it_names(run, tmp_path, command):
    folder, marker = evil_run(run, tmp_path)
    result = cli(*command, cwd=folder)
    assert result.returncode == 2, result.stdout + result.stderr
    one_error_line(result.stderr, "--allow-code", "evilmod:make")
    assert not marker.exists()
    with pytest.raises(UserError, match="allow-code"):
        HeadStart.load(folder)
    assert not marker.exists()


@pytest.mark.slow
def test_p1_a_run_naming_sys_exit_is_refused_not_obeyed(run, tmp_path):
    folder, _ = evil_run(run, tmp_path, "sys:exit")
    result = cli("predict", ".", "img.png", cwd=folder)
    assert result.returncode == 2
    one_error_line(result.stderr, "--allow-code", "sys:exit")


@pytest.mark.slow
def test_p1_code_named_by_a_run_runs_only_when_the_caller_allows_it(run, tmp_path):
    folder, marker = evil_run(run, tmp_path)
    result = cli("predict", ".", "img.png", "--allow-code", cwd=folder)
    assert result.returncode == 0 and result.stdout.startswith("img.png: "), result.stderr
    assert marker.read_text() == "called"  # the caller's choice, and the proof the test above could fail
    from headstart.sources import load_source

    assert HeadStart.load(folder, source=load_source("efficientnet-lite0")).predict_proba(
        [np.zeros((20, 20, 3), np.uint8)]).shape == (1, 3)


# -- 2. a run whose files do not belong together is refused -------------------------------------


def test_p2_a_run_with_a_changed_head_or_malformed_run_json_is_one_error(run, tmp_path, monkeypatch, capsys):
    folder = received(run, tmp_path)
    head = bytearray((folder / "head.safetensors").read_bytes())
    head[-1] ^= 1  # one bit of one weight
    (folder / "head.safetensors").write_bytes(bytes(head))
    image(tmp_path / "img.png")
    code, out, err = run_main(monkeypatch, capsys, "predict", folder, tmp_path / "img.png")
    assert code == 2 and out == ""
    one_error_line(err, "does not belong to this run")
    malformed = received(run, tmp_path, "malformed", resolution="<script>")
    with pytest.raises(UserError, match="resolution must be an integer"):
        HeadStart.load(malformed)


# -- 3. outputs never overwrite inputs nor land in the run folder --------------------------------


def labelled(folder: Path, names=("cat", "dog", "car")) -> Path:
    for i, name in enumerate(names):
        image(folder / name / f"{i}.png")
    return folder


def snapshot(*folders: Path) -> dict:
    return {p: p.read_bytes() for f in folders for p in sorted(f.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", ["input CSV", "input image", "link to the input image", "hard link to the image",
                                  "RUN/run.json", "RUN/README.md", "RUN/new.csv", "evaluate into the data",
                                  "evaluate onto RUN/run.json", "export into RUN", "fit into the data",
                                  "init into the unlabelled images"])
def test_p3_an_output_is_never_an_input_nor_inside_the_run(run, tmp_path, monkeypatch, capsys, case):
    folder, data = received(run, tmp_path), labelled(tmp_path / "data")
    (tmp_path / "list.csv").write_text("data/cat/0.png\ndata/dog/1.png\n")
    (tmp_path / "link.png").symlink_to(data / "cat" / "0.png")
    os.link(data / "dog" / "1.png", tmp_path / "hard.png")
    predict = ["predict", folder, "list.csv", "data/car/2.png", "--csv"]  # list.csv names cat/0.png, dog/1.png
    args = {"input CSV": [*predict, "list.csv"], "input image": [*predict, "data/car/2.png"],
            "link to the input image": [*predict, "link.png"], "hard link to the image": [*predict, "hard.png"],
            "RUN/run.json": [*predict, folder / "run.json"], "RUN/README.md": [*predict, folder / "README.md"],
            "RUN/new.csv": [*predict, folder / "new.csv"],
            "evaluate into the data": ["evaluate", folder, "--data", data, "--out", data / "cat"],
            "evaluate onto RUN/run.json": ["evaluate", folder, "--data", data, "--out", folder / "run.json"],
            "export into RUN": ["export", folder, "--onnx", folder / "model.onnx"],
            "fit into the data": ["fit", "--data", data, "--out", data / "run"],
            "init into the unlabelled images": ["init", "--classes", "cat,dog", "--unlabelled", data, "--out",
                                                data / "run"]}[case]
    before = snapshot(folder, data, tmp_path)
    monkeypatch.chdir(tmp_path)
    code, _, err = run_main(monkeypatch, capsys, *args)
    assert code == 2, err
    one_error_line(err, "this command")  # refused as an input, not for another reason
    assert snapshot(folder, data, tmp_path) == before


# -- 4. a planted link is replaced, never followed -----------------------------------------------


@pytest.mark.slow
def test_p4_a_link_planted_where_evaluate_writes_is_replaced_not_followed(run, tmp_path, monkeypatch, capsys):
    data, out = labelled(tmp_path / "data"), tmp_path / "eval"
    out.mkdir()
    victims = {name: tmp_path / f"victim-{name}" for name in ("evaluation.json", "confusion.png")}
    for name, victim in victims.items():
        victim.write_text("the user's file")
        (out / name).symlink_to(victim)
    code, _, err = run_main(monkeypatch, capsys, "--quiet", "evaluate", run, "--data", data, "--out", out)
    assert code == 0, err
    assert all(v.read_text() == "the user's file" for v in victims.values())
    assert not any((out / name).is_symlink() for name in victims)
    assert json.loads((out / "evaluation.json").read_text())["images"] == 3


# -- 5-7. class names stay text: terminal, Markdown, CSV -----------------------------------------

TERMINAL_NAMES = [f"{ESC}[2J{ESC}]0;owned\a", "two\nlines\rback", "right\u202eleft"]


@pytest.mark.slow
def test_p5_class_names_never_reach_the_terminal_as_control_codes(run, tmp_path, monkeypatch, capsys):
    folder = renamed(run, tmp_path, TERMINAL_NAMES)
    data = labelled(tmp_path / "data", TERMINAL_NAMES)
    for command in (["predict", folder, data / TERMINAL_NAMES[0] / "0.png", "--top", 3],
                    ["evaluate", folder, "--data", data]):
        code, out, err = run_main(monkeypatch, capsys, "--quiet", *command)
        assert code == 0, err
        assert not any(c in out + err for c in (ESC, "\r", "\a", "\u202e")), repr(out + err)
        assert "\\x1b[2J" in out and "two\\nlines" in out
    # each class's row of the report is one line: a name's newline did not start another
    assert sum(line.lstrip().startswith(visible_name) for line in out.splitlines()
               for visible_name in ("\\x1b[2J", "two\\nlines", "right\\u202eleft")) >= 3
    (data / f"new{ESC}[31m").mkdir()  # a class the run does not know: named in the error, as text
    image(data / f"new{ESC}[31m" / "0.png")
    code, out, err = run_main(monkeypatch, capsys, "--quiet", "evaluate", folder, "--data", data)
    assert code == 2 and ESC not in err
    one_error_line(err, "new\\x1b[31m")


@pytest.mark.slow
def test_p5_warnings_name_files_without_their_control_codes(tmp_path):
    data = tmp_path / "data"
    for name in ("cat", "dog"):
        for i in range(3):
            image(data / name / f"{i}.png")
    (data / "cat" / f"bad{ESC}[31m.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    result = cli("fit", "--data", "data", "--resolution", 32, "--epochs", 1, "--out", "run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "bad\\x1b[31m.jpg" in result.stderr and ESC not in result.stderr + result.stdout


def rendered(markdown: str) -> str:
    markdown_it = pytest.importorskip("markdown_it")
    return markdown_it.MarkdownIt("commonmark").enable("table").render(markdown)


def test_p6_class_names_stay_text_in_the_model_card_and_report(run, tmp_path):
    from dataclasses import replace

    from headstart.card import model_card
    from headstart.fit import fit_report
    from headstart.run_folder import load_run

    meta = load_run(run).meta
    names = HOSTILE[:7]  # 7 classes, among them `a|b` and `two\nlines`
    names[3:5] = ["a|b", "two\nlines"]
    classes = [{"name": n, "synset": None, "source": "text", "how": f"text embedding of {n!r}"} for n in names]
    meta = replace(meta, class_names=names, labels=names, classes=classes, model="evil<script>alert(1)</script>`x",
                   training={"epochs": 1, "learning_rate": 0.1, "seed": 0, "data": "d`<b>"},
                   metrics={"train_images": "<b>9</b>", "test_images": 3, "accuracy_before_training": 0.5,
                            "test_accuracy": 0.5})
    for page in (model_card(meta), fit_report(tmp_path / "<i>run", meta)):
        html = rendered(page)
        assert html.count("<tr>") == 1 + len(names)  # the header and one row per class
        assert not re.search(r"<(img|script|a|b|i)\b", html), html
        assert ESC not in page and "\t" not in page and "\r" not in page
        for name in names:  # each name still there, as the text it is (control characters written out)
            assert escape(visible(name), quote=False).replace('"', "&quot;") in html, name


@pytest.mark.parametrize("names", [HOSTILE[:3], HOSTILE[3:6]])
@pytest.mark.slow
def test_p7_no_csv_cell_starts_a_spreadsheet_formula(run, tmp_path, monkeypatch, capsys, names):
    folder = renamed(run, tmp_path, names)
    images = [f"./{image(tmp_path / n).name}" for n in ("=2+5.png", "-1.png", "plain.png")]  # ./: not an option
    monkeypatch.chdir(tmp_path)  # the images named as a user in their folder names them
    code, out, err = run_main(monkeypatch, capsys, "--quiet", "predict", folder, *images, "--csv", "p.csv")
    assert code == 0, err
    with open(tmp_path / "p.csv", newline="", encoding="utf-8") as f:
        header, *rows = list(csv.reader(f))
    assert header == ["image", "prediction", "probability", *("'" + n for n in names)]  # the names, quoted
    assert len(rows) == 3
    for row in rows:
        assert row[0] in ("'=2+5.png", "'-1.png", "plain.png")
        assert row[1] in header[3:]
        assert all(0 <= float(v) <= 1 for v in row[2:])


# -- 8-9. received datasets ----------------------------------------------------------------------


@pytest.mark.slow
def test_p8_file_names_stay_text_in_the_terminal_and_the_csv(run, tmp_path, monkeypatch, capsys):
    names = [f"{ESC}[2Jwipe.png", "=HYPERLINK(1).png", "@SUM(1).png"]
    for n in names:
        image(tmp_path / n)
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(monkeypatch, capsys, "--quiet", "predict", run, *names, "--csv", "p.csv")
    assert code == 0 and ESC not in out and len(out.splitlines()) == 3
    assert out.startswith("\\x1b[2Jwipe.png: ")
    with open(tmp_path / "p.csv", newline="", encoding="utf-8") as f:
        cells = [row[0] for row in list(csv.reader(f))[1:]]
    assert cells == [names[0], "'" + names[1], "'" + names[2]]


def test_p9_an_image_is_only_decoded_and_an_oversized_one_is_one_error(run, tmp_path, monkeypatch, capsys):
    import struct
    import zlib

    path = image(tmp_path / "bomb.png")
    png = bytearray(path.read_bytes())
    ihdr = struct.pack(">II", 100_000, 100_000) + bytes(png[24:29])  # declares 100000 x 100000 pixels
    png[16:29] = ihdr
    png[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    path.write_bytes(bytes(png))
    code, out, err = run_main(monkeypatch, capsys, "--quiet", "predict", run, path)
    assert code == 2 and out == ""
    one_error_line(err, "bomb.png")


# -- 10. received hf: folders --------------------------------------------------------------------

MODELING = """
from pathlib import Path
Path({marker!r}).write_text("imported")
"""


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "unpickled"))


def test_p10_an_hf_folder_is_read_as_config_and_safetensors_never_run(tmp_path):
    pytest.importorskip("transformers")
    import pickle

    import torch
    from transformers import ViTConfig, ViTForImageClassification

    from headstart.sources import load_source

    torch.manual_seed(0)
    folder, marker = tmp_path / "vit", tmp_path / "marker"
    config = ViTConfig(image_size=32, patch_size=8, num_hidden_layers=1, hidden_size=16, num_attention_heads=2,
                       intermediate_size=32, num_labels=2, id2label={0: "cat", 1: "dog"}, label2id={"cat": 0, "dog": 1})
    ViTForImageClassification(config).eval().save_pretrained(folder)
    settings = json.loads((folder / "config.json").read_text())
    settings["auto_map"] = {"AutoModelForImageClassification": "modeling_evil.Evil"}
    (folder / "config.json").write_text(json.dumps(settings))
    (folder / "modeling_evil.py").write_text(MODELING.format(marker=str(marker)))
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(_Evil(marker)))
    source = load_source(f"hf:{folder}")
    assert source.names == ["cat", "dog"] and not marker.exists()
    (folder / "model.safetensors").unlink()  # only the pickle left: refused, never unpickled
    with pytest.raises(Exception):
        load_source(f"hf:{folder}")
    assert not marker.exists()


# -- the doc and these tests ---------------------------------------------------------------------


def test_the_doc_lists_these_promises():
    doc = (ROOT / "docs" / "threat-model.md").read_text(encoding="utf-8")
    promised = {int(n) for n in re.findall(r"^(\d+)\. \*\*", doc, flags=re.M)}
    tested = {int(name.split("_")[1][1:]) for name in globals() if re.match(r"test_p\d+_", name)}
    assert promised == tested == set(range(1, len(promised) + 1))
