"""Folder names -> WordNet lemmas: the normalisation ladder.

Users' class names are folder names as they happen to be (``Faces_easy``, ``cougar_body``,
``strawbery``, ``scissor``). Each ``/`` alternative of a name climbs this ladder and stops at the
first step that finds a noun lemma:

1. as written, ignoring case, with spaces / ``_`` / ``-`` / CamelCase (``BareLand``) as WordNet
   writes them (``ankle_boot``, ``t-shirt``, ``wildcat`` for ``wild_cat``), plural -> singular by
   WordNet's morphy rules;
2. singular -> plural (``scissor`` -> ``scissors``);
3. qualifier words dropped (``easy``, ``hard``, digits, ``v2``, ...);
4. a part or view of an object (``flamingo_head``, ``cougar_body``, ``car side view``) -> the
   object, with the part noted;
5. the head word of a multiword name (``ankle boot`` would have been ``boot`` had WordNet no
   ``ankle_boot``);
6. a unique close spelling (``strawbery`` -> ``strawberry``): last, because it is the only step
   that may change what the name means; guarded (see ``spelling``).

True compounds (``grand_piano``, ``windsor_chair``, ``joshua_tree``) stop at step 1 with their
own WordNet entry, so the later steps never split them. A compound that is also a part or view of
an object (``horse_head``: WordNet's ``horse-head`` is a fish) keeps both readings, and the sense
choice (``scores``) decides between the compound's senses and the object's.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass, replace

from headstart.wordnet.lexicon import Lexicon

# Words that say which version or difficulty of a class a folder holds, not what it shows.
QUALIFIERS = frozenset({"easy", "medium", "hard", "clean", "noisy", "new", "old", "misc", "other",
                        "images", "image", "imgs", "img", "photos", "pics", "class", "set"})
_QUALIFIER_PATTERN = re.compile(r"^(\d+|v\d+|\d+px)$")
PARTS = frozenset({"head", "face", "body", "side", "front", "back", "rear", "top", "profile",
                   "closeup", "close-up"})
VIEW_WORDS = frozenset({"view", "views"})
MIN_SPELLING_LENGTH = 5  # shorter words have many real neighbours one edit away (cat: bat, cut, car)
_LETTERS = string.ascii_lowercase + "_-'"
# A word boundary inside CamelCase: a capital after a word of two letters or more (``BareLand``,
# ``HighwayOrRoad``; not ``iPhone``), or between an acronym and the next word (``TVMonitor``).
_CAMEL_BOUNDARY = re.compile(r"(?<=[A-Za-z][a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


@dataclass(frozen=True)
class Reading:
    """What the ladder made of one name: the lemmas it found (in order), how, and any part noted.

    ``lemmas`` is empty when no step found a WordNet noun; ``text`` is the cleaned name (spaces,
    no qualifiers) that a text embedding of the class should use; ``compound``: the lemmas of a
    WordNet compound read beside the object of ``part`` (``horse-head`` beside ``horse``): the
    part holds unless one of them is chosen."""

    lemmas: tuple[str, ...]
    how: str
    text: str
    part: str | None = None
    compound: tuple[str, ...] = ()

    def part_of(self, lemma: str) -> str | None:
        """The part the class shows when its sense was found by ``lemma``."""
        return None if lemma in self.compound else self.part


def tokens(text: str) -> list[str]:
    """Lower-case words of a name, split at spaces, ``_`` and ``-`` (accents removed, NFKC)."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return [t for t in re.split(r"[\s_\-]+", text) if t]


def read_name(lex: Lexicon, name: str) -> Reading:
    """Climb the ladder for each ``/`` alternative of ``name``; the lemmas of all alternatives
    that resolve, in order. -> Reading (empty ``lemmas`` when nothing resolves)."""
    alternatives = [a.strip() for a in name.split("/") if a.strip()]
    readings = [_read_alternative(lex, alt) for alt in alternatives]
    found = [r for r in readings if r.lemmas]
    if not found:
        why = readings[0].how if readings else "the name is empty"
        text = " ".join(r.text for r in readings if r.text) or name.strip()
        return Reading((), why, text)
    lemmas = tuple(dict.fromkeys(lemma for r in found for lemma in r.lemmas))
    return Reading(lemmas, "; ".join(r.how for r in found), " or ".join(r.text for r in found),
                   next((r.part for r in found if r.part), None), tuple(lemma for r in found for lemma in r.compound))


def camel_words(name: str) -> str:
    """``DenseResidential`` -> ``Dense Residential``: a folder name's CamelCase words apart (the
    ladder still tries them written together)."""
    return _CAMEL_BOUNDARY.sub(" ", name)


def _read_alternative(lex: Lexicon, alt: str) -> Reading:
    words = tokens(camel_words(alt))
    if not words:
        return Reading((), f"{alt!r} has no letters or digits", "")
    found = _lookup(lex, alt, words)
    if found:
        reading = Reading(found[0], _say(alt, found), " ".join(words))
        return _beside_its_object(lex, reading, words)

    kept = [w for w in words if not _is_qualifier(w)]
    dropped = [w for w in words if _is_qualifier(w)]
    if not kept:
        return Reading((), f"{alt!r} has only qualifier words ({', '.join(dropped)})", "")
    if dropped:
        found = _lookup(lex, " ".join(kept), kept)
        if found:
            return Reading(found[0],
                           f"dropped qualifier {', '.join(map(repr, dropped))}; " + _say(" ".join(kept), found),
                           " ".join(kept))
    prefix = f"dropped qualifier {', '.join(map(repr, dropped))}; " if dropped else ""

    as_part = _as_part(lex, kept)
    if as_part:
        return replace(as_part, how=prefix + as_part.how)

    if len(kept) > 1:
        found = _lookup(lex, kept[-1], kept[-1:])
        if found:
            return Reading(found[0], prefix + f"{' '.join(kept)!r} is not in WordNet, used its head word {kept[-1]!r}",
                           " ".join(kept))

    joined = "_".join(kept)
    corrected = spelling(lex, joined)
    if corrected:
        return Reading((corrected,), prefix + f"{joined!r} is not in WordNet; spelling corrected to {corrected!r}",
                       corrected.replace("_", " "))
    return Reading((), prefix + f"{' '.join(kept)!r} is not a WordNet noun", " ".join(kept))


def _as_part(lex: Lexicon, words: list[str]) -> Reading | None:
    """``X_head``, ``X view`` ...: the object X's reading with the part noted; None when the words
    name no part of a noun."""
    obj, part = _object_of_part(words)
    found = _lookup(lex, " ".join(obj), obj) if obj else None
    if not found:
        return None
    return Reading(found[0], f"a {part} of {' '.join(obj)!r}: " + _say(" ".join(obj), found), " ".join(obj), part)


def _beside_its_object(lex: Lexicon, compound: Reading, words: list[str]) -> Reading:
    """A compound that also reads as a part of an object (``horse_head``) gets the object's lemmas
    too, after its own; any other reading is returned as it is."""
    as_part = _as_part(lex, words)
    if as_part is None:
        return compound
    return Reading(compound.lemmas + as_part.lemmas, f"{compound.how}, or {as_part.how}", compound.text,
                   as_part.part, compound.lemmas)


def _is_qualifier(word: str) -> bool:
    return word in QUALIFIERS or bool(_QUALIFIER_PATTERN.match(word))


def _object_of_part(words: list[str]) -> tuple[list[str], str | None]:
    """(object words, part) for ``X_head``, ``X side view``...; ([], None) when not such a name."""
    rest = [w for w in words if w not in VIEW_WORDS]
    part = "view" if len(rest) < len(words) else None
    if len(rest) > 1 and rest[-1] in PARTS:
        part = rest[-1] if part is None else f"{rest[-1]} view"
        rest = rest[:-1]
    return (rest, part) if part and rest else ([], None)


def _lookup(lex: Lexicon, written: str, words: list[str]) -> tuple[tuple[str, ...], str] | None:
    """Lemmas for these words in WordNet's spellings, trying steps 1 and 2 in order.

    -> (lemmas, what was changed) or None."""
    joined = "_".join(words)
    for form in dict.fromkeys([joined, joined.replace("_", "-"), "".join(words)]):
        bases = lex.base_forms(form)
        if bases:
            return tuple(bases), _change(written, form, bases)
    head, sep, last = joined.rpartition("_")
    plurals = [last + "s", last + "es"] + ([last[:-1] + "ies"] if last.endswith("y") else [])
    for plural in plurals:
        if lex.has(head + sep + plural):
            return (head + sep + plural,), f"singular {joined!r} -> plural {head + sep + plural!r}"
    return None


def _change(written: str, form: str, bases: list[str]) -> str:
    notes = []
    if written != written.lower():
        notes.append("case")
    if "_".join(tokens(written)) != form and "_".join(written.lower().split()) != form:
        notes.append("separators")
    if bases[0] != form:
        notes.append(f"plural {form!r} -> {bases[0]!r}")
    return ", ".join(notes)


def _say(written: str, found: tuple[tuple[str, ...], str]) -> str:
    lemmas, change = found
    return f"{written!r} is the WordNet noun {lemmas[0]!r}" + (f" ({change})" if change else "")


def edits1(word: str) -> set[str]:
    """Every string one deletion, transposition, substitution or insertion away from ``word``,
    keeping its first letter (typos rarely hit it; a changed first letter is usually another
    word: ``iphone`` -> ``phone``)."""
    first, rest = word[:1], word[1:]
    splits = [(rest[:i], rest[i:]) for i in range(len(rest) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    out |= {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    out |= {a + c + b for a, b in splits for c in _LETTERS}
    return {first + e for e in out} - {word}


def spelling(lex: Lexicon, word: str) -> str | None:
    """The one noun lemma one edit away from ``word`` (plurals folded), if exactly one exists and
    ``word`` has at least MIN_SPELLING_LENGTH letters; None otherwise (no guess between two)."""
    if len(word) < MIN_SPELLING_LENGTH:
        return None
    near = {base for e in edits1(word) for base in lex.base_forms(e)[:1]}
    return near.pop() if len(near) == 1 else None
