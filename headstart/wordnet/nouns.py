"""WordNet's noun files, read once into the taxonomy (``taxonomy``) and the lexicon (``lexicon``).

``data.noun`` and the noun keys of ``index.sense`` are read once (``noun_files.read_nouns``);
``taxonomy`` builds the hierarchy's arrays from those rows, ``lexicon`` the lemmas' and glosses'; both are kept in one
``.npz`` of headstart's cache (parsed once per machine, ~0.1 s to load) and loaded once per process.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from headstart.cache import cache_root, keep
from headstart.wordnet import taxonomy as taxonomies
from headstart.wordnet import data as wordnet_data
from headstart.wordnet import lexicon as lexicons
from headstart.wordnet.lexicon import Lexicon
from headstart.wordnet.noun_files import read_nouns
from headstart.wordnet.taxonomy import Taxonomy

_CACHE_VERSION = 3
_FILES = ("data.noun", "index.noun", "index.sense", "cntlist", "noun.exc", "lexnames")  # what the arrays come from


def taxonomy() -> Taxonomy:
    """The noun taxonomy, parsed once per machine (with the lexicon) and loaded once per process."""
    return wordnet_nouns()[0]


def lexicon() -> Lexicon:
    """The noun lexicon, parsed once per machine (with the taxonomy) and loaded once per process."""
    return wordnet_nouns()[1]


def wordnet_nouns() -> tuple[Taxonomy, Lexicon]:
    """The noun taxonomy and lexicon of this machine's WordNet, parsed once (see the module)."""
    return _load(str(wordnet_data.corpus_dir()), str(cache_root()))


@functools.lru_cache(maxsize=2)
def _load(corpus: str, cache: str) -> tuple[Taxonomy, Lexicon]:
    corpus_dir = Path(corpus)
    stamp = "_".join(str((corpus_dir / name).stat().st_size) for name in _FILES)
    path = Path(cache) / f"wordnet_nouns_v{_CACHE_VERSION}_{stamp}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            return (taxonomies.taxonomy_from_arrays(_part(arrays, "taxonomy.")),
                    lexicons.lexicon_from_arrays(_part(arrays, "lexicon.")))
        except Exception:  # a torn or stale cache file is rebuilt below
            pass
    rows = read_nouns(corpus_dir)
    tax, lex = taxonomies.build_taxonomy(rows, corpus_dir), lexicons.build_lexicon(rows, corpus_dir)
    arrays = {**{f"taxonomy.{k}": v for k, v in taxonomies.taxonomy_arrays(tax).items()},
              **{f"lexicon.{k}": v for k, v in lexicons.lexicon_arrays(lex).items()}}
    keep(path, lambda f: np.savez(f, **arrays))
    return tax, lex


def _part(arrays: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
