"""Preprocessing as the model's authors defined it (issue 33 item 2): the resize, centre crop and
interpolation of a timm `pretrained_cfg` or a Hugging Face image processor, the same in feature
extraction, the numpy Predictor path and the exports, recorded in run.json and in the feature-cache key."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

import headstart
from helpers import shared_dataset, tiny_vit
from headstart import HeadStart, SourceModel
from headstart.data.features import extract
from headstart.data.images import open_image
from headstart.errors import UserError
from headstart.pixels import Resize, prepare
from headstart.preprocessing import resize_batch, resize_uint8_images
from own_models import convnet

CROP = Resize(0.875, True, "bicubic")  # timm's usual: shorter side to R / 0.875, centre R x R, bicubic


def photos() -> list[np.ndarray]:
    """Real photos of several sizes and aspect ratios, a gray one, and odd random shapes."""
    picks = [("caltech50", "Faces"), ("caltech50", "garfield"), ("caltech50", "ant"), ("cifar10-small", "cat"),
             ("dtd10", "blotchy")]
    paths = [sorted((shared_dataset(name) / "test" / label).iterdir())[0] for name, label in picks]
    images = [np.asarray(open_image(p)) for p in paths]
    rng = np.random.default_rng(0)
    return images + [np.asarray(open_image(paths[0]).convert("L"))[:, :, None]] + \
        [rng.integers(0, 256, shape, dtype=np.uint8) for shape in [(7, 300, 3), (401, 23, 3), (37, 91, 3)]]


def pil_reference(image: np.ndarray, size: int, crop_pct: float) -> np.ndarray:
    """By hand with PIL, as timm's eval transform does it: the shorter side to floor(size / crop_pct)
    (the longer in proportion, truncated), PIL BICUBIC, then the centre size x size (top/left =
    round((side - size) / 2)). Each channel as a float ("F") image, so PIL's own 8-bit rounding
    between its two passes (up to 1 on the 0-255 scale) does not hide the filter: [3, size, size]."""
    image = np.broadcast_to(image, image.shape[:2] + (3,))
    height, width = image.shape[:2]
    scaled = int(np.floor(size / crop_pct + 1e-6))
    short = min(height, width)
    new_h, new_w = (scaled, int(scaled * width / short)) if height == short else (int(scaled * height / short), scaled)
    top, left = int(round((new_h - size) / 2.0)), int(round((new_w - size) / 2.0))
    channels = [np.asarray(Image.fromarray(np.ascontiguousarray(image[:, :, c], np.float32), "F")
                           .resize((new_w, new_h), Image.BICUBIC)) for c in range(3)]
    return np.clip(np.stack(channels)[:, top:top + size, left:left + size], 0, 255)


def cfg_model(**cfg):
    model = convnet(5)
    model.pretrained_cfg = {"input_size": (3, 32, 32), "mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25), **cfg}
    return model


def test_a_pretrained_cfg_asking_for_bicubic_and_a_crop_gives_the_features_of_a_pil_reference():
    """The reference: `pil_reference` normalised, through the backbone. torch's antialiased bicubic
    computes its filter in float32, PIL's in float64: the prepared pixels agree within 0.01 on the
    0-255 scale (measured: <= 4e-3), the features within 1e-4 of their largest value."""
    source = SourceModel.from_module(cfg_model(crop_pct=0.875, interpolation="bicubic"))
    assert source.resize == CROP and source.resolution == 32
    images = photos()
    reference = np.stack([pil_reference(image, 32, 0.875) for image in images])
    mean, std = np.asarray(source.mean).reshape(3, 1, 1), np.asarray(source.std).reshape(3, 1, 1)
    prepared = source.preprocess(images).numpy()
    assert np.abs(prepared * std + mean - reference).max() < 1e-2
    with torch.no_grad():
        expected = source.features(torch.from_numpy(((reference - mean) / std).astype(np.float32))).numpy()
    got = extract(source, images, device="cpu", backend="torch").numpy()
    assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()
    # what headstart did before (the whole image stretched, bilinear) is far from it
    stretched = SourceModel.from_module(cfg_model(), name="stretched")
    assert stretched.resize == Resize()
    assert np.abs(extract(stretched, images, device="cpu", backend="torch").numpy() - expected).max() > 1e-2


@pytest.mark.parametrize("resize", [CROP, Resize(0.875, False, "bicubic"), Resize(0.9, True, "bilinear"),
                                    Resize(1.0, True, "bicubic"), Resize(interpolation="bicubic"), Resize()])
@pytest.mark.slow
def test_the_numpy_and_the_exported_resize_equal_torchs(resize):
    """pixels.prepare (the Predictor's) within 1e-4 on the 0-255 scale; the exports' matrix resize
    within 1e-3 (as for the default resize): real photos, upscaled and downscaled, odd shapes."""
    images = photos()
    for size in (32, 100):
        expected = resize_batch(images, size, resize=resize)
        got = torch.from_numpy(prepare(images, size, (0, 0, 0), (1, 1, 1), resize))
        assert (got - expected).abs().max() < 1e-4, size
        for image, want in zip(images, expected):
            rgb = torch.from_numpy(np.array(np.broadcast_to(image, image.shape[:2] + (3,))))[None]
            matrix = resize_uint8_images(rgb, size, resize.crop_pct, resize.keep_aspect,
                                         resize.interpolation == "bicubic")
            assert (matrix[0] - want).abs().max() < 1e-3, (size, image.shape)


def test_the_torchscript_module_resizes_and_crops_as_the_traced_one():
    """The exports' preprocessing scripts (TorchScript) for any input size, with the crop and bicubic."""
    from headstart.classifier import Classifier, ImageClassifier

    source = SourceModel.from_module(cfg_model(crop_pct=0.875, interpolation="bicubic"))
    module = ImageClassifier(Classifier(source.backbone, source.head), 32, source.mean, source.std, source.resize)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit, as export_torchscript uses it
        scripted = torch.jit.script(module)
    images = [torch.from_numpy(np.array(np.broadcast_to(i, i.shape[:2] + (3,))))[None] for i in photos()[:4]]
    with torch.no_grad():
        for image in images:
            prepared = source.preprocess([image[0].numpy()])
            assert (scripted(image) - torch.softmax(source.logits(prepared), 1)).abs().max() < 1e-5


def test_the_default_resize_keeps_its_cache_key_and_another_never_shares_it():
    plain = SourceModel.from_module(cfg_model(), name="m")
    cropped = SourceModel.from_module(cfg_model(crop_pct=0.875), name="m")
    squashed = SourceModel.from_module(cfg_model(crop_pct=0.875, crop_mode="squash"), name="m")
    bilinear = SourceModel.from_module(cfg_model(crop_pct=0.875, interpolation="bilinear"), name="m")
    assert cropped.resize == CROP and squashed.resize == Resize(0.875, False, "bicubic")  # timm's defaults
    assert plain.cache_key(32) == f"{plain.weights_key}-r32-v1-m127.5_127.5_127.5-s63.75_63.75_63.75"
    assert len({s.cache_key(32) for s in (plain, cropped, squashed, bilinear)}) == 4


def test_a_pretrained_cfg_with_an_interpolation_headstart_lacks_warns_and_a_bad_crop_is_one_line():
    with pytest.warns(UserWarning, match="asks for 'lanczos' interpolation.*uses bicubic"):
        assert SourceModel.from_module(cfg_model(interpolation="lanczos")).resize == CROP
    with pytest.raises(UserError, match=r"pretrained_cfg\['crop_pct'\] is 1.5: it must be a number in 0.1..1"):
        SourceModel.from_module(cfg_model(crop_pct=1.5))


@pytest.mark.parametrize("processor, expected", [
    ({"size": {"shortest_edge": 256}, "do_center_crop": True, "crop_size": {"height": 224, "width": 224},
      "resample": 3}, Resize(0.875, True, "bicubic")),
    ({"size": {"height": 256, "width": 256}, "do_center_crop": True, "crop_size": 224, "resample": 2},
     Resize(0.875, False, "bilinear")),
    ({"size": {"shortest_edge": 224}, "crop_pct": 0.875, "resample": 3}, Resize(0.875, True, "bicubic")),
    ({"size": {"height": 224, "width": 224}, "resample": 3}, Resize(interpolation="bicubic")),
    ({"size": {"shortest_edge": 256}, "do_center_crop": False, "crop_size": 224}, Resize()),
    ({"do_resize": False, "size": {"shortest_edge": 256}, "do_center_crop": True, "crop_size": 224}, Resize()),
    ({}, Resize()),
])
def test_a_hugging_face_processor_gives_its_resize(processor, expected, tmp_path):
    from headstart.sources.huggingface import processor_resize

    assert processor_resize(processor, tmp_path) == expected


transformers = pytest.importorskip("transformers")


def vit_folder(folder, processor: dict | None):
    """A tiny 32-px ViT folder; its preprocessor_config.json `processor` (None: no such file)."""
    tiny_vit(folder, {0: "a", 1: "b", 2: "c"})
    if processor is not None:
        (folder / "preprocessor_config.json").write_text(json.dumps(processor))
    return folder


@pytest.mark.slow  # ~10 s: transformers' first import
def test_a_hugging_face_folder_without_a_processor_warns_once_naming_what_is_assumed(tmp_path):
    folder = vit_folder(tmp_path / "v", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        source = headstart.load_source(f"hf:{folder}")
    messages = [str(w.message) for w in caught if "preprocessor_config" in str(w.message)]
    assert len(messages) == 1, messages
    assert "ImageNet's mean and std" in messages[0] and "32 px" in messages[0] and "no crop" in messages[0]
    assert source.resize == Resize() and source.resolution == 32
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        headstart.load_source(f"hf:{vit_folder(tmp_path / 'p', {'size': {'height': 32, 'width': 32}})}")
    assert not [w for w in caught if "preprocessor_config" in str(w.message)]


@pytest.mark.slow
def test_a_run_records_its_resize_and_predict_the_predictor_and_the_export_agree(tmp_path):
    """A run of a ViT whose processor crops (shorter side 36, centre 32, bicubic): run.json records
    it; `predict` on raw files, the torch-free Predictor and the ONNX export give the same
    probabilities (1e-4); an old run.json without the key loads with the stretched bilinear resize."""
    import onnxruntime

    from headstart.export import export_onnx
    from headstart.predictor import Predictor

    folder = vit_folder(tmp_path / "v", {"size": {"shortest_edge": 36}, "do_center_crop": True, "resample": 3,
                                         "crop_size": {"height": 32, "width": 32}, "image_mean": [0.5] * 3,
                                         "image_std": [0.25] * 3})
    rng = np.random.default_rng(1)
    files = []
    for i, shape in enumerate([(40, 60, 3), (70, 33, 3), (36, 36, 3), (90, 120, 3)] * 2):
        files.append(tmp_path / f"{i}.png")
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(files[-1])
    clf = HeadStart(f"hf:{folder}", "imprint", epochs=3, device="cpu", backend="torch")
    clf.fit([str(f) for f in files], ["x", "y"] * 4)
    assert clf.source_.resize == Resize(32 / 36, True, "bicubic")
    clf.save(tmp_path / "run")
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["resize"] == {"crop_pct": 32 / 36, "keep_aspect": True, "interpolation": "bicubic"}

    expected = HeadStart.load(tmp_path / "run", device="cpu", backend="torch").predict_proba([str(f) for f in files])
    assert np.abs(Predictor(tmp_path / "run").predict_proba([str(f) for f in files]) - expected).max() < 1e-4
    model = export_onnx(clf, tmp_path / "m.onnx")
    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    for f, want in zip(files, expected):
        decoded = np.asarray(open_image(f))[None]
        assert np.abs(session.run(None, {"images": decoded})[0][0] - want).max() < 1e-4
    described = json.loads(session.get_modelmeta().custom_metadata_map["headstart"])["preprocessing"]
    assert described["interpolation"] == "bicubic" and "the centre 32 x 32" in described["resize"]

    card = (tmp_path / "run" / "README.md").read_text()
    assert "with the shorter side to 36 px, then cut to the centre 32 x 32" in card and "bicubic" in card

    (tmp_path / "run" / "run.json").write_text(json.dumps({**meta, "resize": {**meta["resize"], "crop_pct": 3}}))
    with pytest.raises(UserError, match="resize must give crop_pct"):
        HeadStart.load(tmp_path / "run")
    del meta["resize"]  # a run written before the resize was recorded: the resize it was made with
    (tmp_path / "run" / "run.json").write_text(json.dumps(meta))
    old = HeadStart.load(tmp_path / "run", device="cpu", backend="torch")
    assert old.source_.resize == Resize()
    stretched = old.source_.preprocess([np.asarray(open_image(files[0]))])
    assert torch.equal(stretched, resize_batch([np.asarray(open_image(files[0]))], 32).sub_(127.5).div_(63.75))
    assert np.abs(Predictor(tmp_path / "run").predict_proba([str(f) for f in files])
                  - old.predict_proba([str(f) for f in files])).max() < 1e-4
