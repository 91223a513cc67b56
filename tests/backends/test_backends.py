"""Where features are computed: choosing the device, the ONNX Runtime backend (its check against
torch, its fallbacks, its cached export), mixed precision, and the GPU when there is one."""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections import OrderedDict

import numpy as np
import pytest
import torch

from headstart import backends
from headstart.backends import onnx_runner, resolve, resolve_device, runner_for
from headstart.backends.runner import CheckedRunner, Runner, TorchRunner, agree
from headstart.data.features import FeatureCache, extract
from headstart.errors import UserError
from helpers import sample_photos, tiny_source


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """No runner kept from earlier tests, and an empty cache folder for exported models."""
    monkeypatch.setattr(backends, "_RUNNERS", OrderedDict())
    monkeypatch.setenv("HEADSTART_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def photos_and_items(fashion) -> list:
    """Real inputs: two colour photos and four Fashion-MNIST items."""
    return list(sample_photos()) + list(fashion.test.load([0, 1, 2, 3]))


def test_devices_resolve_and_bad_choices_are_one_line_errors(monkeypatch):
    assert resolve_device("cpu") == resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve("CPU", "Torch").backend == "torch"
    for bad, message in [("gpu", "use auto, cpu, cuda"), ("cuda:x", "use auto, cpu, cuda"), ("cpu:1", "use auto")]:
        with pytest.raises(UserError, match=message):
            resolve_device(bad)
    for kwargs, message in [({"backend": "tensorrt"}, "auto, torch, onnx"), ({"precision": "int8"}, "fp32, bf16"),
                            ({"backend": "onnx", "precision": "bf16"}, "torch backend")]:
        with pytest.raises(UserError, match=message) as error:
            resolve("cpu", **kwargs)
        assert "\n" not in str(error.value)
    # auto picks ONNX Runtime only where it runs: fp32 on the CPU
    assert resolve("cpu") == resolve("cpu", "onnx") and resolve("cpu", precision="bf16").backend == "torch"
    if not torch.cuda.is_available():
        assert resolve_device("auto") == torch.device("cpu")
        with pytest.raises(UserError, match="--device cpu"):
            resolve_device("cuda")


@pytest.mark.parametrize("option", ["--device=gpu", "--backend=tensorrt", "--precision=int8"])
@pytest.mark.slow
def test_a_bad_device_or_backend_on_the_command_line_is_one_error_line(option, tmp_path):
    result = subprocess.run([sys.executable, "-m", "headstart", "bench", option, "--out", str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.startswith("error: unknown")
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_the_estimator_refuses_a_bad_device_before_any_work(lite0):
    from headstart import HeadStart

    with pytest.raises(UserError, match="unknown device 'gpu'"):
        HeadStart(lite0, device="gpu").fit(None, None, ["cat", "dog"])  # names only: no feature is extracted


def test_each_torchrun_rank_gets_its_own_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert resolve_device("auto") == resolve_device("cuda") == torch.device("cuda", 1)
    assert resolve_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(UserError, match="2 GPU"):
        resolve_device("cuda:2")
    assert resolve("auto").backend == "torch"  # ONNX Runtime here is CPU-only
    with pytest.raises(UserError, match="runs on the CPU"):
        resolve("auto", "onnx")


@pytest.mark.slow
def test_onnx_features_equal_torch_features_on_real_images(lite0, fashion, fresh):
    images = photos_and_items(fashion)
    expected = extract(lite0, images, 96, device="cpu", backend="torch")
    got = extract(lite0, images, 96, device="cpu", backend="onnx")
    assert runner_for(lite0, 96, resolve("cpu", "onnx")).name == "onnx-cpu"  # it passed its check
    assert (got - expected).abs().max() < 1e-4
    assert torch.equal(extract(lite0, images, 96, device="cpu"), got)  # auto on the CPU is the same runner
    assert len(backends._RUNNERS) == 2  # torch and onnx: auto built no third one
    assert len(list((fresh / "onnx").glob("*.onnx"))) == 1  # exported once into the cache


@pytest.mark.slow
def test_the_feature_cache_does_not_depend_on_the_backend(lite0, fashion, tmp_path):
    by_torch = FeatureCache(lite0, fashion, "test", 64, root=tmp_path, device="cpu", backend="torch")
    by_onnx = FeatureCache(lite0, fashion, "test", 64, root=tmp_path, device="cpu", backend="onnx")
    assert by_torch.key == by_onnx.key and by_torch.path == by_onnx.path
    stored = by_torch.get([0, 1], progress=False)
    reread = FeatureCache(lite0, fashion, "test", 64, root=tmp_path, device="cpu", backend="onnx")
    assert torch.equal(reread.get([0, 1], progress=False), stored)
    fresh_onnx = extract(lite0, fashion.test.load([0, 1]), 64, device="cpu", backend="onnx")
    assert (fresh_onnx - stored).abs().max() < 1e-4
    amp = FeatureCache(lite0, fashion, "test", 64, root=tmp_path, device="cpu", precision="bf16")
    assert amp.path != by_torch.path  # bf16 features differ beyond rounding: never mixed with fp32 ones


def test_out_of_memory_is_not_reported_as_a_resolution_problem(fashion, fresh, monkeypatch):
    source = tiny_source(seed=13)

    def exhausted(self, x):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(TorchRunner, "forward", exhausted)
    with pytest.raises(torch.OutOfMemoryError):
        extract(source, fashion.test.load(range(3)), device="cpu", backend="torch")


def test_a_model_that_does_not_export_warns_once_and_runs_on_torch(fashion, fresh, monkeypatch):
    source = tiny_source(seed=11)
    images = fashion.test.load(range(5))
    expected = extract(source, images, device="cpu", backend="torch")

    def refuse(*args, **kwargs):
        raise RuntimeError("ONNX export failed: Couldn't export operator aten::mystery")

    monkeypatch.setattr(torch.onnx, "export", refuse)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = extract(source, images, device="cpu", backend="onnx")
        again = extract(source, images, device="cpu", backend="onnx")
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "export" in messages[0] and "torch" in messages[0]
    assert torch.equal(got, expected) and torch.equal(again, expected)
    assert not (fresh / "onnx").exists()


def test_an_engine_that_disagrees_with_torch_is_dropped_after_its_check(fashion, fresh, monkeypatch):
    source = tiny_source(seed=12)
    images = fashion.test.load(range(5))
    expected = extract(source, images, device="cpu", backend="torch")
    original = onnx_runner.OnnxRunner.forward
    monkeypatch.setattr(onnx_runner.OnnxRunner, "forward", lambda self, x: original(self, x) + 1e-2)
    with pytest.warns(UserWarning, match="differs from torch"):
        got = extract(source, images, device="cpu")
    assert torch.equal(got, expected)
    assert runner_for(source, source.resolution, resolve("cpu")).name == "torch-cpu"


@pytest.mark.slow
def test_checked_runner_passes_a_faithful_engine_and_drops_a_failing_one(lite0):
    reference = TorchRunner(lite0, resolve("cpu", "torch"))

    class Broken(Runner):
        name = "broken"

        def forward(self, x):
            raise RuntimeError("cannot run this input\nmore detail")

    x = lite0.preprocess(sample_photos(), 64)
    with pytest.warns(UserWarning, match="fails on a check batch \\(cannot run this input\\)"):
        got = CheckedRunner(Broken(), reference, "the engine")(x)
    assert torch.equal(got, reference(x))
    assert agree(got + 1e-5, got) == (True, pytest.approx(1e-5, rel=0.1))
    assert not agree(got + 1e-3, got)[0]


@pytest.mark.parametrize("damage", ["torn", "foreign"])
def test_a_damaged_or_foreign_export_in_the_cache_is_exported_again(fresh, damage):
    source, other = tiny_source(seed=13), tiny_source(seed=14)
    path = onnx_runner.model_path(source, 24)
    path.parent.mkdir(parents=True)
    if damage == "torn":
        path.write_bytes(onnx_runner.export(source, 24)[:5000])
    else:
        path.write_bytes(onnx_runner.export(other, 24))  # a valid model of other weights
    x = torch.randn(3, 3, 24, 24)
    with pytest.warns(UserWarning, match="exporting it again"):
        runner = onnx_runner.onnx_runner(source, 24)
    with torch.no_grad():
        assert (runner(x) - source.features(x)).abs().max() < 1e-5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        onnx_runner.onnx_runner(source, 24)  # the re-export was kept: no warning now
    assert onnx_runner.session(path.read_bytes(), onnx_runner.model_key(source, 24), 1) is not None


@pytest.mark.slow
def test_explicit_cpu_and_bf16_autocast(lite0, fashion):
    images = fashion.test.load(range(4))
    fp32 = extract(lite0, images, 64, device="cpu", backend="torch")
    bf16 = extract(lite0, images, 64, device="cpu", precision="bf16")
    assert bf16.dtype == torch.float32 and bf16.shape == fp32.shape
    cosine = torch.nn.functional.cosine_similarity(bf16, fp32, dim=1)
    assert cosine.min() > 0.98 and not torch.equal(bf16, fp32)
    assert runner_for(lite0, 64, resolve("cpu", precision="bf16")).name == "torch-cpu-bf16"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_features_agree_with_cpu_features(lite0, fashion):
    images = photos_and_items(fashion)
    cpu = extract(lite0, images, 112, device="cpu", backend="torch")
    gpu = extract(lite0, images, 112, device="cuda")
    assert gpu.device.type == "cpu" and gpu.dtype == torch.float32
    assert agree(gpu, cpu)[0], (gpu - cpu).abs().max()
    amp = extract(lite0, images, 112, device="cuda", precision="fp16")
    assert torch.nn.functional.cosine_similarity(amp, cpu, dim=1).min() > 0.98
    assert np.isfinite(amp.numpy()).all()


def test_an_estimator_decides_its_placement_once_and_again_only_when_asked(monkeypatch):
    from headstart import HeadStart
    from headstart import estimator as E

    calls = []
    real = E.resolve_placement
    monkeypatch.setattr(E, "resolve_placement", lambda *asked: calls.append(asked) or real(*asked))
    clf = HeadStart(device="cpu", backend="torch")
    assert clf.placement() is clf.placement() and calls == [("cpu", "torch", None)]
    clf.set_params(backend="auto")
    assert clf.placement().device.type == "cpu" and calls[-1] == ("cpu", "auto", None) and len(calls) == 2
