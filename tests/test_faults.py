"""Fault injection: damaged caches, odd folder names, read-only places. Each case once corrupted
results silently or crashed with a traceback (issue 11)."""

from __future__ import annotations

import os
import shutil
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from headstart.data import load_image_folder
from headstart.data.features import FeatureCache, extract
from headstart.errors import UserError
from test_finetune import tiny_source


def write_images(folder, per_class=4, classes=("cat", "dog"), size=20, seed=0):
    rng = np.random.default_rng(seed)
    for c, name in enumerate(classes):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = rng.integers(0, 120, (size, size, 3), dtype=np.uint8)
            image[..., c % 3] += 120
            Image.fromarray(image).save(folder / name / f"{i}.png")
    return folder


@pytest.fixture
def tiny():
    return tiny_source()


def caches(source, data, root):
    return FeatureCache(source, data, "train", root=root), FeatureCache(source, data, "test", root=root)


def write_split_folder(root, per_class=3, classes=("cat", "dog")):
    """train/ and test/ of the same size, as `headstart export` writes them."""
    write_images(root / "train", per_class, classes, seed=0)
    write_images(root / "test", per_class, classes, seed=1)
    return root


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


@pytest.mark.parametrize("damage", ["truncate-half", "truncate-to-zero", "garbage", "extend", "flags"])
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
    got, messages = reopened(tiny, data, tmp_path)
    assert torch.allclose(got, expected, atol=1e-6)
    assert len(messages) == 1 and str(path) in messages[0] and "recomputing" in messages[0]
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
    cache._values[2] = np.nan
    cache._values.flush()
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


TINY_BENCH = dict(model="efficientnet-lite0", dataset="fashion-mnist", methods=["zero", "imprint"], shots=[1],
                  seeds=2, resolution=32, test_size=20, epochs=2, eval_epochs=[0, 2])


def test_a_bench_resumed_with_another_configuration_refuses_and_keeps_its_rows(tmp_path):
    from headstart.bench import BenchConfig, run_bench

    out = tmp_path / "B"
    results = run_bench(BenchConfig(out=str(out), **TINY_BENCH), progress=False)
    before, run_json = results.read_bytes(), (out / "run.json").read_bytes()
    for change in ({"test_size": 30}, {"resolution": 48}, {"epochs": 3}, {"unlabelled": 5}):
        with pytest.raises(UserError, match="another configuration") as error:
            run_bench(BenchConfig(out=str(out), **{**TINY_BENCH, **change}), progress=False)
        assert "new --out folder" in str(error.value)
        assert results.read_bytes() == before and (out / "run.json").read_bytes() == run_json
    # the same configuration with one more method resumes and adds only that method's rows
    run_bench(BenchConfig(out=str(out), **{**TINY_BENCH, "methods": ["zero", "imprint", "random"]}), progress=False)
    assert results.read_text().startswith(before.decode().splitlines()[0])
    assert results.read_text().count(",random,") == 2 * 2


def test_a_results_file_of_an_older_headstart_is_not_resumed(tmp_path):
    from headstart.bench import BenchConfig, run_bench

    out = tmp_path / "old"
    out.mkdir()
    (out / "results.csv").write_text("model,dataset,method,shots,seed,epoch,accuracy,final,resolution,test_size,"
                                     "seconds\nefficientnet-lite0,fashion-mnist,zero,1,0,2,0.5,1,32,20,0.1\n")
    with pytest.raises(UserError, match="another configuration"):
        run_bench(BenchConfig(out=str(out), **TINY_BENCH), progress=False)


def test_a_kill_while_the_results_are_rewritten_loses_nothing(tmp_path, monkeypatch):
    from headstart import bench
    from headstart.bench import BenchConfig, run_bench

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


def test_junk_rows_in_results_are_dropped_on_resume(tmp_path):
    from headstart.bench import BenchConfig, run_bench

    out = tmp_path / "B"
    results = run_bench(BenchConfig(out=str(out), **TINY_BENCH), progress=False)
    complete = results.read_text()
    config = complete.splitlines()[1].rsplit(",", 1)[1]
    with results.open("a") as f:
        f.write(f"efficientnet-lite0,fashion-mnist,zero,five,0,2,0.5,1,32,20,0.1,{config}\n\x00\x01junk\n")
    run_bench(BenchConfig(out=str(out), **TINY_BENCH), progress=False)
    assert results.read_text() == complete
