"""WordNet's noun files read into rows: ``data.noun`` (every noun synset) and the noun sense keys
of ``index.sense``. The taxonomy (``taxonomy``) and the lexicon (``lexicon``) are built from them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class NounRows:
    """Each noun synset of ``data.noun`` in file order (N rows), and the noun sense keys of
    ``index.sense``: (key, synset offset, sense number, SemCor count)."""

    offsets: list[int]
    lexfile: list[int]
    instance: list[bool]
    words: list[list[str]]
    glosses: list[str]
    parents: list[list[int]]  # offsets of the hypernyms and instance hypernyms
    sense_keys: list[tuple[str, int, int, int]]


def read_nouns(corpus_dir: Path) -> NounRows:
    """Read ``data.noun`` and ``index.sense`` of the WordNet folder ``corpus_dir``."""
    offsets, lexfile, instance, words, glosses, parents = [], [], [], [], [], []
    with open(corpus_dir / "data.noun", encoding="utf8") as f:
        for line in f:
            if line.startswith(" "):  # licence header
                continue
            head, _, gloss = line.partition(" | ")
            t = head.split()
            at = 4 + 2 * int(t[3], 16)
            pointers = t[at + 1: at + 1 + 4 * int(t[at])]
            offsets.append(int(t[0]))
            lexfile.append(int(t[1]))
            instance.append("@i" in pointers[0::4])
            words.append(t[4:at:2])
            glosses.append(gloss.split('"', 1)[0].strip().rstrip(";").strip())  # the definition, not the examples
            parents.append([int(pointers[k + 1]) for k in range(0, len(pointers), 4) if pointers[k] in ("@", "@i")])
    sense_keys = []
    with open(corpus_dir / "index.sense", encoding="utf8") as f:
        for line in f:
            key, offset, number, count = line.split()
            if key.partition("%")[2].startswith("1:"):
                sense_keys.append((key, int(offset), int(number), int(count)))
    return NounRows(offsets, lexfile, instance, words, glosses, parents, sense_keys)
