"""Fault injection: damaged caches, odd folder names, read-only places. Each case once corrupted
results silently or crashed with a traceback (issue 11)."""

from __future__ import annotations

import hashlib
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from headstart.data import load_image_folder
from headstart.data.features import FeatureCache, extract
from headstart.errors import UserError
from helpers import TINY_BENCH, run_main, tiny_source, write_images, write_split_folder


@pytest.fixture
def tiny():
    return tiny_source()


def caches(source, data, root):
    return FeatureCache(source, data, "train", root=root), FeatureCache(source, data, "test", root=root)


@pytest.mark.parametrize("name, layout", [("eq.v1", "split"), ("eq.v1", "flat"), ("plain", "flat"),
                                          ("a.b.c", "split")])
def test_split_less_and_dotted_folders_keep_train_and_test_apart(tmp_path, tiny, name, layout):
    root = write_split_folder(tmp_path / name) if layout == "split" else write_images(tmp_path / name)
    data = load_image_folder(root)
    train, test = caches(tiny, data, tmp_path / "cache")
    assert train.path != test.path
    got_train, got_test = train.get(progress=False), test.get(progress=False)
    assert torch.allclose(got_train, extract(tiny, data.train.load(np.arange(len(data.train)))), atol=1e-6)
    assert torch.allclose(got_test, extract(tiny, data.test.load(np.arange(len(data.test)))), atol=1e-6)
    again_train, again_test = caches(tiny, data, tmp_path / "cache")  # read back, not recomputed
    assert torch.equal(again_train.get(progress=False), got_train)
    assert torch.equal(again_test.get(progress=False), got_test)


@pytest.mark.slow
def test_dotted_and_plain_folders_give_the_same_fit(tmp_path):
    from headstart.fit import fit_folder

    metrics = []
    for name in ("eq.v1", "eqv1"):
        write_split_folder(tmp_path / name, per_class=3, classes=("cat", "dog", "car"))
        metrics.append(fit_folder("efficientnet-lite0", tmp_path / name, tmp_path / f"run-{name}", "logreg",
                                  resolution=32, progress=False).meta.metrics)
    assert metrics[0]["test_accuracy"] == metrics[1]["test_accuracy"]
    assert metrics[0]["accuracy_before_training"] == metrics[1]["accuracy_before_training"]


def filled_cache(tiny, tmp_path):
    data = load_image_folder(write_images(tmp_path / "data"))
    cache = FeatureCache(tiny, data, "train", root=tmp_path / "cache")
    expected = cache.get(progress=False)
    return data, cache.path, expected


def reopened(tiny, data, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = FeatureCache(tiny, data, "train", root=tmp_path / "cache").get(progress=False)
    return got, [str(w.message) for w in caught]


@pytest.mark.parametrize("damage", ["truncate-half", "truncate-to-zero", "garbage", "extend", "flags", "old-version",
                                    "version-2"])
def test_a_damaged_cache_file_is_recomputed_with_one_warning(tmp_path, tiny, damage):
    data, path, expected = filled_cache(tiny, tmp_path)
    size = path.stat().st_size
    if damage == "truncate-half":
        os.truncate(path, size // 2)
    elif damage == "truncate-to-zero":
        os.truncate(path, 0)
    elif damage == "garbage":
        path.write_bytes(os.urandom(size))
    elif damage == "extend":
        with open(path, "ab") as f:
            f.write(b"\0" * 128)
    elif damage == "flags":
        with open(path, "r+b") as f:
            f.seek(4096)
            f.write(b"\x07")
    elif damage == "old-version":  # what headstart 0.2.0 before this format wrote: said so, not "damaged"
        with open(path, "r+b") as f:
            f.write(b"HEADSTART-FEATURES 1\n")
    elif damage == "version-2":  # checksums that did not cover the row's place: never trusted again
        with open(path, "r+b") as f:
            f.write(b"HEADSTART-FEATURES 2\n")
    got, messages = reopened(tiny, data, tmp_path)
    assert torch.allclose(got, expected, atol=1e-6)
    assert len(messages) == 1 and str(path) in messages[0] and "recomputing" in messages[0]
    assert ("another version of headstart" in messages[0]) == (damage in ("old-version", "version-2"))
    assert reopened(tiny, data, tmp_path)[1] == []  # repaired for the next run


def test_a_cache_file_of_another_key_is_never_read(tmp_path, tiny):
    data, path, expected = filled_cache(tiny, tmp_path)
    test_cache = FeatureCache(tiny, data, "test", root=tmp_path / "cache")
    shutil.copy(path, test_cache.path)  # the train file under the test name
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = test_cache.__class__(tiny, data, "test", root=tmp_path / "cache").get(progress=False)
    assert "another model, dataset or split" in str(caught[0].message)
    assert torch.allclose(got, extract(tiny, data.test.load(np.arange(len(data.test)))), atol=1e-6)


def test_rows_that_are_not_finite_are_recomputed(tmp_path, tiny):
    data, path, expected = filled_cache(tiny, tmp_path)
    cache = FeatureCache(tiny, data, "train", root=tmp_path / "cache")
    with open(path, "r+b") as f:  # row 2's values, behind its checksum's back
        f.seek(cache._values_offset() + 2 * 4 * cache.shape[1])
        f.write(np.full(cache.shape[1], np.nan, np.float32).tobytes())
    got, messages = reopened(tiny, data, tmp_path)
    assert torch.allclose(got, expected, atol=1e-6) and "not finite" in messages[0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
@pytest.mark.parametrize("warm", [True, False])
def test_a_read_only_cache_still_gives_features(tmp_path, tiny, warm):
    data = load_image_folder(write_images(tmp_path / "data"))
    root = tmp_path / "cache"
    if warm:
        FeatureCache(tiny, data, "train", root=root).get([0, 1], progress=False)
    root.mkdir(exist_ok=True)
    for p in [root, *root.rglob("*")]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = FeatureCache(tiny, data, "train", root=root).get(progress=False)
        assert torch.allclose(got, extract(tiny, data.train.load(np.arange(len(data.train)))), atol=1e-6)
        assert any("cannot write to the cache" in str(w.message) for w in caught)
    finally:
        for p in [root, *root.rglob("*")]:
            p.chmod(0o755)


def test_an_unwritable_cache_folder_still_gives_features(tmp_path, tiny, monkeypatch):
    """As root (CI) permissions do not bind: a cache 'folder' below a regular file cannot be created."""
    data = load_image_folder(write_images(tmp_path / "data"))
    (tmp_path / "blocker").write_text("a file where the cache folder would go")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = FeatureCache(tiny, data, "train", root=tmp_path / "blocker" / "cache").get(progress=False)
    assert torch.allclose(got, extract(tiny, data.train.load(np.arange(len(data.train)))), atol=1e-6)
    assert any("cannot write to the cache" in str(w.message) for w in caught)


def test_a_cache_location_that_is_a_file_is_a_clear_error(tmp_path, monkeypatch):
    from headstart.cache import cache_root

    (tmp_path / "f").write_text("x")
    monkeypatch.setenv("HEADSTART_CACHE", str(tmp_path / "f"))
    with pytest.raises(UserError, match="is a file, not a folder"):
        cache_root()


@pytest.mark.parametrize("name", ["x" * 240, "caf\udce9-latin1"])
def test_long_and_non_utf8_folder_names_get_their_own_cache_files(tmp_path, tiny, name):
    root = tmp_path / name
    try:
        write_images(root)
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system refuses the name")
    data = load_image_folder(root)
    train, test = caches(tiny, data, tmp_path / "cache")
    assert train.path != test.path and len(train.path.name) < 100
    assert torch.allclose(train.get(progress=False), extract(tiny, data.train.load(np.arange(len(data.train)))),
                          atol=1e-6)


@pytest.mark.slow
def test_a_bench_resumed_with_another_configuration_refuses_and_keeps_its_rows(tmp_path):
    from headstart.lab.bench import BenchConfig, run_bench

    out = tmp_path / "B"
    results = run_bench(BenchConfig(out=str(out), **TINY_BENCH), progress=False)
    before, run_json = results.read_bytes(), (out / "run.json").read_bytes()
    for change in ({"test_size": 30}, {"resolution": 48}, {"epochs": 3}, {"unlabelled": 5}, {"precision": "bf16"}):
        with pytest.raises(UserError, match="another configuration") as error:
            run_bench(BenchConfig(out=str(out), **{**TINY_BENCH, **change}), progress=False)
        assert "new --out folder" in str(error.value)
        assert results.read_bytes() == before and (out / "run.json").read_bytes() == run_json
    # the same configuration (fp32 named or not) with one more method resumes and adds only that method's rows
    run_bench(BenchConfig(out=str(out), precision="fp32", **{**TINY_BENCH, "methods": ["zero", "imprint", "random"]}),
              progress=False)
    assert results.read_text().startswith(before.decode().splitlines()[0])
    assert results.read_text().count(",random,") == 2 * 2


def test_a_results_file_of_an_older_headstart_is_not_resumed(tmp_path):
    from headstart.lab.bench import BenchConfig, run_bench

    out = tmp_path / "old"
    out.mkdir()
    (out / "results.csv").write_text("model,dataset,method,shots,seed,epoch,accuracy,final,resolution,test_size,"
                                     "seconds\nefficientnet-lite0,fashion-mnist,zero,1,0,2,0.5,1,32,20,0.1\n")
    with pytest.raises(UserError, match="another configuration"):
        run_bench(BenchConfig(out=str(out), **TINY_BENCH), progress=False)


@pytest.mark.slow
def test_a_kill_while_the_results_are_rewritten_loses_nothing(tmp_path, monkeypatch):
    from headstart.lab import bench
    from headstart.lab.bench import BenchConfig, run_bench

    out = tmp_path / "B"
    results = run_bench(BenchConfig(out=str(out), **TINY_BENCH), progress=False)
    complete = results.read_bytes()

    class Killed(BaseException):
        pass

    real = bench.atomic_write

    def killed_mid_write(path, write):
        def half(f):
            write(f)
            f.truncate(f.tell() // 2)
            raise Killed

        real(path, half)

    monkeypatch.setattr(bench, "atomic_write", killed_mid_write)
    with pytest.raises(Killed):
        run_bench(BenchConfig(out=str(out), **TINY_BENCH), progress=False)
    assert results.read_bytes() == complete


@pytest.mark.slow
def test_junk_rows_in_results_are_dropped_on_resume(tmp_path):
    from headstart.lab.bench import BenchConfig, run_bench

    out = tmp_path / "B"
    results = run_bench(BenchConfig(out=str(out), **TINY_BENCH), progress=False)
    complete = results.read_text()
    config = complete.splitlines()[1].rsplit(",", 1)[1]
    with results.open("a") as f:
        f.write(f"efficientnet-lite0,fashion-mnist,zero,five,0,2,0.5,1,32,20,0.1,{config}\n\x00\x01junk\n")
    run_bench(BenchConfig(out=str(out), **TINY_BENCH), progress=False)
    assert results.read_text() == complete


# -- image files -----------------------------------------------------------------------------------


def test_a_truncated_jpeg_is_skipped_with_the_warning(tmp_path):
    root = write_images(tmp_path / "data", per_class=3)
    jpeg = root / "cat" / "photo.jpg"
    Image.fromarray(np.full((40, 40, 3), 90, np.uint8)).save(jpeg, quality=90)
    jpeg.write_bytes(jpeg.read_bytes()[: jpeg.stat().st_size // 2])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_image_folder(root)
    assert any("photo.jpg" in str(w.message) for w in caught)
    assert len(data.train) + len(data.test) == 6  # the truncated file is not a sample


def test_a_16_bit_png_is_scaled_not_clipped_to_white(tmp_path):
    from headstart.data.images import open_image

    ramp = np.linspace(0, 65535, 64, dtype=np.uint16).reshape(8, 8)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    image = np.asarray(open_image(tmp_path / "deep.png"))
    assert image.dtype == np.uint8 and image.shape == (8, 8, 3)
    assert image[0, 0, 0] == 0 and image[-1, -1, 0] == 255 and 120 < image[4, 0, 0] < 136


def test_a_huge_image_is_one_clear_error(tmp_path, monkeypatch):
    from headstart.data.images import open_image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # as a 14000 x 14000 image is against the default
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "big.png")
    with pytest.raises(UserError, match="big.png has more than"):
        open_image(tmp_path / "big.png")


# -- run folders -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    from headstart import HeadStart

    folder = tmp_path_factory.mktemp("runs") / "run"
    HeadStart("efficientnet-lite0", resolution=32).fit(None, None, ["cat", "dog", "car"]).save(folder)
    return folder


def tampered_copy(run_folder, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run_folder, copy)
    return copy


def edit_meta(folder, change):
    import json

    meta = json.loads((folder / "run.json").read_text())
    change(meta)
    (folder / "run.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("tamper, message", [
    (lambda f: (f / "run.json").write_text("{not json"), "not valid JSON"),
    (lambda f: (f / "run.json").write_text(""), "not valid JSON"),
    (lambda f: (f / "run.json").write_text("[1, 2]"), "not a JSON object"),
    (lambda f: edit_meta(f, lambda m: m.pop("resolution")), "missing keys"),
    (lambda f: edit_meta(f, lambda m: m.update(extra=1)), "unknown keys"),
    (lambda f: edit_meta(f, lambda m: m.update(resolution=-1)), "resolution must be"),
    (lambda f: edit_meta(f, lambda m: m.update(resolution="224")), "resolution must be"),
    (lambda f: edit_meta(f, lambda m: m.update(class_names=None)), "class_names"),
    (lambda f: edit_meta(f, lambda m: m.update(version=1)), "version"),
    (lambda f: edit_meta(f, lambda m: m.update(files=["head.safetensors", "backbone.safetensors"])), "missing"),
    (lambda f: (f / "head.safetensors").write_bytes(b"garbage"), "not a readable safetensors"),
    (lambda f: (f / "head.safetensors").unlink(), "missing"),
])
def test_a_tampered_run_folder_is_one_clear_error(run_folder, tmp_path, tamper, message):
    from headstart import HeadStart

    folder = tampered_copy(run_folder, tmp_path)
    tamper(folder)
    with pytest.raises(UserError, match=message):
        HeadStart.load(folder)


@pytest.mark.parametrize("tensors, message", [
    ({"weight": torch.zeros(3, 1280, dtype=torch.int32), "bias": torch.zeros(3)}, "floating point"),
    ({"weight": torch.zeros(3, 7), "bias": torch.zeros(3)}, r"\(3, 1280\)"),
    ({"weight": torch.zeros(3, 1280)}, "'weight' and 'bias'"),
    ({"weight": torch.full((3, 1280), float("nan")), "bias": torch.zeros(3)}, "NaN"),
])
def test_a_bad_head_file_is_one_clear_error(run_folder, tmp_path, tensors, message):
    from safetensors.torch import save_file

    from headstart import HeadStart

    folder = tampered_copy(run_folder, tmp_path)
    save_file(tensors, str(folder / "head.safetensors"))
    with pytest.raises(UserError, match=message):
        HeadStart.load(folder)


@pytest.mark.slow
def test_a_run_loaded_with_another_model_or_a_foreign_backbone_is_refused(run_folder, tmp_path):
    from safetensors.torch import save_file

    from headstart import HeadStart

    with pytest.raises(UserError, match="was made with model efficientnet-lite0"):
        HeadStart.load(run_folder, source="efficientnet-lite1")
    folder = tampered_copy(run_folder, tmp_path)
    save_file({"nonsense": torch.zeros(2)}, str(folder / "backbone.safetensors"))
    digest = hashlib.sha256((folder / "backbone.safetensors").read_bytes()).hexdigest()
    edit_meta(folder, lambda m: m.update(files=["head.safetensors", "backbone.safetensors"],
                                         digests={**m["digests"], "backbone.safetensors": digest}))
    with pytest.raises(UserError, match="fine-tuned backbone does not fit"):
        HeadStart.load(folder)


@pytest.mark.slow
def test_a_new_run_replaces_every_file_of_the_old_one(run_folder, tmp_path):
    """A stale backbone.safetensors of an earlier --full-finetune run must not survive a plain fit."""
    from headstart import HeadStart

    folder = tampered_copy(run_folder, tmp_path)
    (folder / "backbone.safetensors").write_bytes(b"an earlier run's fine-tuned backbone")
    HeadStart("efficientnet-lite0", resolution=32).fit(None, None, ["cat", "dog"]).save(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "head.safetensors", "run.json"]
    assert HeadStart.load(folder).class_names_ == ["cat", "dog"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no staging folder left behind


@pytest.mark.slow
def test_a_killed_save_leaves_the_previous_run(run_folder, tmp_path, monkeypatch):
    import headstart.run_folder
    from headstart import HeadStart

    folder = tampered_copy(run_folder, tmp_path)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(headstart.run_folder, "_swap_in", killed)
    with pytest.raises(KeyboardInterrupt):
        HeadStart("efficientnet-lite0", resolution=32).fit(None, None, ["x", "y"]).save(folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


@pytest.mark.slow
def test_a_run_is_never_written_over_a_folder_that_is_not_a_run(tmp_path):
    from headstart import HeadStart

    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "holiday.jpg").write_bytes(b"precious")
    (tmp_path / "afile").write_text("x")
    clf = HeadStart("efficientnet-lite0", resolution=32).fit(None, None, ["x", "y"])
    with pytest.raises(UserError, match="not a headstart run folder"):
        clf.save(tmp_path / "photos")
    with pytest.raises(UserError, match="is a file"):
        clf.save(tmp_path / "afile")
    assert (tmp_path / "photos" / "holiday.jpg").read_bytes() == b"precious"


# -- the command line: every bad input is one line and a non-zero exit -------------------------------


@pytest.mark.parametrize("args, message", [
    (["fit", "--data", ".", "--out", "x", "--resolution", "-1"], "--resolution"),
    (["fit", "--data", ".", "--out", "x", "--resolution", "0"], "--resolution"),
    (["fit", "--data", ".", "--out", "x", "--resolution", "8"], "--resolution"),
    (["fit", "--data", ".", "--out", "x", "--epochs", "-3"], "--epochs"),
    (["similar", "--classes", "cat", "--top", "-1"], "--top"),
    (["bench", "--test-size", "0"], "--test-size"),
    (["bench", "--test-size", "-5"], "--test-size"),
    (["bench", "--seeds", "0"], "--seeds"),
    (["bench", "--shots", "1,-2"], "--shots"),
    (["bench", "--shots", "five"], "--shots"),
    (["export-images", "--train-per-class", "-3", "--out", "x"], "--train-per-class"),
    (["export-images", "--train-per-class", "0", "--out", "x"], "--train-per-class"),
    (["similar", "--classes", ""], "--classes"),
    (["similar", "--classes", ",,,"], "--classes"),
    (["init", "--classes", "cat", "--out", "x"], "at least two"),
    pytest.param(["init", "--classes", "cat,Cat", "--out", "x"], "duplicate class names", marks=pytest.mark.slow),
    (["export", "no-such-run", "--onnx", "m.onnx"], "not a headstart run"),
    (["predict", "no-such-run", "x.png"], "not a headstart run"),
])
def test_bad_numbers_and_names_are_one_line_errors(monkeypatch, capsys, tmp_path, args, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_main(monkeypatch, capsys, *args)
    assert code == 2 and message in err and "Traceback" not in err


@pytest.mark.slow
def test_files_and_folders_in_the_wrong_place_are_one_line_errors(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    Path("afile").write_text("x")
    Path("fm").mkdir()
    (Path("fm") / "x").write_text("x")
    cases = [
        (["init", "--classes", "cat,dog", "--out", "afile"], "is a file"),
        (["bench", "--out", "afile"], "is a file"),
        (["similar", "--classes", "cat", "--heatmap", "afile/h.png"], "not a folder"),
        (["export-images", "--out", "fm"], "already exists"),
        (["init", "--classes", "cat,dog", "--overrides", "missing.txt", "--out", "x"], "overrides file"),
    ]
    for args, message in cases:
        code, _, err = run_main(monkeypatch, capsys, *args)
        assert code == 2 and message in err and "Traceback" not in err, (args, err)


def test_a_utf16_overrides_file_is_read(monkeypatch, capsys, tmp_path):
    (tmp_path / "map.txt").write_text("Bag=bag.n.06\n", encoding="utf-16")
    code, out, err = run_main(monkeypatch, capsys, "similar", "--classes", "Bag", "--top", "1",
                              "--overrides", tmp_path / "map.txt", "--json")
    assert code == 0, err
    assert '"synset": "bag.n.06"' in out


def test_a_bad_override_id_is_an_error_that_names_it(monkeypatch, capsys, tmp_path):
    (tmp_path / "map.txt").write_text("Bag=bag.n.99\n")
    code, _, err = run_main(monkeypatch, capsys, "init", "--classes", "Bag,Coat", "--overrides",
                            tmp_path / "map.txt", "--out", tmp_path / "run")
    assert code == 2 and "bag.n.99" in err and not (tmp_path / "run").exists()


@pytest.mark.slow
def test_names_work_when_the_cache_cannot_be_written(monkeypatch, capsys, tmp_path):
    """A cold cache that cannot be created (its folder would be below a file) still resolves names."""
    (tmp_path / "blocker").write_text("x")
    monkeypatch.setenv("HEADSTART_CACHE", str(tmp_path / "blocker" / "cache"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code, out, err = run_main(monkeypatch, capsys, "similar", "--classes", "cat,Faces_easy", "--top", "1",
                                  "--json")
    assert code == 0, err
    assert '"synset": "face.n.01"' in out


@pytest.mark.parametrize("content", [b"\xff\xfe\x00junk\x00\x01", b"model,dataset,method,shots,seed,epoch,accuracy\n"
                                     b"m,d,zero,five,0,0,0.5\n"])
def test_report_on_a_damaged_results_file_is_one_line(monkeypatch, capsys, tmp_path, content):
    (tmp_path / "results.csv").write_bytes(content)
    code, _, err = run_main(monkeypatch, capsys, "report", tmp_path)
    assert code == 2 and "results.csv" in err and "Traceback" not in err


def test_fit_folder_extracts_features_in_the_estimators_batch_size(tmp_path):
    """HeadStart(batch_size=) once reached only in-memory fits: fit_folder's caches used 64 (issue 30)."""
    from headstart.fit import fit_folder
    from headstart import SourceModel

    seen = []
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=4), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                              torch.nn.Linear(8, 4))
    source = SourceModel.from_module(net, name="tiny-batches", resolution=24)
    source.backbone.register_forward_pre_hook(lambda module, args: seen.append(len(args[0])))
    fit_folder(source, write_split_folder(tmp_path / "data", per_class=3), tmp_path / "run", "logreg",
               epochs=1, progress=False, backend="torch", batch_size=4)
    assert seen and max(seen) == 4 and sum(seen) >= 12  # 6 train + 6 test images, in batches of at most 4


def test_a_loaded_run_saved_again_keeps_its_metrics(tmp_path):
    """`metrics_` was set on load but never written again: load -> save dropped the run's metrics (issue 30)."""
    from headstart import HeadStart
    from headstart.fit import fit_folder
    from headstart.run_folder import load_run

    tiny = tiny_source()
    result = fit_folder(tiny, write_split_folder(tmp_path / "data"), tmp_path / "run", "logreg", epochs=1,
                        progress=False)
    written = load_run(tmp_path / "run").meta.metrics
    HeadStart.load(tmp_path / "run", source=tiny).save(tmp_path / "again")
    assert written["test_images"] == 6 and load_run(tmp_path / "again").meta.metrics == written
    assert result.estimator.metrics_ == result.meta.metrics
    result.estimator.save(tmp_path / "from-the-fit")
    assert load_run(tmp_path / "from-the-fit").meta.metrics == written
    refitted = HeadStart.load(tmp_path / "run", source=tiny).set_params(epochs=0)
    refitted.fit(np.random.default_rng(0).normal(size=(4, 16)).astype(np.float32), [0, 1, 0, 1], ["cat", "dog"])
    assert refitted.metrics_ == {} and load_run(refitted.save(tmp_path / "refit")).meta.metrics == {}
