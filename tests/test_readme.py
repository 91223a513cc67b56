"""The README's examples, run as they are written: the command lines of its "Try it" block, its
Python block, and the ONNX round trip of "Use the result without headstart"."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from helpers import ROOT, shared_dataset

README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end > 0 else None]


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.DOTALL)


def try_commands() -> list[list[str]]:
    block = section("Command line").split("`tests/test_readme.py` runs these lines as they are:", 1)[1]
    lines = []
    for line in block.splitlines()[1:]:
        if not line.strip():
            if lines:
                break
            continue
        lines.append(shlex.split(line.strip()))
    return lines


@pytest.mark.slow
def test_the_command_line_examples_and_the_onnx_round_trip(tmp_path, monkeypatch):
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    commands = try_commands()
    assert [c[:2] for c in commands] == [["headstart", "export-images"], ["headstart", "fit"], ["headstart", "predict"],
                                          ["headstart", "evaluate"], ["headstart", "export"]]
    for command in commands:
        result = subprocess.run([sys.executable, "-m", *command], cwd=tmp_path, env=env, capture_output=True,
                                text=True, timeout=600)
        assert result.returncode == 0, (command, result.stderr)
    assert (tmp_path / "predictions.csv").is_file() and (tmp_path / "evaluation" / "reliability.png").is_file()
    assert (tmp_path / "run" / "README.md").is_file()
    (onnx_example,) = python_blocks(section("Use the result without headstart"))
    monkeypatch.chdir(tmp_path)
    path = sorted((tmp_path / "fm" / "test" / "Bag").iterdir())[0]
    namespace = {"path": path}
    exec(onnx_example, namespace)
    assert namespace["classes"][int(namespace["probabilities"].argmax())] in namespace["classes"]


@pytest.mark.slow
def test_the_python_example(tmp_path, monkeypatch):
    from headstart.data import load_image_folder
    from headstart.protocol import few_shot_indices

    data = load_image_folder(shared_dataset("caltech50"))
    chosen = [data.class_names.index(name) for name in ("ant", "butterfly", "strawberry")]

    def pick(split, per_class):
        idx = few_shot_indices(split.labels, per_class, seed=0)
        idx = idx[np.isin(split.labels[idx], chosen)]
        images = [np.asarray(im.resize((64, 64), Image.BILINEAR)) for im in split.load(idx)]
        return images, [data.class_names[i] for i in split.labels[idx]]

    images, labels = pick(data.train, 2)
    new_images, _ = pick(data.test, 1)
    (example,) = python_blocks(section("Python"))
    monkeypatch.chdir(tmp_path)
    namespace = {"images": images, "labels": labels, "new_images": new_images}
    exec(example, namespace)
    assert list(namespace["clf"].classes_) == ["ant", "butterfly", "strawberry"]
    assert len(namespace["scores"]) == 2 and namespace["clf"].get_params()["epochs"] == 50  # restored by load
