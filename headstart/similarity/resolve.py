"""Class name -> WordNet noun synset, with the choice explained.

Users name classes as datasets do (``T-shirt/top``, ``Ankle boot``, ``sneakers``). Each name is
tried as: an override, an explicit synset id, then WordNet lemmas of each ``/`` alternative
(case, plurals via NLTK's morphy, spaces/hyphens as ``_``), and for a multiword name not in
WordNet, its head word (``ankle boot`` -> ``boot``). When several noun senses remain, the one
closest to the source classes wins: the mean Wu-Palmer similarity to its 3 nearest source
synsets, minus a small penalty per WordNet sense rank (senses are listed by frequency, so the
commoner sense wins a near tie).
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from headstart.errors import UserError
from headstart.similarity import wordnet_data
from headstart.similarity.wordnet import wordnet_matrix

TOP_K = 3  # nearest sources averaged: one lucky match alone should not pick a sense
SENSE_RANK_PENALTY = 0.005  # per WordNet sense rank: breaks near ties toward the commoner sense
MAX_ALTERNATIVES = 8


@dataclass
class Resolution:
    """How one class name became a synset.

    ``alternatives``: the other candidate senses, best first, each as ``"bag.n.04: <gloss>"``.
    """

    name: str
    synset_id: str  # 'n02774152'
    synset_name: str  # 'bag.n.04'
    gloss: str
    how: str  # short human explanation
    alternatives: list[str] = field(default_factory=list)


def _key(name: str) -> str:
    return " ".join(name.lower().split())


def load_overrides(path) -> dict[str, str]:
    """Name -> synset id from a JSON object file or a ``name=id`` lines file (``#`` comments)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf8")
    except OSError as e:
        raise UserError(f"Cannot read the overrides file {path}: {e.strerror}. Pass an existing file.") from e
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise UserError(f"{path} is not valid JSON ({e}); write an object {{\"name\": \"n02774152\"}}.") from e
        if not all(isinstance(v, str) for v in data.values()):
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


def resolve_classes(names, source_ids, overrides=None) -> list[Resolution]:
    """Resolve each class name to a noun synset, preferring senses near ``source_ids``.

    names: C class names or synset ids; source_ids: the source model's synset ids (may be empty:
    then WordNet's first sense wins); overrides: name -> synset id, matched case-insensitively.
    Returns C ``Resolution``s in order. Raises UserError listing every unresolvable name with
    near WordNet lemmas.
    """
    wn = wordnet_data.wordnet()
    source_ids = list(source_ids)
    overrides = {_key(k): v for k, v in (overrides or {}).items()}
    fixed, candidates, failed = {}, {}, []
    for i, name in enumerate(names):
        if _key(name) in overrides:
            fixed[i] = (wordnet_data.synset(overrides[_key(name)]), f"override for {name!r}")
        elif wordnet_data.is_synset_id(name.strip()):
            fixed[i] = (wordnet_data.synset(name), "explicit synset id")
        else:
            found = _candidates(wn, name)
            if found[0]:
                candidates[i] = found
            else:
                failed.append(name)
    if failed:
        raise UserError(_unknown_message(wn, failed))

    scores = _scores([s for synsets, _ in candidates.values() for s in synsets], source_ids)
    out = []
    for i, name in enumerate(names):
        if i in fixed:
            s, how = fixed[i]
            out.append(Resolution(name, wordnet_data.synset_id(s), s.name(), s.definition(), how, []))
            continue
        synsets, via = candidates[i]
        if len(synsets) == 1:
            chosen, how, others = synsets[0], f"{via}; its only noun sense", []
        else:
            ranked = sorted(synsets, key=lambda s: -(scores.get(s.name(), 0.0) - SENSE_RANK_PENALTY * synsets.index(s)))
            chosen, others = ranked[0], ranked[1:]
            if scores:
                how = (f"{via}; {len(synsets)} noun senses, chose the closest to the {len(source_ids)} source "
                       f"classes (mean wup to its {TOP_K} nearest: {scores[chosen.name()]:.3f})")
            else:
                how = f"{via}; {len(synsets)} noun senses, chose WordNet's first (most frequent) one"
        out.append(Resolution(
            name, wordnet_data.synset_id(chosen), chosen.name(), chosen.definition(), how,
            [f"{s.name()}: {s.definition()}" for s in others[:MAX_ALTERNATIVES]],
        ))
    return out


def _candidates(wn, name: str):
    """(noun synsets in WordNet sense order, how they were found) for a free-text class name."""
    alternatives = [a.strip() for a in name.split("/") if a.strip()]
    found, hows = [], []
    for alt in alternatives:
        forms = _forms(alt)
        synsets = _lookup(wn, forms)
        if synsets:
            hows.append(f"{alt!r} is a WordNet noun")
        else:
            words = [w for w in re.split(r"[\s_\-]+", alt) if w]
            if len(words) > 1:
                synsets = _lookup(wn, [words[-1]])
                if synsets:
                    hows.append(f"{alt!r} is not in WordNet, used its head word {words[-1]!r}")
        found += [s for s in synsets if s not in found]
    return found, "; ".join(hows)


def _forms(text: str) -> list[str]:
    """Lemma spellings to try: WordNet joins words with ``_`` and keeps some hyphens (``t-shirt``)."""
    base = "_".join(text.split())
    return list(dict.fromkeys([base, base.replace("-", "_"), base.replace("-", "")]))


def _lookup(wn, forms: list[str]) -> list:
    synsets = []
    for form in forms:
        # wn.synsets lower-cases and applies morphy (sneakers -> sneaker) itself
        synsets += [s for s in wn.synsets(form, pos="n") if s not in synsets]
    return synsets


def _scores(candidates: list, source_ids: list[str]) -> dict[str, float]:
    """Synset name -> mean wup to its TOP_K nearest sources ({} without sources)."""
    if not candidates or not source_ids:
        return {}
    unique = list(dict.fromkeys(s.name() for s in candidates))
    sim = wordnet_matrix(unique, source_ids, "wup").numpy()
    k = min(TOP_K, sim.shape[1])
    top = -np.sort(-sim, axis=1)[:, :k]
    return dict(zip(unique, top.mean(axis=1).tolist()))


@functools.lru_cache(maxsize=1)
def _noun_lemmas(wn) -> list[str]:
    return sorted(wn.all_lemma_names(pos="n"))


def _unknown_message(wn, failed: list[str]) -> str:
    lines = []
    for name in failed:
        query = "_".join(name.lower().replace("/", " ").split())
        near = difflib.get_close_matches(query, _noun_lemmas(wn), n=5, cutoff=0.6)
        hint = ", ".join(n.replace("_", " ") for n in near) if near else "no close WordNet noun"
        lines.append(f"  {name!r}: did you mean {hint}?")
    return (
        "No WordNet noun for these class names:\n" + "\n".join(lines)
        + "\nRename the class, or map it to a synset with an overrides file (`name=n02774152` lines or JSON)."
    )
