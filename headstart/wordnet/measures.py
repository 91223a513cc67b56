"""WordNet noun similarity matrices: path, wup, lch, res, jcn, lin — vectorised.

NLTK computes one pair at a time in Python (~0.1-1 ms a pair). Here a one-time load parses the
noun taxonomy of WordNet 3.0 (82,115 synsets; cached in memory and on disk) into ancestor lists
with shortest up-distances (and NLTK's shortest path to each ancestor), depths and information
content. A matrix then needs only the ancestor columns of the synsets involved (1,860 for
ImageNet-1k) and three kinds of bulk op:

* "first shared ancestor in a priority order" (the LCS) — AND of packed ancestor bitsets;
* "min over shared ancestors of d1 + d2" (shortest path) and "max over shared ancestors of IC"
  — a table [ancestors of the sources, sources] reduced over each target's own ancestors (a
  dozen rows a target; no [targets, sources, ancestors] array);
* gathers of per-synset arrays.

Conventions (matching NLTK 3.10 for nouns, which needs no simulated root in WordNet 3.0):
``path = 1 / (d + 1)``; ``lch = -log((d + 1) / (2 * 19))``, clamped at 0 (19 = deepest noun);
``wup`` picks the LCS like NLTK: the shared ancestor of greatest *min* depth, ties to the target
itself if it qualifies, else the smallest synset name; ``2 (D + 1) / (l1 + l2 + 2 (D + 1))`` with
D = the LCS's *max* depth and l1, l2 the shortest path distances (any direction) to it.
``wup`` is therefore asymmetric in rare ties: the matrix is ``wup(target, source)``.
IC measures use the most informative shared ancestor: ``res = IC(lcs)``,
``lin = 2 IC(lcs) / (IC(t) + IC(s))`` (1 when both are the root), and
``jcn = 1 / max(IC(t) + IC(s) - 2 IC(lcs), JCN_MIN_DISTANCE)``: NLTK returns 1e300 for
identical synsets (and 0 when one is the root); we cap at 1 / JCN_MIN_DISTANCE instead so the
value stays a finite similarity >= 0 that still ranks identity first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from headstart.errors import UserError
from headstart.wordnet.nouns import taxonomy
from headstart.wordnet.taxonomy import IC_MODES, Taxonomy

if TYPE_CHECKING:
    import torch

MEASURES = ("path", "wup", "lch", "res", "jcn", "lin")
JCN_MIN_DISTANCE = 1e-4  # jcn <= 1e4: identical synsets (distance 0) score highest, finitely
TARGET_CHUNK = 512  # targets per block of a matrix: bounds memory, keeps the numpy ops large


def synset_rows(ids, tax: Taxonomy | None = None) -> np.ndarray:
    """[len(ids)] taxonomy rows of synset ids (``n02769748`` / ``bag.n.04`` / NLTK synsets)."""
    tax = tax or taxonomy()
    rows = []
    for x in ids:
        key = f"n{x.offset():08d}" if hasattr(x, "offset") else str(x).strip()
        if key not in tax.index:
            raise UserError(f"{x!r} is not a WordNet 3.0 noun synset id; use 'n02769748' or 'bag.n.04'.")
        rows.append(tax.index[key])
    return np.array(rows, np.int64)


def wordnet_matrix(targets, sources, measure: str = "lin", ic: str = "intrinsic") -> torch.Tensor:
    """``wordnet_array`` as a float32 torch tensor (T, S)."""
    import torch

    return torch.from_numpy(wordnet_array(targets, sources, measure, ic))


def wordnet_array(targets, sources, measure: str = "lin", ic: str = "intrinsic") -> np.ndarray:
    """Similarity of every target synset to every source synset.

    targets: T synset ids, sources: S synset ids (``n01440764`` or ``dog.n.01``).
    measure: one of ``MEASURES``; ic: ``"intrinsic"`` or ``"semcor"`` (res, jcn, lin only).
    Returns a float32 array of shape (T, S), every value >= 0.
    """
    if measure not in MEASURES:
        raise UserError(f"Unknown WordNet measure {measure!r}; choose one of {', '.join(MEASURES)}.")
    if ic not in IC_MODES:
        raise UserError(f"Unknown information content {ic!r}; choose one of {', '.join(IC_MODES)}.")
    tax = taxonomy()
    t_rows, s_rows = synset_rows(targets, tax), synset_rows(sources, tax)
    out = np.empty((len(t_rows), len(s_rows)), np.float32)
    # Chunks of targets bound the dense [targets, ancestor columns] work arrays (10,000 targets
    # at once would need gigabytes); each pair's value depends only on its two synsets.
    for lo in range(0, len(t_rows), TARGET_CHUNK):
        out[lo: lo + TARGET_CHUNK] = _MEASURE_FNS[measure](tax, t_rows[lo: lo + TARGET_CHUNK], s_rows, ic)
    return out


# --- per-matrix building blocks ------------------------------------------------------------


def ancestor_entries(tax: Taxonomy, rows: np.ndarray, values: np.ndarray | None = None):
    """CSR entries of ``rows``: (row position [E], ancestor synset [E], ``values`` (up-distance) [E])."""
    starts, lengths = tax.anc_ptr[rows], np.diff(tax.anc_ptr)[rows]
    pos = np.repeat(np.arange(len(rows)), lengths)
    within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    entry = np.repeat(starts, lengths) + within
    return pos, tax.anc_idx[entry], (tax.anc_dist if values is None else values)[entry]


def _over_shared_ancestors(tax, t_rows, s_rows, table_value, fill: float, reduce: np.ufunc,
                           add_target_distance: bool) -> np.ndarray:
    """[T, S]: ``reduce`` over the ancestors a of each target of ``table[a, s]`` (plus the
    target's up-distance to a when ``add_target_distance``).

    ``table[a, s] = table_value(a, up-distance of s to a)`` where a is above source s, ``fill``
    elsewhere; only ancestors of some source are rows, so only they are reduced over. Every
    noun has the root above it: no target's segment is empty."""
    s_pos, s_anc, s_dist = ancestor_entries(tax, s_rows)
    cols = np.unique(s_anc)
    table = np.full((len(cols), len(s_rows)), fill)
    table[np.searchsorted(cols, s_anc), s_pos] = table_value(s_anc, s_dist)
    t_pos, t_anc, t_dist = ancestor_entries(tax, t_rows)
    shared = np.isin(t_anc, cols)
    gathered = table[np.searchsorted(cols, t_anc[shared])]
    if add_target_distance:
        gathered += t_dist[shared, None]
    return reduce.reduceat(gathered, np.searchsorted(t_pos[shared], np.arange(len(t_rows))), axis=0)


def _shortest_paths(tax, t_rows, s_rows, ic=None) -> np.ndarray:
    """[T, S] NLTK ``shortest_path_distance``: min over shared ancestors of d(t, a) + d(s, a)."""
    return _over_shared_ancestors(tax, t_rows, s_rows, lambda a, d: d, np.inf, np.minimum, True)


def _path(tax, t_rows, s_rows, ic=None) -> np.ndarray:
    return 1.0 / (_shortest_paths(tax, t_rows, s_rows) + 1.0)


def _lch(tax, t_rows, s_rows, ic=None) -> np.ndarray:
    depth = int(tax.max_depth.max())  # NLTK's _compute_max_depth for nouns: 19 in WordNet 3.0
    return np.maximum(-np.log((_shortest_paths(tax, t_rows, s_rows) + 1.0) / (2.0 * depth)), 0.0)


def _wup(tax, t_rows, s_rows, ic=None) -> np.ndarray:
    # NLTK's LCS: the shared ancestor of lowest `lcs_rank`; the target itself wins a tie.
    lcs = tax.lcs_order[
        _over_shared_ancestors(tax, t_rows, s_rows, lambda a, d: tax.lcs_rank[a], np.inf, np.minimum, False)
        .astype(np.int64)]
    # Every shared ancestor is above a source, so the sources' ancestors are the only columns needed.
    s_pos, s_anc, s_path = ancestor_entries(tax, s_rows, tax.anc_path)
    cols = np.unique(s_anc)
    s_table = np.full((len(cols), len(s_rows)), np.inf)  # [column, source]: NLTK's path length
    s_table[np.searchsorted(cols, s_anc), s_pos] = s_path
    t_pos, t_anc, t_path = ancestor_entries(tax, t_rows, tax.anc_path)
    shared = np.isin(t_anc, cols)
    t_table = np.full((len(t_rows), len(cols)), np.inf)  # [target, column]
    t_table[t_pos[shared], np.searchsorted(cols, t_anc[shared])] = t_path[shared]
    t_col = np.minimum(np.searchsorted(cols, t_rows), len(cols) - 1)
    t_above_source = (cols[t_col] == t_rows)[:, None] & np.isfinite(s_table[t_col])
    lcs = np.where(t_above_source & (tax.min_depth[t_rows][:, None] == tax.min_depth[lcs]), t_rows[:, None], lcs)
    # NLTK measures l1, l2 with shortest_path_distance, which may go over the LCS via a higher
    # ancestor (multiple inheritance): the precomputed anc_path, not the up-distance.
    lcs_col = np.searchsorted(cols, lcs)
    t_len = np.take_along_axis(t_table, lcs_col, axis=1)
    s_len = s_table[lcs_col, np.arange(len(s_rows))]
    depth = tax.max_depth[lcs] + 1.0
    return 2.0 * depth / (t_len + s_len + 2.0 * depth)


def _lcs_ic(tax, t_rows, s_rows, ic):
    """IC of the targets [T], the sources [S] and of their most informative shared ancestor [T, S]
    (0 where a is not above s: the root's IC, which every pair shares)."""
    values = tax.ic(ic)
    lcs = _over_shared_ancestors(tax, t_rows, s_rows, lambda a, d: values[a], 0.0, np.maximum, False)
    return values[t_rows], values[s_rows], lcs


def _res(tax, t_rows, s_rows, ic) -> np.ndarray:
    return _lcs_ic(tax, t_rows, s_rows, ic)[2]


def _lin(tax, t_rows, s_rows, ic) -> np.ndarray:
    ic_t, ic_s, ic_lcs = _lcs_ic(tax, t_rows, s_rows, ic)
    total = ic_t[:, None] + ic_s[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, 2.0 * ic_lcs / total, 1.0)  # total 0: both are the root


def _jcn(tax, t_rows, s_rows, ic) -> np.ndarray:
    ic_t, ic_s, ic_lcs = _lcs_ic(tax, t_rows, s_rows, ic)
    distance = ic_t[:, None] + ic_s[None, :] - 2.0 * ic_lcs
    return 1.0 / np.maximum(distance, JCN_MIN_DISTANCE)


_MEASURE_FNS = {"path": _path, "wup": _wup, "lch": _lch, "res": _res, "jcn": _jcn, "lin": _lin}
