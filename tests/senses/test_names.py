"""Folder names -> lemmas (the ladder), the NLTK-free lexicon, and the image vote on real features."""

import random

import numpy as np
import pytest
import torch

from headstart.evidence import Evidence
from headstart.senses import class_senses, sense_table
from headstart.senses.names import edits1, read_name, spelling, tokens
from headstart.wordnet import data as D
from headstart.wordnet.nouns import lexicon, taxonomy
from helpers import shared_dataset



@pytest.fixture(scope="module")
def lex():
    return lexicon()


# --- the lexicon equals NLTK's reader ---------------------------------------------------------


@pytest.mark.slow
def test_lexicon_senses_equal_nltk(lex):
    wn, tax = D.wordnet(), taxonomy()
    rng = random.Random(0)
    lemmas = rng.sample(lex.lemmas, 400) + ["bag", "face", "crane", "sea_horse", "t-shirt"]
    for lemma in lemmas:
        ours = [tax.names[row] for row, _ in lex.senses(lemma)]
        theirs = [s.name() for s in wn.synsets(lemma, pos="n") if lemma in [lem.name().lower() for lem in s.lemmas()]]
        assert ours == theirs, lemma
    for name in ("bag.n.04", "face.n.01", "seahorse.n.02", "garfield.n.01"):
        s, row = wn.synset(name), tax.index[name]
        assert lex.glosses[row] == s.definition() and lex.lemma_names(row) == s.lemma_names()
        assert lex.lexname(row) == s.lexname() and bool(lex.instance[row]) == bool(s.instance_hypernyms())
    assert dict(lex.senses("face"))[tax.index["face.n.01"]] == wn.lemma("face.n.01.face").count()


@pytest.mark.slow
def test_base_forms_follow_morphy(lex):
    wn = D.wordnet()
    for word in ["faces", "geese", "boxes", "churches", "women", "berries", "scissors", "axes", "bus", "glasses"]:
        assert set(lex.base_forms(word)) == set(wn._morphy(word, "n")), word
    assert lex.base_forms("tennis_shoes") == ["tennis_shoe"]  # only the last word inflects


# --- the ladder on real folder names ----------------------------------------------------------


@pytest.mark.parametrize("name, lemmas, part, step", [
    ("Faces", ("face",), None, "plural"),
    ("Faces_easy", ("face",), None, "qualifier 'easy'"),
    ("Leopards", ("leopard",), None, "case"),
    ("cougar_body", ("cougar",), "body", "a body of"),
    ("cougar_face", ("cougar",), "face", "a face of"),
    ("flamingo_head", ("flamingo",), "head", "a head of"),
    ("grand_piano", ("grand_piano",), None, "WordNet noun 'grand_piano'"),
    ("windsor_chair", ("windsor_chair",), None, "WordNet noun 'windsor_chair'"),
    ("joshua_tree", ("joshua_tree",), None, "WordNet noun 'joshua_tree'"),
    ("sea_horse", ("sea_horse",), None, "WordNet noun 'sea_horse'"),
    ("wild_cat", ("wildcat",), None, "separators"),
    ("scissor", ("scissors",), None, "singular 'scissor' -> plural"),
    ("strawbery", ("strawberry",), None, "spelling corrected"),
    ("Ankle boot", ("boot",), None, "head word 'boot'"),
    ("T-shirt/top", ("t-shirt", "top"), None, "'t-shirt'"),
    ("car side view", ("car",), "side view", "a side view of"),
    ("Faces_v2", ("face",), None, "qualifier 'v2'"),
    ("café", ("cafe",), None, "cafe"),
    ("t-shirt", ("t-shirt",), None, "WordNet noun 't-shirt'"),
    ("0", ("0",), None, "WordNet noun '0'"),
    ("BareLand", ("land",), None, "head word 'land'"),  # CamelCase: the words apart
    ("HighwayOrRoad", ("road",), None, "head word 'road'"),
    ("SchoolBus", ("school_bus",), None, "WordNet noun 'school_bus'"),
    ("McIntosh", ("mcintosh",), None, "WordNet noun 'mcintosh'"),  # still found written together
])
def test_ladder_on_real_names(lex, name, lemmas, part, step):
    reading = read_name(lex, name)
    assert reading.lemmas == lemmas and reading.part == part
    assert step in reading.how


@pytest.mark.parametrize("name, why", [
    ("", "empty"), ("  ", "empty"), ("easy_2", "only qualifier"), ("___", "no letters"),
    ("qwzx", "not a WordNet noun"), ("猫", "not a WordNet noun"),
])
def test_odd_names_read_as_nothing(lex, name, why):
    reading = read_name(lex, name)
    assert reading.lemmas == () and why in reading.how


def test_camel_case_names_give_the_text_their_words(lex):
    assert read_name(lex, "DenseResidential").text == "dense residential"
    assert read_name(lex, "BareLand").text == "bare land"
    assert read_name(lex, "iPhone").text == "iphone"  # one letter before the capital is no word
    assert read_name(lex, "Faces_easy").text == "faces" and read_name(lex, "cougar_body").text == "cougar"


def test_spelling_guard(lex):
    assert spelling(lex, "strawbery") == "strawberry"
    assert spelling(lex, "cst") is None  # too short: cat, cut, cot ... are all one edit away
    assert spelling(lex, "iphone") is None  # the first letter is kept: not 'phone'
    assert all(e[0] == "s" for e in edits1("strawbery"))
    assert "strawberry" in edits1("strawbery") and "strawbery" not in edits1("strawbery")
    assert tokens("Ankle-Boot_2 ") == ["ankle", "boot", "2"]


# --- the image vote, on real Lite0 features of a few caltech50 training images ---------------


@pytest.fixture(scope="module")
def caltech_features(lite0):
    from headstart.data import load_dataset
    from headstart.data.features import FeatureCache

    data = load_dataset(str(shared_dataset("caltech50")))
    labels = data.train.labels
    idx = np.concatenate([np.flatnonzero(labels == data.class_names.index(c))[1:4] for c in ("flamingo", "chair")])
    return FeatureCache(lite0, data, "train", resolution=224).get(idx, progress=False)


@pytest.mark.slow
def test_images_choose_the_sense_they_show(lite0, caltech_features):
    # Flamingo photos filed as "crane" beside "chair": the names alone read the machine (an
    # artifact among artifacts, and a chair's gloss is closer to a machine's than to a bird's);
    # three images of a wading bird overturn that (two do not).
    names = ["crane", "chair"]
    names_only = class_senses(Evidence.names_only(lite0, names, {}))
    assert names_only[0].synset_name == "crane.n.04" and len(names_only[0].options) >= 2
    voted = class_senses(Evidence(lite0, names, caltech_features, torch.tensor([0, 0, 0, 1, 1, 1])))
    assert voted[0].synset_name == "crane.n.05" and "3 images chose crane.n.05 over crane.n.04" in voted[0].how
    assert voted[0].alternatives[0].startswith("crane.n.04:")
    assert voted[1].synset_name == "chair.n.01" and "3 images agree" in voted[1].how
    # without images of the class there is nothing to vote with
    only_chair = class_senses(Evidence(lite0, names, caltech_features[3:], torch.tensor([1, 1, 1])))
    assert only_chair[0].synset_name == "crane.n.04" and "images" not in only_chair[0].how


@pytest.mark.slow
def test_sense_table_one_line_per_class(lite0):
    table = sense_table(class_senses(Evidence.names_only(lite0, ["garfield", "Faces_easy", "flamingo_head"])))
    lines = table.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("garfield") and "-> text" in lines[0] and "one person" in lines[0]
    assert "face.n.01" in lines[1] and "[also:" in lines[1]
    assert "flamingo.n.01" in lines[2] and "head" in lines[2]


# --- one head, rows from two families ------------------------------------------------------------


def test_calibrate_keeps_order_and_takes_the_reference_scale():
    from headstart.senses.mixed import calibrate

    rng = np.random.default_rng(0)
    text = rng.random((3, 200)) * 0.6
    reference = rng.random((5, 200)) ** 4
    mapped = calibrate(text, reference)
    assert mapped.dtype == np.float32
    assert np.array_equal(mapped.argsort(axis=1), text.argsort(axis=1))
    for q in (0.5, 0.9, 0.99):
        assert abs(np.quantile(mapped, q) - np.quantile(reference, q)) < 0.02
    assert mapped.min() >= 0


@pytest.mark.slow
def test_mixed_rows_per_class(lite0):
    from headstart.senses import source_texts
    from headstart.senses.mixed import calibrate
    from headstart.similarity import similarity
    from headstart.text.embeddings import text_array
    from headstart.wordnet.measures import MEASURES, wordnet_matrix

    names = ["garfield", "Faces_easy", "flamingo_head", "qwzx"]
    evidence = Evidence.names_only(lite0, names, {})
    text = text_array(["garfield", "qwzx"], source_texts(lite0))
    for measure in MEASURES:
        rows = similarity(measure, evidence)
        wordnet = wordnet_matrix(["face.n.01", "flamingo.n.01"], lite0.labels, measure)
        assert rows.shape == (4, 1000) and (rows >= 0).all()
        assert torch.equal(rows[1:3], wordnet)
        assert torch.allclose(rows[[0, 3]], torch.from_numpy(calibrate(text, wordnet.numpy())))
    # the text family is unchanged: embeddings of the raw names
    assert torch.equal(similarity("text", evidence),
                       torch.from_numpy(text_array(["garfield", "Faces easy", "flamingo head", "qwzx"],
                                                   source_texts(lite0))))


@pytest.mark.slow
def test_sources_without_synset_labels_get_text_rows_against_their_names():
    from torch import nn

    from headstart import SourceModel
    from headstart.similarity import similarity
    from headstart.text.embeddings import text_array

    source = SourceModel.from_module(nn.Sequential(nn.Linear(4, 3)), labels=["tabby cat", "purse", "truck"])
    rows = similarity("lin", Evidence.names_only(source, ["cat", "Bag"], {}))
    assert torch.allclose(rows, torch.from_numpy(text_array(["cat", "bag"], ["tabby cat", "purse", "truck"])))
    assert rows[0].argmax() == 0 and rows[1].argmax() == 1
