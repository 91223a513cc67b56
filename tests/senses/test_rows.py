"""The class rows' cache: what it returns is what a fresh computation gives, a caller's change to
its copy never reaches the next caller, its key holds everything the rows depend on, and it keeps
no more than its byte bound."""

from collections import OrderedDict

import numpy as np
import pytest
from torch import nn

from headstart.senses import rows as R
from headstart.senses.naming import ClassSense
from headstart.similarity import name_text_rows
from headstart.sources.model import SourceModel

DOG, CAT, BIRD, CAR = "n02084071", "n02121808", "n01503061", "n02958343"


def sense(name: str, synset_id: str | None = None, text: str = "") -> ClassSense:
    return ClassSense(name, synset_id, None, "", "text" if synset_id is None else "wordnet", "", text=text)


@pytest.fixture(scope="module")
def source():
    """Four WordNet source classes; WordNet and the text model loaded once, outside the timed calls."""
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 4))
    made = SourceModel.from_module(net, labels=[DOG, CAT, BIRD, CAR], names=["dog", "cat", "bird", "car"],
                                   resolution=16)
    R._computed_rows(made, [sense("puppy", DOG), sense("tabby", text="tabby cat")], "lin")
    return made


@pytest.fixture(autouse=True)
def empty_cache(monkeypatch):
    monkeypatch.setattr(R, "_ROWS", OrderedDict())


SENSES = [sense("puppy", DOG), sense("tabby", text="tabby cat"), sense("sparrow", BIRD)]


def test_cached_rows_are_the_rows_computed_afresh(source):
    fresh = R._computed_rows(source, SENSES, "lin")
    assert np.array_equal(R.class_rows(source, SENSES, "lin"), fresh)  # computed and kept
    assert np.array_equal(R.class_rows(source, SENSES, "lin"), fresh) and len(R._ROWS) == 1  # from the cache
    text = name_text_rows(source, ["tabby cat", "fire_truck"])
    assert np.array_equal(name_text_rows(source, ["tabby cat", "fire_truck"]), text) and len(R._ROWS) == 2
    assert np.allclose(text[1], name_text_rows(source, ["fire truck"])[0])  # "_" read as a space: its own key


def test_a_caller_changing_its_rows_in_place_changes_no_one_else_s(source):
    fresh = R._computed_rows(source, SENSES, "path")
    R.class_rows(source, SENSES, "path")[:] = -1.0  # the copy of a computation
    R.class_rows(source, SENSES, "path")[0, 0] = 7.0  # the copy of a cached one
    assert np.array_equal(R.class_rows(source, SENSES, "path"), fresh)
    name_text_rows(source, ["tabby cat"])[:] = -1.0
    assert (name_text_rows(source, ["tabby cat"]) >= 0).all()


def test_the_key_holds_the_measure_the_synsets_and_the_texts(source):
    variants = [(SENSES, "lin"), (SENSES, "path"), ([sense("puppy", CAT), *SENSES[1:]], "lin"),
                ([SENSES[0], sense("tabby", text="tabby tomcat"), SENSES[2]], "lin"),
                ([SENSES[0], sense("tabby"), SENSES[2]], "lin")]  # no text: the name is read
    got = [R.class_rows(source, senses, measure) for senses, measure in variants]
    for (senses, measure), rows in zip(variants, got):
        assert np.array_equal(rows, R._computed_rows(source, senses, measure))
    assert all(not np.array_equal(a, b) for i, a in enumerate(got) for b in got[i + 1:])
    assert len(R._ROWS) == len(variants)
    relabelled = SourceModel.from_module(nn.Linear(4, 4), labels=[CAT, DOG, BIRD, CAR], names=list(source.names),
                                         resolution=16)
    assert np.array_equal(R.class_rows(relabelled, SENSES, "lin"), got[0][:, [1, 0, 2, 3]])  # the source's own rows
    # Source labels that are no WordNet ids: text rows against the source's names, which the key holds too
    named = [SourceModel.from_module(nn.Linear(4, 4), labels=["s0", "s1", "s2", "s3"], names=names, resolution=16)
             for names in (["dog", "cat", "bird", "car"], ["car", "bird", "cat", "dog"])]
    texts = [sense("puppy"), sense("tabby", text="tabby cat")]
    assert np.array_equal(R.class_rows(named[1], texts, "lin"), R.class_rows(named[0], texts, "lin")[:, ::-1])


def test_the_cache_keeps_no_more_than_its_bytes(source, monkeypatch):
    one = R._computed_rows(source, SENSES, "lin").nbytes
    computed, compute = [], R._computed_rows
    monkeypatch.setattr(R, "_computed_rows", lambda *args: computed.append(args[2]) or compute(*args))
    monkeypatch.setattr(R, "ROWS_CACHE_BYTES", 2 * one)  # room for two
    for measure in ("path", "lin", "path", "jcn", "path", "lin"):  # lin was the least recent when jcn came
        R.class_rows(source, SENSES, measure)
    assert computed == ["path", "lin", "jcn", "lin"]  # path asked again while kept, lin after it was dropped
    assert [key[-1] for key in R._ROWS] == ["path", "lin"]
    many = SENSES + [sense("car", CAR), sense("cat", CAT), sense("bird", BIRD), sense("hound", DOG)]
    assert np.array_equal(R.class_rows(source, many, "wup"), R._computed_rows(source, many, "wup"))
    assert [key[-1] for key in R._ROWS] == ["path", "lin"]  # rows over the bound are not kept, nor push out others
