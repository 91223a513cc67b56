"""The WordNet 3.0 noun hierarchy as arrays (``Taxonomy``), built from the noun files' rows
(``noun_files.read_nouns``) and kept in headstart's cache by ``nouns``; the similarity measures of
``measures`` read it."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from headstart.errors import UserError

if TYPE_CHECKING:
    from headstart.wordnet.noun_files import NounRows

IC_MODES = ("intrinsic", "semcor")


@dataclass(frozen=True, eq=False)  # eq=False: hashed by identity, for the IC cache
class Taxonomy:
    """The WordNet 3.0 noun hierarchy as arrays (N = 82,115 synsets, M ancestor entries).

    ``anc_ptr [N+1]``, ``anc_idx [M]``, ``anc_dist [M]``: CSR rows of each synset's ancestors,
    itself included, with the shortest up-distance (hypernym + instance-hypernym edges, as NLTK's
    BFS). ``anc_path [M]``: NLTK's ``shortest_path_distance`` to that ancestor, which may be
    shorter (up past it, then down). ``min_depth``/``max_depth [N]`` as NLTK's; ``name_rank [N]`` the order of
    ``names``.
    """

    offsets: np.ndarray
    names: list[str]
    anc_ptr: np.ndarray
    anc_idx: np.ndarray
    anc_dist: np.ndarray
    anc_path: np.ndarray
    min_depth: np.ndarray
    max_depth: np.ndarray
    name_rank: np.ndarray
    semcor_counts: np.ndarray  # [N] SemCor tag counts summed over each synset's senses

    @functools.cached_property
    def index(self) -> dict[str, int]:
        """Row of each id, in both forms (``n02769748`` and ``bag.n.04``)."""
        ids = {f"n{o:08d}": i for i, o in enumerate(self.offsets.tolist())}
        ids.update((name, i) for i, name in enumerate(self.names))
        return ids

    @functools.cached_property
    def hyponym_counts(self) -> np.ndarray:
        """[N] size of each synset's hyponym closure (distinct, instances included, self excluded)."""
        return np.bincount(self.anc_idx, minlength=len(self.names)) - 1

    @functools.cached_property
    def lcs_order(self) -> np.ndarray:
        """Synsets in NLTK's Wu-Palmer order of preference as the LCS of two synsets: greatest
        ``min_depth`` first, then the smallest name."""
        return np.lexsort((self.name_rank, -self.min_depth))

    @functools.cached_property
    def lcs_rank(self) -> np.ndarray:
        """[N] each synset's position in ``lcs_order``."""
        return np.argsort(self.lcs_order)

    def ic(self, mode: str = "intrinsic") -> np.ndarray:
        """[N] float64 information content, ``"intrinsic"`` (Seco 2004) or ``"semcor"`` (cntlist)."""
        return _ic(self, mode)


@functools.lru_cache(maxsize=4)
def _ic(tax: Taxonomy, mode: str) -> np.ndarray:
    if mode == "intrinsic":
        n = len(tax.names)
        return 1.0 - np.log(tax.hyponym_counts + 1.0) / math.log(n)
    if mode == "semcor":
        # Like NLTK's ic(): every synset starts at 1 (smoothing, not propagated); each synset's
        # count is added to itself and each distinct ancestor once; p = freq / (1 + total count).
        owner = np.repeat(np.arange(len(tax.names)), np.diff(tax.anc_ptr))
        freq = 1.0 + np.bincount(tax.anc_idx, weights=tax.semcor_counts[owner], minlength=len(tax.names))
        return np.log((1.0 + tax.semcor_counts.sum()) / freq)
    raise UserError(f"Unknown information content {mode!r}; choose one of {', '.join(IC_MODES)}.")


def taxonomy_arrays(tax: Taxonomy) -> dict[str, np.ndarray]:
    """The taxonomy as arrays for the cache file (names as one ``\\n``-joined byte string)."""
    arrays = {f.name: getattr(tax, f.name) for f in fields(Taxonomy) if f.name != "names"}
    arrays["names"] = np.frombuffer("\n".join(tax.names).encode(), dtype=np.uint8)
    return arrays


def taxonomy_from_arrays(arrays: dict[str, np.ndarray]) -> Taxonomy:
    return Taxonomy(**{**arrays, "names": bytes(arrays["names"]).decode().split("\n")})


def build_taxonomy(rows: NounRows, corpus_dir: Path) -> Taxonomy:
    """Build the taxonomy from the noun rows (``noun_files.read_nouns``), ``index.noun`` and ``cntlist``."""
    offsets = rows.offsets
    lemmas = [words[0].lower() for words in rows.words]
    row = {o: i for i, o in enumerate(offsets)}
    parents = [[row[o] for o in ps] for ps in rows.parents]

    # NLTK names a synset by its first lemma and that lemma's sense number in index.noun.
    senses = {}
    with open(corpus_dir / "index.noun", encoding="utf8") as f:
        for line in f:
            if not line.startswith(" "):
                t = line.split()
                n_ptr = int(t[3])
                senses[t[0]] = [int(o) for o in t[6 + n_ptr: 6 + n_ptr + int(t[2])]]
    names = [f"{lem}.n.{senses[lem].index(o) + 1:02d}" for lem, o in zip(lemmas, offsets)]

    n = len(offsets)
    anc: list[dict[int, int] | None] = [None] * n
    min_depth = np.zeros(n, np.int16)
    max_depth = np.zeros(n, np.int16)

    def visit(i: int) -> dict[int, int]:  # recursion depth <= taxonomy depth (19)
        if anc[i] is None:
            mine = {i: 0}
            for p in parents[i]:
                for a, d in visit(p).items():
                    if d + 1 < mine.get(a, 1 << 30):
                        mine[a] = d + 1
            if parents[i]:
                min_depth[i] = 1 + min(min_depth[p] for p in parents[i])
                max_depth[i] = 1 + max(max_depth[p] for p in parents[i])
            anc[i] = mine
        return anc[i]

    for i in range(n):
        visit(i)
    lengths = np.array([len(a) for a in anc])
    anc_ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    anc_idx = np.fromiter((a for d in anc for a in d), np.int32, int(anc_ptr[-1]))
    anc_dist = np.fromiter((v for d in anc for v in d.values()), np.int16, int(anc_ptr[-1]))
    anc_path = _paths_to_ancestors(anc_ptr, anc_idx, anc_dist)
    name_rank = np.empty(n, np.int32)
    name_rank[np.argsort(np.array(names))] = np.arange(n, dtype=np.int32)
    return Taxonomy(
        offsets=np.array(offsets, np.int64), names=names, anc_ptr=anc_ptr, anc_idx=anc_idx,
        anc_dist=anc_dist, anc_path=anc_path, min_depth=min_depth, max_depth=max_depth, name_rank=name_rank,
        semcor_counts=_semcor_counts(rows, corpus_dir, row),
    )


def _paths_to_ancestors(anc_ptr, anc_idx, anc_dist) -> np.ndarray:
    """[M] shortest path from each synset x to each ancestor a: min over a's ancestors z of
    up(x, z) + up(a, z) (z = a gives the plain up-distance). Vectorised over all ~8M (x, a, z)."""
    n, lengths = len(anc_ptr) - 1, np.diff(anc_ptr)
    owner = np.repeat(np.arange(n, dtype=np.int64), lengths)
    keys = owner * n + anc_idx
    order = np.argsort(keys)
    per_entry = lengths[anc_idx]  # |anc(a)| for each entry (x, a)
    within = np.arange(per_entry.sum()) - np.repeat(np.cumsum(per_entry) - per_entry, per_entry)
    z_entry = np.repeat(anc_ptr[anc_idx], per_entry) + within
    x = np.repeat(owner, per_entry)
    up_xz = anc_dist[order[np.searchsorted(keys[order], x * n + anc_idx[z_entry])]]  # z in anc(x)
    via = up_xz.astype(np.int32) + anc_dist[z_entry]
    starts = np.cumsum(per_entry) - per_entry
    return np.minimum.reduceat(via, starts).astype(np.int16)


def _semcor_counts(rows: NounRows, corpus_dir: Path, row: dict[int, int]) -> np.ndarray:
    """[N] SemCor tag counts per noun synset from ``cntlist`` (sense key -> synset via index.sense)."""
    key_to_offset = {key: offset for key, offset, _, _ in rows.sense_keys}
    counts = np.zeros(len(row), np.float64)
    with open(corpus_dir / "cntlist", encoding="utf8") as f:
        for line in f:
            count, key = line.split()[:2]
            if key in key_to_offset:
                counts[row[key_to_offset[key]]] += int(count)
    return counts
