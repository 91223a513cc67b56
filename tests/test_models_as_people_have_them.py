"""Models as people have them: a Hugging Face image-classification folder (`hf:DIR`), a timm-style
`pretrained_cfg`, and the head found as the layer that produces the output."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import headstart
from headstart import HeadStart, SourceModel
from headstart.errors import UserError
from own_models import convnet

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def vit_folder(tmp_path_factory):
    """A tiny ViT built from a config (nothing downloaded), saved as people save them."""
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    torch.manual_seed(0)
    config = ViTConfig(image_size=32, patch_size=8, num_hidden_layers=1, hidden_size=16, num_attention_heads=2,
                       intermediate_size=32, num_labels=3, id2label={0: "cat", 1: "dog", 2: "car"},
                       label2id={"cat": 0, "dog": 1, "car": 2})
    folder = tmp_path_factory.mktemp("vit")
    ViTForImageClassification(config).eval().save_pretrained(folder)
    ViTImageProcessor(image_mean=[0.5, 0.5, 0.5], image_std=[0.25, 0.25, 0.25],
                      size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def test_a_hugging_face_folder_brings_its_labels_normalisation_and_size(vit_folder):
    from transformers import ViTForImageClassification

    source = headstart.load_source(f"hf:{vit_folder}")
    assert source.labels == ["cat", "dog", "car"] and source.names == ["cat", "dog", "car"]
    assert source.mean == (127.5,) * 3 and source.std == (63.75,) * 3 and source.resolution == 32
    assert source.spec == f"hf:{vit_folder.resolve()}" and source.feature_dim == 16
    x = torch.rand(2, 3, 32, 32)
    original = ViTForImageClassification.from_pretrained(vit_folder).eval()
    with torch.no_grad():
        assert torch.allclose(source.logits(x), original(pixel_values=x).logits, atol=1e-5)


def test_a_run_of_a_hugging_face_folder_reloads_from_its_spec(vit_folder, tmp_path):
    images = [np.full((40, 40, 3), v, np.uint8) for v in (0, 50, 200, 250)]
    clf = HeadStart(f"hf:{vit_folder}", "imprint", epochs=3).fit(images, ["a", "a", "b", "b"])
    clf.save(tmp_path / "run")
    assert np.allclose(HeadStart.load(tmp_path / "run").predict_proba(images), clf.predict_proba(images), atol=1e-6)
    with pytest.raises(UserError, match="not a Hugging Face model folder"):
        headstart.load_source(f"hf:{tmp_path}")


class WithAux(nn.Module):
    """Returns (logits, aux): the aux head is registered last, so "the last nn.Linear" is wrong."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(8, 4)
        self.aux = nn.Linear(8, 2)

    def forward(self, x):
        features = self.body(x)
        return self.fc(features), self.aux(features)


class Scaled(WithAux):
    """Its output is no linear layer's output (the logits are scaled after the head)."""

    def forward(self, x):
        return 2 * self.fc(self.body(x))


def test_the_head_is_the_layer_that_produces_the_output():
    torch.manual_seed(0)
    model = WithAux().train()
    source = SourceModel.from_module(model, resolution=32)
    assert source.head.out_features == 4 and model.training  # the caller's module keeps its mode
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(source.logits(x), model.eval()(x)[0], atol=1e-6)
    with pytest.raises(UserError, match=r"no nn.Linear produces the model's output.*fc \(8 -> 4\), aux \(8 -> 2\)"):
        SourceModel.from_module(Scaled(), resolution=32)
    assert SourceModel.from_module(Scaled(), head="fc", resolution=32).head.out_features == 4


def test_a_timm_style_pretrained_cfg_sets_normalisation_and_size():
    model = convnet(5)
    model.pretrained_cfg = {"mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5), "input_size": (3, 48, 48)}
    source = SourceModel.from_module(model)
    assert source.mean == (127.5,) * 3 and source.std == (127.5,) * 3 and source.resolution == 48
    assert SourceModel.from_module(model, resolution=32, mean=(1, 2, 3)).mean == (1, 2, 3)


# -- a run is bound to its model by the weights' digest, not by the folder's path -------------------


def fitted_run(vit_folder, tmp_path):
    """A copy of the tiny ViT folder (so it can be moved) and a run fitted with it."""
    import shutil

    model = tmp_path / "model"
    shutil.copytree(vit_folder, model)
    images = [np.full((40, 40, 3), v, np.uint8) for v in (0, 50, 200, 250)]
    clf = HeadStart(f"hf:{model}", "imprint", epochs=3).fit(images, ["a", "a", "b", "b"])
    clf.save(tmp_path / "run")
    return model, tmp_path / "run", images, clf


def test_a_run_loads_with_its_model_folder_moved_when_the_digest_matches(vit_folder, tmp_path):
    import json

    model, run, images, clf = fitted_run(vit_folder, tmp_path)
    moved = model.rename(tmp_path / "renamed")
    loaded = HeadStart.load(run, source=f"hf:{moved}")
    assert np.allclose(loaded.predict_proba(images), clf.predict_proba(images), atol=1e-6)
    meta = json.loads((run / "run.json").read_text())
    digest = headstart.load_source(f"hf:{moved}").weights_digest
    assert meta["model_digest"] == digest and meta["model"] == f"hf:{model.resolve()}"
    with pytest.raises(UserError) as error:  # the recorded folder is gone
        HeadStart.load(run)
    message = str(error.value)
    assert f"hf:{model.resolve()} (weights digest {digest})" in message and "--model hf:NEWPATH" in message
    assert "\n" not in message


def test_a_model_with_other_weights_is_refused_naming_the_recorded_path_and_digest(vit_folder, tmp_path):
    from transformers import ViTForImageClassification

    model, run, _, _ = fitted_run(vit_folder, tmp_path)
    digest = headstart.load_source(f"hf:{model}").weights_key.rsplit("-", 1)[1]
    other = tmp_path / "other"
    torch.manual_seed(1)
    ViTForImageClassification(ViTForImageClassification.from_pretrained(model).config).save_pretrained(other)
    (other / "preprocessor_config.json").write_bytes((model / "preprocessor_config.json").read_bytes())
    with pytest.raises(UserError, match=rf"made with model hf:{model.resolve()} \(weights digest {digest}\)"):
        HeadStart.load(run, source=f"hf:{other}")


def test_a_run_written_before_the_digest_was_recorded_still_loads(vit_folder, tmp_path):
    import json

    model, run, images, clf = fitted_run(vit_folder, tmp_path)
    meta = json.loads((run / "run.json").read_text())
    del meta["model_digest"]
    (run / "run.json").write_text(json.dumps(meta))
    assert np.allclose(HeadStart.load(run).predict_proba(images), clf.predict_proba(images), atol=1e-6)


@pytest.mark.slow
def test_predict_evaluate_and_export_take_the_moved_model_on_the_command_line(vit_folder, tmp_path):
    import subprocess
    import sys

    from PIL import Image

    model, run, images, _ = fitted_run(vit_folder, tmp_path)
    for label, image in zip("aabb", images):
        (tmp_path / "data" / label).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(tmp_path / "data" / label / f"{int(image[0, 0, 0])}.png")
    moved = model.rename(tmp_path / "moved")

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "headstart", *map(str, args)], capture_output=True, text=True,
                              timeout=600)

    refused = cli("predict", run, tmp_path / "data")
    assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1
    assert f"hf:{model.resolve()} (weights digest " in refused.stderr
    assert cli("predict", run, tmp_path / "data", "--model", f"hf:{moved}").returncode == 0
    assert cli("evaluate", run, "--data", tmp_path / "data", "--model", f"hf:{moved}").returncode == 0
    exported = cli("export", run, "--onnx", tmp_path / "m.onnx", "--model", f"hf:{moved}")
    assert exported.returncode == 0 and (tmp_path / "m.onnx").is_file(), exported.stderr
