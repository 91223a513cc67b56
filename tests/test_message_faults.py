"""One-line errors that name the real cause, second round (issue 22, items 10b, 10c, 11a)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import headstart
from headstart.data import load_image_folder
from headstart.data.features import extract
from headstart.errors import UserError
from own_models import convnet


def needs_arguments(width):
    return convnet()


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_a_model_of_another_dtype_is_named_by_its_dtype(dtype):
    source = headstart.SourceModel.from_module(convnet().to(dtype), head="fc", labels=[f"c{i}" for i in range(5)])
    images = [np.zeros((32, 32, 3), np.uint8)] * 2
    with pytest.raises(UserError, match=str(dtype)) as error:
        extract(source, images, 32, backend="torch", device="cpu")
    assert "resolution" not in str(error.value)


def test_a_model_function_that_needs_arguments_is_one_line():
    with pytest.raises(UserError, match="without arguments"):
        headstart.load_source(f"{__name__}:needs_arguments")


def test_a_file_given_as_dataset_folder_says_it_is_a_file(tmp_path):
    (tmp_path / "images.txt").write_text("cat/1.png\n")
    with pytest.raises(UserError, match="is a file, not a dataset.*path,label"):
        load_image_folder(tmp_path / "images.txt")


def raises_inside():
    raise RuntimeError("weights not found at /nowhere/model.pt")


@pytest.mark.parametrize("module, spec, message", [
    (None, f"{__name__}:raises_inside",
     r"the model function .*:raises_inside failed \(RuntimeError: weights not found"),
    ("def make(:\n    pass\n", "broken_syntax_models:make",
     r"cannot import broken_syntax_models .*\(SyntaxError: .*\): fix that module"),
    ("raise KeyError('MODEL_HOME')\n", "raising_at_import_models:make", r"\(KeyError: 'MODEL_HOME'\)"),
])
def test_a_model_module_or_function_that_fails_is_one_line(tmp_path, monkeypatch, module, spec, message):
    """Issue 29: a `package.module:function` model whose function raises, or whose module has a
    syntax error, gave the user's traceback."""
    if module is not None:
        (tmp_path / f"{spec.partition(':')[0]}.py").write_text(module)
        monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UserError, match=message):
        headstart.load_source(spec)
