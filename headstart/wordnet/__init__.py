"""WordNet 3.0's nouns without NLTK: the data files (``data``: found, prepared, synset ids), the noun
files read once (``noun_files``) into the hierarchy (``taxonomy``) and the lexicon (``lexicon``), both
kept in headstart's cache (``nouns``), and the six similarity measures over them (``measures``)."""

from headstart.wordnet.data import is_synset_id
from headstart.wordnet.lexicon import Lexicon
from headstart.wordnet.measures import MEASURES, wordnet_array, wordnet_matrix
from headstart.wordnet.nouns import wordnet_nouns
from headstart.wordnet.taxonomy import IC_MODES, Taxonomy

__all__ = ["IC_MODES", "MEASURES", "Lexicon", "Taxonomy", "is_synset_id", "wordnet_array",
           "wordnet_matrix", "wordnet_nouns"]
