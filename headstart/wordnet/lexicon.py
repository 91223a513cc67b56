"""WordNet's noun lexicon without NLTK: lemma -> senses, glosses, lemma names, SemCor counts.

NLTK's reader takes 5-10 s to load; names are resolved on every `similar`, `init` and `fit`. So
the few facts choosing a sense needs are parsed once from the WordNet files into arrays kept in
headstart's cache (with the taxonomy's, by ``nouns``; ~0.1 s to load):

* each noun synset, in ``data.noun`` order (the rows of ``nouns.taxonomy()``): its definition, its
  lemma names (first = the synset's head word), its lexicographer file (``noun.animal`` ...) and
  whether it is an instance (one individual: a person, a city, a fictional character);
* each noun lemma (lower case, words joined by ``_``): its senses in WordNet's sense order, with
  the SemCor tag count of each (``index.sense``);
* the irregular plurals of ``noun.exc`` (``geese`` -> ``goose``).

``base_forms`` applies WordNet's morphy rules for nouns (man page ``morphy(7WN)``): exceptions,
then the detachment suffixes, keeping the forms that are lemmas.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from headstart.wordnet.noun_files import NounRows

_SEP = "\x1f"  # joins strings in the cache file; never part of WordNet text
# morphy(7WN)'s detachment rules for nouns: (inflected suffix, base suffix)
NOUN_SUFFIXES = (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"),
                 ("men", "man"), ("ies", "y"))


@dataclass(frozen=True, eq=False)
class Lexicon:
    """Noun lemmas and synsets as arrays (N synsets, L lemmas, M lemma senses).

    ``offsets [N]``, ``lexfile [N]`` (number of the lexicographer file, named in ``lexnames``),
    ``instance [N]`` bool,
    ``glosses`` / ``synset_lemmas`` (N strings; lemmas joined by ``,``); ``lemmas`` (L sorted
    strings), ``sense_ptr [L+1]`` / ``sense_row [M]`` / ``sense_count [M]``: CSR rows of each
    lemma's synset rows in sense order and their SemCor counts; ``exceptions``: inflected -> bases.
    """

    offsets: np.ndarray
    lexfile: np.ndarray
    instance: np.ndarray
    lexnames: list[str]
    glosses: list[str]
    synset_lemmas: list[str]
    lemmas: list[str]
    sense_ptr: np.ndarray
    sense_row: np.ndarray
    sense_count: np.ndarray
    exceptions: dict[str, list[str]]

    @functools.cached_property
    def lemma_index(self) -> dict[str, int]:
        return {lemma: i for i, lemma in enumerate(self.lemmas)}

    def has(self, lemma: str) -> bool:
        return lemma in self.lemma_index

    def senses(self, lemma: str) -> list[tuple[int, int]]:
        """(synset row, SemCor count) of each noun sense of an exact lemma, in WordNet's order."""
        i = self.lemma_index.get(lemma)
        if i is None:
            return []
        ptr, rows, counts = self._sense_table
        return list(zip(rows[ptr[i]: ptr[i + 1]], counts[ptr[i]: ptr[i + 1]]))

    @functools.cached_property
    def _sense_table(self) -> tuple[list[int], list[int], list[int]]:
        """The CSR arrays as Python lists: thousands of names then cost no array slicing, and one
        name no per-lemma lists of all 120,000 lemmas."""
        return self.sense_ptr.tolist(), self.sense_row.tolist(), self.sense_count.tolist()

    def base_forms(self, word: str) -> list[str]:
        """Lemmas that ``word`` (lower case, ``_`` for spaces) may be an inflection of, itself first.

        Exceptions first, else the suffix rules; only the last word of a collocation inflects
        (``ankle_boots`` -> ``ankle_boot``)."""
        head, sep, last = word.rpartition("_")
        if last in self.exceptions:  # an irregular form: the rules do not apply (``axes``: not ``axe``)
            forms = [word] + [head + sep + base for base in self.exceptions[last]]
        else:
            forms = [word] + [head + sep + last[: -len(suffix)] + base for suffix, base in NOUN_SUFFIXES
                              if last.endswith(suffix) and len(last) > len(suffix)]
        return [f for f in dict.fromkeys(forms) if self.has(f)]

    def lemma_names(self, row: int) -> list[str]:
        return self.synset_lemmas[row].split(",")

    def lemma_text(self, row: int) -> str:
        """The synset's lemmas as text for the text model: ``jersey, T-shirt, tee shirt``."""
        return ", ".join(name.replace("_", " ") for name in self.lemma_names(row))

    def lexname(self, row: int) -> str:
        return self.lexnames[self.lexfile[row]]


_STRING_FIELDS = ("lexnames", "glosses", "synset_lemmas", "lemmas")


def lexicon_arrays(lex: Lexicon) -> dict[str, np.ndarray]:
    """The lexicon as arrays for the cache file (strings packed into bytes)."""
    arrays = {f.name: getattr(lex, f.name) for f in fields(Lexicon) if f.name not in _STRING_FIELDS + ("exceptions",)}
    for name in _STRING_FIELDS:
        arrays[name] = _pack(getattr(lex, name))
    arrays["exceptions"] = _pack(f"{k} {' '.join(v)}" for k, v in lex.exceptions.items())
    return arrays


def _pack(strings) -> np.ndarray:
    return np.frombuffer(_SEP.join(strings).encode(), dtype=np.uint8)


def _unpack(array: np.ndarray) -> list[str]:
    return bytes(array).decode().split(_SEP)


def lexicon_from_arrays(arrays: dict[str, np.ndarray]) -> Lexicon:
    """The lexicon of `lexicon_arrays`, checked; raises on anything inconsistent."""
    arrays = dict(arrays)
    for name in _STRING_FIELDS:
        arrays[name] = _unpack(arrays[name])
    arrays["exceptions"] = {k: v for k, *v in (line.split(" ") for line in _unpack(arrays["exceptions"]))}
    lex = Lexicon(**arrays)
    n, n_lemmas = len(lex.offsets), len(lex.lemmas)
    if not (len(lex.glosses) == len(lex.synset_lemmas) == len(lex.lexfile) == len(lex.instance) == n
            and len(lex.sense_ptr) == n_lemmas + 1 and lex.sense_ptr[-1] == len(lex.sense_row) == len(lex.sense_count)
            and (lex.sense_row < n).all() and (lex.sense_row >= 0).all()
            and int(lex.lexfile.max()) < len(lex.lexnames)):
        raise ValueError("inconsistent lexicon arrays")
    return lex


def build_lexicon(rows: NounRows, corpus_dir: Path) -> Lexicon:
    """Build the lexicon from the noun rows (``noun_files.read_nouns``), ``noun.exc`` and ``lexnames``."""
    lexnames = [line.split("\t")[1] for line in (corpus_dir / "lexnames").read_text().splitlines()]
    synset_lemmas = [",".join(_strip_marker(w) for w in words) for words in rows.words]
    row = {o: i for i, o in enumerate(rows.offsets)}

    senses: dict[str, list[tuple[int, int, int]]] = {}
    for key, offset, number, count in rows.sense_keys:
        senses.setdefault(key.partition("%")[0], []).append((number, row[offset], count))
    lemmas = sorted(senses)
    ordered = [sorted(senses[lemma]) for lemma in lemmas]
    sense_ptr = np.concatenate([[0], np.cumsum([len(s) for s in ordered])]).astype(np.int64)
    sense_row = np.array([r for s in ordered for _, r, _ in s], np.int32)
    sense_count = np.array([c for s in ordered for _, _, c in s], np.int32)

    exceptions = {}
    with open(corpus_dir / "noun.exc", encoding="utf8") as f:
        for line in f:
            inflected, *bases = line.split()
            exceptions[inflected] = bases
    return Lexicon(
        offsets=np.array(rows.offsets, np.int64), lexfile=np.array(rows.lexfile, np.int8),
        instance=np.array(rows.instance), lexnames=lexnames, glosses=list(rows.glosses),
        synset_lemmas=synset_lemmas, lemmas=lemmas, sense_ptr=sense_ptr, sense_row=sense_row,
        sense_count=sense_count, exceptions=exceptions,
    )


def _strip_marker(word: str) -> str:
    """Adjective lemmas carry syntactic markers like ``(p)``; nouns do not, but be safe."""
    return word.split("(", 1)[0]
