"""Class name -> sense: a WordNet noun synset, or text where the name has none.

The name ladder finds a name's lemmas (``names``); the candidate senses are scored on WordNet's
frequencies, the task's other names and the source classes (``scores``) and one is chosen and
explained (``naming``); training images, when given, vote among a name's credible senses
(``vote``) by the rows those senses give (``rows``, ``mixed``). ``lookup`` caches both choices."""

from headstart.senses.lookup import class_senses, name_senses
from headstart.senses.naming import ClassSense, find_senses, load_overrides, sense_table
from headstart.senses.rows import class_rows, source_texts

__all__ = ["ClassSense", "class_rows", "class_senses", "find_senses", "load_overrides", "name_senses",
           "sense_table", "source_texts"]
