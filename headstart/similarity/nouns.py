"""WordNet's noun files, read once into the taxonomy (``wordnet``) and the lexicon (``lexicon``).

``data.noun`` and the noun keys of ``index.sense`` are read once (`read_nouns`); ``wordnet`` builds
the hierarchy's arrays from those rows, ``lexicon`` the lemmas' and glosses'; both are kept in one
``.npz`` of headstart's cache (parsed once per machine, ~0.1 s to load) and loaded once per process.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from headstart.cache import cache_root, keep
from headstart.similarity import wordnet_data

if TYPE_CHECKING:
    from headstart.similarity.lexicon import Lexicon
    from headstart.similarity.wordnet import Taxonomy

_CACHE_VERSION = 3
_FILES = ("data.noun", "index.noun", "index.sense", "cntlist", "noun.exc", "lexnames")  # what the arrays come from


@dataclass(frozen=True)
class NounRows:
    """Each noun synset of ``data.noun`` in file order (N rows), and the noun sense keys of
    ``index.sense``: (key, synset offset, sense number, SemCor count)."""

    offsets: list[int]
    lexfile: list[int]
    instance: list[bool]
    words: list[list[str]]
    glosses: list[str]
    parents: list[list[int]]  # offsets of the hypernyms and instance hypernyms
    sense_keys: list[tuple[str, int, int, int]]


def read_nouns(corpus_dir: Path) -> NounRows:
    """Read ``data.noun`` and ``index.sense`` of the WordNet folder ``corpus_dir``."""
    offsets, lexfile, instance, words, glosses, parents = [], [], [], [], [], []
    with open(corpus_dir / "data.noun", encoding="utf8") as f:
        for line in f:
            if line.startswith(" "):  # licence header
                continue
            head, _, gloss = line.partition(" | ")
            t = head.split()
            at = 4 + 2 * int(t[3], 16)
            pointers = t[at + 1: at + 1 + 4 * int(t[at])]
            offsets.append(int(t[0]))
            lexfile.append(int(t[1]))
            instance.append("@i" in pointers[0::4])
            words.append(t[4:at:2])
            glosses.append(gloss.split('"', 1)[0].strip().rstrip(";").strip())  # the definition, not the examples
            parents.append([int(pointers[k + 1]) for k in range(0, len(pointers), 4) if pointers[k] in ("@", "@i")])
    sense_keys = []
    with open(corpus_dir / "index.sense", encoding="utf8") as f:
        for line in f:
            key, offset, number, count = line.split()
            if key.partition("%")[2].startswith("1:"):
                sense_keys.append((key, int(offset), int(number), int(count)))
    return NounRows(offsets, lexfile, instance, words, glosses, parents, sense_keys)


def wordnet_nouns() -> tuple[Taxonomy, Lexicon]:
    """The noun taxonomy and lexicon of this machine's WordNet, parsed once (see the module)."""
    return _load(str(wordnet_data.corpus_dir()), str(cache_root()))


@functools.lru_cache(maxsize=2)
def _load(corpus: str, cache: str) -> tuple[Taxonomy, Lexicon]:
    from headstart.similarity import lexicon, wordnet

    corpus_dir = Path(corpus)
    stamp = "_".join(str((corpus_dir / name).stat().st_size) for name in _FILES)
    path = Path(cache) / f"wordnet_nouns_v{_CACHE_VERSION}_{stamp}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            return (wordnet.taxonomy_from_arrays(_part(arrays, "taxonomy.")),
                    lexicon.lexicon_from_arrays(_part(arrays, "lexicon.")))
        except Exception:  # a torn or stale cache file is rebuilt below
            pass
    rows = read_nouns(corpus_dir)
    tax, lex = wordnet.build_taxonomy(rows, corpus_dir), lexicon.build_lexicon(rows, corpus_dir)
    arrays = {**{f"taxonomy.{k}": v for k, v in wordnet.taxonomy_arrays(tax).items()},
              **{f"lexicon.{k}": v for k, v in lexicon.lexicon_arrays(lex).items()}}
    keep(path, lambda f: np.savez(f, **arrays))
    return tax, lex


def _part(arrays: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
