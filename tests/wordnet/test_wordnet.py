"""WordNet measures: path/wup/lch equal NLTK's; res/jcn/lin equal a slow pairwise reference."""

import functools
import gzip
import math
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from headstart.errors import UserError
from headstart.wordnet import data as D
from headstart.wordnet import measures as W


@pytest.fixture(scope="module")
def wn():
    return D.wordnet()


@pytest.fixture(scope="module")
def tax():
    return W.taxonomy()


def _multi_parent_rows(tax) -> np.ndarray:
    owner = np.repeat(np.arange(len(tax.names)), np.diff(tax.anc_ptr))
    return np.flatnonzero(np.bincount(owner[tax.anc_dist == 1], minlength=len(tax.names)) > 1)


def _pairs(tax, n_random: int, n_hard: int, seed: int) -> list[tuple[str, str]]:
    """Random noun pairs, plus the cases where NLTK's rules bite: synsets with several parents
    against their own ancestors (both orders), themselves, and each other."""
    rng = random.Random(seed)
    names = tax.names
    pairs = [(rng.choice(names), rng.choice(names)) for _ in range(n_random)]
    multi = _multi_parent_rows(tax).tolist()
    while len(pairs) < n_random + n_hard:
        x = rng.choice(multi)
        ancestors = tax.anc_idx[tax.anc_ptr[x]: tax.anc_ptr[x + 1]].tolist()
        a = names[rng.choice(ancestors)]
        pairs += [(names[x], a), (a, names[x]), (names[x], names[x]), (names[x], names[rng.choice(multi)])]
    return pairs


def _pairwise(targets_sources, measure, ic="intrinsic") -> np.ndarray:
    """The measure on each (target, source) pair, through one matrix call."""
    ts = sorted({t for t, _ in targets_sources})
    ss = sorted({s for _, s in targets_sources})
    m = W.wordnet_matrix(ts, ss, measure, ic).double().numpy()
    ti, si = {t: i for i, t in enumerate(ts)}, {s: i for i, s in enumerate(ss)}
    return np.array([m[ti[t], si[s]] for t, s in targets_sources])


@pytest.mark.parametrize("measure", ["path", "wup", "lch"])
def test_path_measures_equal_nltk(wn, tax, measure):
    # NLTK's lch first scans all 82k synsets (~15 s) for the deepest noun; WordNet 3.0's is 19.
    assert int(tax.max_depth.max()) == 19
    wn._max_depth.setdefault(("n", False), 19)
    pairs = _pairs(tax, n_random=500, n_hard=120, seed=0)
    ours = _pairwise(pairs, measure)
    nltk_fn = {"path": "path_similarity", "wup": "wup_similarity", "lch": "lch_similarity"}[measure]
    ref = np.array([getattr(wn.synset(t), nltk_fn)(wn.synset(s)) for t, s in pairs])
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-6)  # float32 output


# --- slow, independent reference for the IC measures ---------------------------------------


@functools.lru_cache(maxsize=1)
def _hyponyms(corpus_dir):
    """offset -> direct hyponym offsets (incl. instances), read downward from data.noun."""
    children = {}
    for line in open(corpus_dir / "data.noun", encoding="utf8"):
        if line.startswith(" "):
            continue
        f = line.split(" | ")[0].split()
        at = 4 + 2 * int(f[3], 16)
        ptrs = f[at + 1:]
        children[int(f[0])] = [int(ptrs[k + 1]) for k in range(0, 4 * int(f[at]), 4) if ptrs[k] in ("~", "~i")]
    return children


def _closure_factory(children):
    @functools.lru_cache(maxsize=None)
    def closure(offset):
        out = set()
        for c in children[offset]:
            out.add(c)
            out |= closure(c)
        return frozenset(out)
    return closure


@functools.lru_cache(maxsize=1)
def _semcor_synset_counts(corpus_dir):
    key_offset = {}
    for line in open(corpus_dir / "index.sense", encoding="utf8"):
        key, offset = line.split()[:2]
        key_offset[key] = int(offset)
    counts = {}
    for line in open(corpus_dir / "cntlist", encoding="utf8"):
        count, key = line.split()[:2]
        if "%1:" in key and key in key_offset:
            counts[key_offset[key]] = counts.get(key_offset[key], 0) + int(count)
    return counts


@functools.lru_cache(maxsize=2)
def _reference_ic(mode):
    """synset -> IC: Seco's intrinsic IC, or NLTK ic()-style SemCor IC (smoothing 1)."""
    corpus = D.corpus_dir()
    children = _hyponyms(corpus)
    closure = _closure_factory(children)
    if mode == "intrinsic":
        def ic_of(offset):
            return 1 - math.log(len(closure(offset)) + 1) / math.log(len(children))
    else:
        counts = _semcor_synset_counts(corpus)
        total = 1 + sum(counts.values())

        def ic_of(offset):
            return -math.log((1 + sum(counts.get(o, 0) for o in closure(offset) | {offset})) / total)
    cached = functools.lru_cache(maxsize=None)(ic_of)
    return lambda s: cached(s.offset())


def _reference(measure, ic_of, a, b):
    ic_a, ic_b = ic_of(a), ic_of(b)
    lcs = max(ic_of(h) for h in a.common_hypernyms(b))
    if measure == "res":
        return lcs
    if measure == "lin":
        return 2 * lcs / (ic_a + ic_b) if ic_a + ic_b > 0 else 1.0
    return 1 / max(ic_a + ic_b - 2 * lcs, W.JCN_MIN_DISTANCE)


@pytest.mark.parametrize("ic", ["intrinsic", "semcor"])
@pytest.mark.parametrize("measure", ["res", "jcn", "lin"])
@pytest.mark.slow
def test_ic_measures_equal_reference(wn, tax, measure, ic):
    pairs = _pairs(tax, n_random=60, n_hard=40, seed=1)
    ic_of = _reference_ic(ic)
    ref = np.array([_reference(measure, ic_of, wn.synset(t), wn.synset(s)) for t, s in pairs])
    np.testing.assert_allclose(_pairwise(pairs, measure, ic), ref, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_hyponym_counts_match_downward_closure(tax):
    closure = _closure_factory(_hyponyms(D.corpus_dir()))
    ref = np.array([len(closure(o)) for o in tax.offsets.tolist()])
    np.testing.assert_array_equal(tax.hyponym_counts, ref)
    assert tax.ic("intrinsic")[tax.index["entity.n.01"]] == 0.0


# --- contract -------------------------------------------------------------------------------


@pytest.mark.parametrize("measure", W.MEASURES)
def test_matrix_shape_dtype_and_nonnegative(measure):
    targets = ["dog.n.01", "n02774152", "trouser.n.01"]
    sources = ["n01440764", "cat.n.01", "entity.n.01", "dog.n.01"]
    m = W.wordnet_matrix(targets, sources, measure)
    assert m.shape == (3, 4) and m.dtype == torch.float32
    assert torch.all(m >= 0) and torch.all(torch.isfinite(m))


def test_id_forms_are_interchangeable():
    names = ["dog.n.01", "bag.n.04", "cat.n.01"]
    offsets = [D.synset_id(D.synset(n)) for n in names]
    assert offsets[1] == "n02774152"
    assert torch.equal(W.wordnet_matrix(names[:2], names[2:], "lin"), W.wordnet_matrix(offsets[:2], offsets[2:], "lin"))


def test_lch_matches_nltk_documented_value():
    # NLTK's WordNet HOWTO: dog.lch_similarity(cat) == 2.028...
    assert W.wordnet_matrix(["dog.n.01"], ["cat.n.01"], "lch").item() == pytest.approx(2.0281482472922856, rel=1e-6)


def test_identical_synsets_get_the_finite_jcn_cap():
    m = W.wordnet_matrix(["dog.n.01"], ["dog.n.01", "cat.n.01"], "jcn")
    assert m[0, 0] == pytest.approx(1 / W.JCN_MIN_DISTANCE)
    assert 0 < m[0, 1] < m[0, 0]


def test_bad_arguments_raise_user_error():
    with pytest.raises(UserError, match="path, wup"):
        W.wordnet_matrix(["dog.n.01"], ["cat.n.01"], "cosine")
    with pytest.raises(UserError, match="semcor"):
        W.wordnet_matrix(["dog.n.01"], ["cat.n.01"], "lin", ic="brown")
    with pytest.raises(UserError, match="n09999999"):
        W.wordnet_matrix(["n09999999"], ["cat.n.01"])


# --- data preparation -----------------------------------------------------------------------


def test_lexnames_are_the_man_pages_table():
    lines = (D.corpus_dir() / "lexnames").read_text().splitlines()
    assert len(lines) == 45
    assert lines[3] == "03\tnoun.Tops\t1" and lines[44] == "44\tadj.ppl\t3"
    man_page = Path("/usr/share/man/man5/lexnames.5WN.gz")
    if not man_page.is_file():
        pytest.skip(f"{man_page} is not installed (slim images drop man pages): nothing to compare with")
    rows = re.findall(r"^(\d\d)\t(\w+\.\w+)\s*\t", gzip.decompress(man_page.read_bytes()).decode(), re.MULTILINE)
    assert [(int(num), name) for num, name in rows] == list(enumerate(D.LEXNAMES))


def test_wordnet_from_an_nltk_data_folder_without_cntlist_or_man_pages(tmp_path, monkeypatch):
    """The layout of NLTK's wordnet download: lexnames included, cntlist.rev but no cntlist."""
    debian_folder, nltk_folder = D.DEBIAN_WORDNET_DIR, tmp_path / "nltk_data" / "corpora" / "wordnet"
    nltk_folder.mkdir(parents=True)
    for name in D.WORDNET_FILES:
        shutil.copy(debian_folder / name, nltk_folder / name)
    monkeypatch.delenv("HEADSTART_WORDNET_DIR", raising=False)
    monkeypatch.setenv("NLTK_DATA", str(tmp_path / "nltk_data"))
    monkeypatch.setattr(D, "DEBIAN_WORDNET_DIR", tmp_path / "no-debian")
    assert D.source_dir() == nltk_folder
    target = D.prepare_wordnet_dir(nltk_folder, tmp_path / "out")
    derived = (target / "cntlist").read_text().splitlines()
    debian = (debian_folder / "cntlist").read_text().splitlines()
    assert sorted(derived) == sorted(debian) and derived[0] == debian[0]
    assert (target / "lexnames").read_text() == D.lexnames_text()


def test_synset_helpers_round_trip():
    s = D.synset("bag.n.04")
    assert D.synset_id(s) == "n02774152" and D.synset("n02774152") == s
    assert D.is_synset_id("n02774152") and D.is_synset_id("bag.n.04") and not D.is_synset_id("bag")
    with pytest.raises(UserError):
        D.synset("bag.n.99")


def test_missing_wordnet_dir_names_the_install_command(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="apt-get install wordnet-base wordnet-sense-index"):
        D.prepare_wordnet_dir(tmp_path / "absent", tmp_path / "out")
    monkeypatch.setenv("HEADSTART_WORDNET_DIR", str(tmp_path / "absent"))
    monkeypatch.setenv("HEADSTART_CACHE", str(tmp_path / "cache"))
    with pytest.raises(UserError, match="wordnet-sense-index"):
        W.taxonomy()


PARSE_COUNT = """
import builtins
opened = []
real_open = builtins.open
def counting_open(file, *args, **kwargs):
    opened.append(str(file))
    return real_open(file, *args, **kwargs)
builtins.open = counting_open
from headstart.wordnet.nouns import lexicon, taxonomy
taxonomy().index, lexicon().senses("dog")
builtins.open = real_open
print(sum(name.endswith("data.noun") for name in opened))
"""


@pytest.mark.slow
def test_wordnet_is_parsed_once_into_one_cache_file(tmp_path):
    """The taxonomy and the lexicon come from one reading of data.noun, kept in one cache file."""
    env = {**os.environ, "HEADSTART_CACHE": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", PARSE_COUNT], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["1"]
    assert len(list(tmp_path.glob("wordnet_*.npz"))) == 1


@pytest.mark.slow
def test_the_product_never_imports_nltk():
    """nltk is a test dependency: names-only fitting (every WordNet family) runs without it."""
    import subprocess
    import sys

    code = ("import sys, headstart; headstart.HeadStart(epochs=1).fit(None, None, ['cat', 'dog']); "
            "assert 'nltk' not in sys.modules, 'nltk was imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
