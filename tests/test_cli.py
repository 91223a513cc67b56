"""The command line as a user runs it: real processes, exit codes, files written."""

import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file


def headstart(*args, check=True):
    result = subprocess.run([sys.executable, "-m", "headstart", *map(str, args)], capture_output=True,
                            text=True, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_sources_lists_the_three_models():
    assert headstart("sources").stdout.split() == ["efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"]


@pytest.mark.parametrize("args, message", [
    (["bench", "--methods", "magic"], "unknown method 'magic'; choose from: random"),
    (["fit", "--data", "/no/such/folder", "--out", "x"], "does not exist"),
    (["bench", "--shots", "one,two"], "comma-separated integers"),
])
@pytest.mark.slow
def test_user_errors_are_one_line_without_traceback(args, message):
    result = headstart(*args, check=False)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_similar_json_maps_trouser_to_jeans():
    result = json.loads(headstart("similar", "--classes", "Trouser,Bag", "--measure", "wup", "--top", "3",
                                  "--json").stdout)
    trouser, bag = result["targets"]
    assert trouser["synset"] == "trouser.n.01" and trouser["top"][0]["name"] == "jeans"
    assert trouser["gloss"]
    assert bag["top"][0]["name"] in {"plastic bag", "backpack", "messenger bag", "mailbag", "purse"}


HEAVY = ("torch", "tokenizers", "safetensors", "matplotlib", "scipy", "onnx", "onnxruntime", "nltk")


# The first `similar` of a name list embeds its senses' glosses with the text model (the sense choice
# reads the other names' meanings); the embeddings are cached, so the run measured is the second.
@pytest.mark.parametrize("args", [["--help"], ["--version"], ["similar", "--classes", "cat,Faces_easy", "--top", "1"],
                                  ["similar", "--classes", "cat,qwzx", "--top", "1"],  # qwzx: a text row
                                  ["similar", "--classes", "cat,dog", "--measure", "text"]])
@pytest.mark.slow
def test_help_and_names_with_cached_embeddings_load_no_heavy_library(args):
    """Start-up is most of these commands' time: torch alone takes 1-2 s to import here."""
    code = (f"import atexit, sys; atexit.register(lambda: print(sorted(set({HEAVY!r}) & set(sys.modules)))); "
            "from headstart.cli import main; main()")
    for _ in range(2):
        result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.slow
def test_fit_then_predict_on_an_exported_folder(tmp_path):
    folder, run = tmp_path / "fm", tmp_path / "run"
    headstart("export-images", "--train-per-class", 3, "--test-per-class", 2, "--out", folder)
    out = headstart("fit", "--data", folder, "--resolution", 112, "--epochs", 20, "--out", run).stdout
    assert "test accuracy" in out and "Trouser" in out and "trouser.n.01" in out  # the sense table
    meta = json.loads((run / "run.json").read_text())
    trust = meta["record"]["task_trust"]  # how far the head trusted the names, and why: printed and kept
    assert f"trust in the names: {100 * trust:.0f} %" in out and "training images it never saw" in out
    assert "starting from their own source row: " in out and "Sandal (n04133789)" in out
    assert meta["model"] == "efficientnet-lite0" and len(meta["class_names"]) == 10
    trouser = meta["classes"][meta["class_names"].index("Trouser")]
    assert trouser["synset"] == "trouser.n.01" and trouser["source"] == "wordnet" and trouser["how"]
    assert sorted(meta["files"]) == ["README.md", "head.safetensors", "report.md"]
    assert (run / "head.safetensors").exists() and (run / "report.md").exists()
    images = sorted((folder / "test" / "Trouser").glob("*.png"))
    lines = headstart("predict", run, *images, "--top", 2).stdout.strip().splitlines()
    assert len(lines) == 2 and all(line.count("%") == 2 for line in lines)
    records = [json.loads(line) for line in headstart("predict", run, *images, "--json").stdout.splitlines()]
    assert [r["image"] for r in records] == [str(p) for p in images] and len(records[0]["top"]) == 3

    save_file({"weight": torch.zeros(10, 7), "bias": torch.zeros(10)}, str(run / "head.safetensors"))
    result = headstart("predict", run, images[0], check=False)
    assert result.returncode == 2 and "damaged" in result.stderr and "(10, 1280)" in result.stderr


@pytest.mark.slow
def test_init_makes_a_zero_shot_head(tmp_path):
    out = headstart("init", "--classes", "cat,dog,car", "--out", tmp_path / "zs").stdout
    assert "names' head: top-5 source rows of path, wup, lch, res, jcn, lin, text" in out
    meta = json.loads((tmp_path / "zs" / "run.json").read_text())
    assert meta["class_names"] == ["cat", "dog", "car"] and meta["method"] == "headstart"


@pytest.mark.slow
def test_init_recentres_on_a_folder_of_unlabelled_images(tmp_path):
    from safetensors.torch import load_file

    folder = tmp_path / "fm"
    headstart("export-images", "--train-per-class", 2, "--test-per-class", 0, "--out", folder)
    classes = "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"
    headstart("init", "--classes", classes, "--out", tmp_path / "plain")
    headstart("init", "--classes", classes, "--unlabelled", folder / "train", "--out", tmp_path / "recentred")
    plain, recentred = (load_file(str(tmp_path / run / "head.safetensors")) for run in ("plain", "recentred"))
    assert torch.equal(plain["weight"], recentred["weight"])
    assert not torch.allclose(plain["bias"], recentred["bias"])
    missing = headstart("init", "--classes", classes, "--unlabelled", tmp_path / "none", "--out", tmp_path / "x",
                        check=False)
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr


def test_similar_follows_an_overrides_file(tmp_path):
    (tmp_path / "map.txt").write_text("Bag=bag.n.06  # the luggage sense\n")
    result = json.loads(headstart("similar", "--classes", "Bag", "--measure", "wup", "--top", "1",
                                  "--overrides", tmp_path / "map.txt", "--json").stdout)
    assert result["targets"][0]["synset"] == "bag.n.06" and "override" in result["targets"][0]["how"]


@pytest.mark.slow
def test_suite_passes_its_unlabelled_images_on_to_each_bench(tmp_path):
    result = headstart("suite", "--datasets", "fashion-mnist", "--methods", "headstart", "--shots", "0", "--seeds", "1",
                       "--resolution", "32", "--test-size", "30", "--unlabelled", "20", "--device", "cpu",
                       "--backend", "torch", "--out", tmp_path / "S")
    assert "on fashion-mnist" in result.stdout
    assert json.loads((tmp_path / "S" / "fashion-mnist" / "run.json").read_text())["settings"]["unlabelled"] == 20
