"""One similarity matrix with a row per class from the family that can give it.

A class whose name resolved (or was overridden) gets its WordNet row; any other class gets the
text-embedding row of its cleaned name, mapped onto the WordNet rows' scale. The map is the
pooled quantile match: a text value at quantile q of all text values becomes the WordNet value
at quantile q of all WordNet values of the task, so every row ranks its sources as its own
family does, and the top values that ``transfer.top_k_weights`` turns into weights are on one
scale. When the source labels are not WordNet ids, every row is text (against the source names).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

QUANTILE_LEVELS = 1025  # enough to follow the upper tail, where the top-k values live


def calibrate(rows: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Map ``rows`` [T, S] monotonically onto the value distribution of ``reference`` [R, S]:
    pooled quantile matching -> float32 [T, S]. Order within each row is kept; the result is >= 0
    when the reference is."""
    rows, reference = np.asarray(rows, np.float64), np.asarray(reference, np.float64)
    levels = np.linspace(0.0, 1.0, QUANTILE_LEVELS)
    mine = np.quantile(rows, levels)
    theirs = np.quantile(reference, levels)
    return np.interp(rows, mine, theirs).astype(np.float32)


def mixed_rows(wordnet_rows: np.ndarray | None, text_rows: np.ndarray | None,
               is_text: Sequence[bool]) -> np.ndarray:
    """Interleave per-class rows: ``wordnet_rows`` [W, S] for the classes where ``is_text`` is
    False, ``text_rows`` [T, S] (calibrated to the WordNet rows when there are both) for the
    others, in class order -> [W + T, S]."""
    is_text = np.array(list(is_text), bool)
    if text_rows is None or len(text_rows) == 0:
        return wordnet_rows
    if wordnet_rows is None or len(wordnet_rows) == 0:
        return text_rows
    out = np.empty((len(is_text), wordnet_rows.shape[1]), np.float32)
    out[~is_text] = wordnet_rows
    out[is_text] = calibrate(text_rows, wordnet_rows)
    return out
