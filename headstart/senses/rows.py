"""A class's row against the source classes, from its sense: the WordNet measure's row where the
sense is a synset, a text-embedding row (mapped onto the WordNet rows' scale, ``mixed``) where it
is text. The images' vote compares such rows; the WordNet families are these rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

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


def class_rows(source: SourceModel, senses: list, measure: str) -> np.ndarray:
    """[C, S] float32 per class of ``senses``: the WordNet ``measure`` row where it has a synset, a
    calibrated text row elsewhere (text rows only, against the source names, when the labels are
    not WordNet ids). Only text rows need torch (and the text model)."""
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
