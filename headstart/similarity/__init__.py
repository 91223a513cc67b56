"""Similarity between target classes and source classes: the families, one registry
(``families``); each gives S [n_targets, n_sources] >= 0. The WordNet families are the rows of the
classes' senses (``headstart.senses``) under a measure of ``headstart.wordnet``; the text family reads
the names with ``headstart.text``; the visual family (``visual``) the few training images."""

from headstart.similarity.families import FAMILIES, VISUAL_FAMILIES, name_text_rows, similarity
from headstart.wordnet.measures import wordnet_matrix  # noqa: F401  its name in 0.2's README (kept working)

__all__ = ["FAMILIES", "VISUAL_FAMILIES", "name_text_rows", "similarity"]
