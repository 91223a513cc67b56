"""A class's row against the source classes, from its sense: the WordNet measure's row where the
sense is a synset, a text-embedding row (mapped onto the WordNet rows' scale, ``mixed``) where it
is text. The images' vote compares such rows; the WordNet families are these rows. Rows are cached
per (source, senses, measure), bounded by bytes: a fit asks for some families twice (the names-only
head and the families head), and the bench and the timing harness fit one name list many times."""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Callable

import numpy as np

from headstart.senses.mixed import mixed_rows
from headstart.wordnet.data import is_synset_id
from headstart.wordnet.measures import wordnet_array
from headstart.wordnet.nouns import lexicon, taxonomy

if TYPE_CHECKING:
    from headstart.sources.model import SourceModel


def _has_wordnet_labels(source: SourceModel) -> bool:
    index = taxonomy().index
    return all(is_synset_id(label) and label in index for label in source.labels)


ROWS_CACHE_BYTES = 64 * 2**20  # every family of a 2,000-class task on 1,000 sources (8 MB a matrix)
_ROWS: OrderedDict = OrderedDict()  # (source labels, source names, key) -> rows, least recently used first


def class_rows(source: SourceModel, senses: list, measure: str) -> np.ndarray:
    """[C, S] float32 per class of ``senses``: the WordNet ``measure`` row where it has a synset, a
    calibrated text row elsewhere (text rows only, against the source names, when the labels are
    not WordNet ids). Only text rows need torch (and the text model). Cached (``cached_rows``)."""
    key = ("senses", tuple(_sense_key(r) for r in senses), measure)
    return cached_rows(source, key, lambda: _computed_rows(source, senses, measure))


def cached_rows(source: SourceModel, key: tuple, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """The rows ``compute()`` gives for ``key`` against ``source``'s classes, computed once while they
    stay among the last ``ROWS_CACHE_BYTES`` of rows asked for; each call returns its own copy, so a
    caller may change it in place. ``key`` holds everything the rows depend on besides the source."""
    key = (tuple(source.labels), tuple(source.names), *key)
    if key in _ROWS:
        _ROWS.move_to_end(key)
        return _ROWS[key].copy()
    rows = compute()
    if rows.nbytes > ROWS_CACHE_BYTES:  # kept, it would push out every other
        return rows
    _ROWS[key] = rows
    while sum(r.nbytes for r in _ROWS.values()) > ROWS_CACHE_BYTES:
        _ROWS.popitem(last=False)
    return rows.copy()


def _sense_key(sense) -> tuple:
    """What a class's row depends on: its synset, or the text it reads (the name when there is none)."""
    return ("text", sense.text or sense.name) if sense.source == "text" else ("synset", sense.synset_id)


def _computed_rows(source: SourceModel, senses: list, measure: str) -> np.ndarray:
    is_text = [r.source == "text" for r in senses]
    wordnet_rows = text_rows = None
    if not all(is_text):
        wordnet_rows = wordnet_array([r.synset_id for r, t in zip(senses, is_text) if not t], source.labels, measure)
    if any(is_text):
        from headstart.text.embeddings import text_array

        text_rows = text_array([r.text or r.name for r, t in zip(senses, is_text) if t], source_texts(source))
    return mixed_rows(wordnet_rows, text_rows, is_text)


def source_texts(source: SourceModel) -> list[str]:
    """Text of each source class for embeddings: its WordNet lemmas when labels are synset ids
    ('jersey, T-shirt, tee shirt'), else its name."""
    if not _has_wordnet_labels(source):
        return list(source.names)
    lex, index = lexicon(), taxonomy().index
    return [lex.lemma_text(index[label]) for label in source.labels]
