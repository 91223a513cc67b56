"""Class name -> WordNet noun synset (or a text embedding), with the choice explained.

For each class: an override, else an explicit synset id, else the normalisation ladder
(``names.read_name``) finds its noun lemmas and ``scores`` scores their senses on WordNet's own
frequencies, the task's other names and closeness to the source classes. A name with no noun
sense, or whose only senses are one person (``garfield``), gets ``source="text"``: its row comes
from text embeddings. One class never decides for another: names without a synset are reported,
not raised; only a bad synset id (an override value, or a class name written as an id) is an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from headstart.errors import UserError
from headstart.recipe import DEFAULT_RECIPE, Recipe
from headstart.safe_text import visible
from headstart.senses import scores as S
from headstart.senses.names import read_name, tokens
from headstart.wordnet.data import is_synset_id
from headstart.wordnet.nouns import lexicon, taxonomy

MAX_ALTERNATIVES = 8


@dataclass(frozen=True)
class ClassSense:
    """How one class name became a synset, or why it uses text.

    ``synset_id`` ``n02774152`` / ``synset_name`` ``bag.n.04`` (both None for text);
    ``source``: ``wordnet`` | ``text`` | ``override``; ``alternatives``: the other candidate
    senses, best first, as ``"bag.n.06: <gloss>"``; ``part``: ``head`` for ``flamingo_head``;
    ``text``: what a text embedding of the class reads; ``options``: (synset row, names-only
    score, part) of the credible senses, best first, for the image vote.
    """

    name: str
    synset_id: str | None
    synset_name: str | None
    gloss: str
    source: str
    how: str
    alternatives: list[str] = field(default_factory=list)
    part: str | None = None
    text: str = ""
    options: tuple[tuple[int, float, str | None], ...] = field(default=(), repr=False, compare=False)

    def as_dict(self) -> dict:
        """The run.json / ``similar --json`` form: name, synset (``face.n.01`` or None), source,
        how, alternatives, gloss, part."""
        return {"name": self.name, "synset": self.synset_name, "source": self.source, "how": self.how,
                "alternatives": list(self.alternatives), "gloss": self.gloss, "part": self.part}


def _key(name: str) -> str:
    return " ".join(name.lower().split())


def load_overrides(path) -> dict[str, str]:
    """Name -> synset id from a JSON object file or a ``name=id`` lines file (``#`` comments)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise UserError(f"Cannot read the overrides file {path}: {e.strerror}. Pass an existing file.") from e
    # Editors on Windows save UTF-16 with a byte-order mark; UTF-8 may carry one too.
    encoding = "utf-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 or UTF-16 text: save it as UTF-8.") from None
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise UserError(f"{path} is not valid JSON ({e}); write an object {{\"name\": \"n02774152\"}}.") from e
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise UserError(f"{path}: every value must be a synset id string like 'n02774152' or 'bag.n.04'.")
        return {str(k): v.strip() for k, v in data.items()}
    overrides = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, synset_id = line.rpartition("=")
        if not sep or not name.strip() or not synset_id.strip():
            raise UserError(f"{path}:{number}: expected `name=synset_id` (e.g. `Bag=bag.n.04`), got {line!r}.")
        overrides[name.strip()] = synset_id.strip()
    return overrides


def find_senses(names, source_ids, overrides=None, recipe: Recipe = DEFAULT_RECIPE) -> list[ClassSense]:
    """The sense of each class name: a noun synset, or ``source="text"`` when none is credible.

    names: C class names or synset ids; source_ids: the source model's labels (WordNet ids add
    the closeness evidence; other labels, or none, leave it out and make every row text);
    overrides: name -> synset id, matched case-insensitively; recipe: the weights of the senses'
    terms. Returns C ``ClassSense``s in order. Raises UserError naming a bad override id or a name
    written as an id WordNet lacks.
    """
    lex, tax = lexicon(), taxonomy()
    names = list(names)
    fixed = _fixed_rows(tax, names, overrides or {})
    source_ids = list(source_ids)
    wordnet_sources = bool(source_ids) and all(is_synset_id(i) and i in tax.index for i in source_ids)
    source_rows = np.array([tax.index[i] for i in source_ids]) if wordnet_sources else None

    readings = [None if i in fixed else read_name(lex, name) for i, name in enumerate(names)]
    candidates = [S.candidate_senses(lex, r.lemmas) if r else [] for r in readings]
    terms = S.names_terms(lex, tax, candidates, source_rows, recipe)
    out = []
    for i, name in enumerate(names):
        if i in fixed:
            row, source, how = fixed[i]
            sense = ClassSense(name, f"n{tax.offsets[row]:08d}", tax.names[row], lex.glosses[row], source, how,
                             text=" ".join(tokens(lex.lemma_names(row)[0])), options=((row, 0.0, None),))
        else:
            sense = _choose(lex, tax, name, readings[i], candidates[i], terms[i])
        if not wordnet_sources and sense.source == "wordnet":
            sense = replace(sense, source="text", how=sense.how + "; the source labels are not WordNet ids, so its row "
                          "comes from text embeddings of the source names")
        out.append(sense)
    return out


def _fixed_rows(tax, names: list[str], overrides: dict[str, str]) -> dict[int, tuple[int, str, str]]:
    """Class index -> (synset row, source, how) for overridden names and explicit ids. Every
    override value is checked, used or not: a typo in the file is a mistake either way."""
    by_key = {}
    for name, synset in overrides.items():
        synset = str(synset).strip()
        if synset not in tax.index:
            raise UserError(f"override {name!r} -> {synset!r}: WordNet 3.0 has no noun synset {synset!r}; "
                            "use an id like 'n02769748' or 'bag.n.04' (`headstart similar` shows candidates)")
        by_key[_key(name)] = (tax.index[synset], synset)
    fixed = {}
    for i, name in enumerate(names):
        if _key(name) in by_key:
            row, synset = by_key[_key(name)]
            fixed[i] = (row, "override", f"override {synset}")
        elif is_synset_id(name.strip()):
            if name.strip() not in tax.index:
                raise UserError(f"class {name!r} is written as a synset id, but WordNet 3.0 has no noun synset "
                                f"{name.strip()!r}; fix the id (e.g. 'bag.n.04' or 'n02769748') or rename the class")
            fixed[i] = (tax.index[name.strip()], "wordnet", "explicit synset id")
    return fixed


def _choose(lex, tax, name: str, reading, candidates: list, terms: np.ndarray) -> ClassSense:
    """The best credible sense of one name, or text when it has none."""
    scores = terms.sum(axis=1) if len(candidates) else np.zeros(0)
    credible = [k for k, s in enumerate(candidates) if S.credible(lex, s.row)]
    ranked = sorted(credible, key=lambda k: -scores[k])
    rejected = [k for k in range(len(candidates)) if k not in credible]
    alternatives = [f"{tax.names[candidates[k].row]}: {lex.glosses[candidates[k].row]}"
                    for k in ranked[1:] + rejected][:MAX_ALTERNATIVES]
    if not ranked:
        how = reading.how
        if candidates:
            people = ", ".join(f"{tax.names[s.row]} ({lex.glosses[s.row].split(';')[0].strip()})" for s in candidates)
            how += f"; its only sense is one person, not a class of images: {people}"
        return ClassSense(name, None, None, "", "text", how + f"; text embedding of {reading.text!r}",
                          alternatives, reading.part, reading.text)
    best = candidates[ranked[0]]
    if len(candidates) == 1:
        why = "its only noun sense"
    elif len(ranked) == 1:
        why = f"the only sense that is not one person ({', '.join(tax.names[candidates[k].row] for k in rejected)})"
    else:
        lead = terms[ranked[0]] - terms[ranked[1]]
        # the sense the names chose is named: an image vote may replace it later in the same line
        why = (f"{len(candidates)} noun senses, decided by {S.TERMS[int(np.argmax(lead))]}: {tax.names[best.row]} "
               f"(over {tax.names[candidates[ranked[1]].row]}; {lex.lexname(best.row)})")
    options = tuple((candidates[k].row, float(scores[k]), reading.part_of(candidates[k].lemma)) for k in ranked)
    return ClassSense(name, f"n{tax.offsets[best.row]:08d}", tax.names[best.row], lex.glosses[best.row], "wordnet",
                      f"{reading.how}; {why}", alternatives, options[0][2], reading.text, options)


def sense_table(senses, alternatives: int = 2) -> str:
    """The compact sense report: one line per class, ``name -> synset`` (or ``text``), how,
    and the first ``alternatives`` other senses."""
    senses = list(senses)
    if not senses:
        return ""
    names = [visible(r.name) for r in senses]  # a name's own line breaks and control codes written out
    name_width = min(max(map(len, names)), 24)
    target_width = min(max(len(_target(r)) for r in senses), 28)
    lines = []
    for name, r in zip(names, senses):
        also = ", ".join(a.split(":", 1)[0] for a in r.alternatives[:alternatives])
        lines.append(f"{name:<{name_width}} -> {_target(r):<{target_width}}  {visible(r.how)}"
                     + (f"  [also: {also}]" if also else ""))
    return "\n".join(lines)


def _target(r: ClassSense) -> str:
    if r.source == "text":
        return "text"
    return r.synset_name + (" (override)" if r.source == "override" else "")
