"""Which sense of a name: evidence from WordNet, from the task's other names, from the sources.

Each candidate sense ``s`` of a class name gets a names-only score, a sum of log-probabilities
and two weighted similarities:

* ``log P(s | name)``: WordNet's SemCor tag count of (name, s), Laplace-smoothed over the
  name's senses, times ``1 / position`` of the name among the synset's lemmas (Zipf): a thing
  is mostly called by its first lemma (``sea_horse`` is the fish's first lemma, the walrus's
  third);
* ``log P(lexfile(s) | siblings)``: how common the sense's lexicographer file (``noun.animal``,
  ``noun.food``, ``noun.person`` ...) is among the *other* class names of the task, each
  spread over its own senses by the first term (Laplace-smoothed): among animals, ``crayfish``
  is the animal, not the food;
* ``closeness_weight * closeness(s)``: Wu-Palmer similarity to the nearest source class (through
  the best shared ancestor): image classes are things a photo shows, as the source classes are;
* ``gloss_weight * coherence(s)``: how well the sense's lemmas and gloss, read by the text model,
  fit the other names of the task, each read through its closest sense (``sibling_coherence``):
  beside ``orange`` and ``apple``, ``kiwi`` is the fruit; beside ``emu`` and ``penguin``, the bird.

Only the coherence needs the text model, loaded when some name has two senses and a sibling;
embedding the sense texts is the one slow step (the 1,681 distinct senses of the ImageNet class
names: about 11 s on 2 cores), cached like every text embedding; the other terms score 10,000 names in
well under a second.

Senses that name one person (WordNet instances in ``noun.person``: ``garfield`` is the 20th US
president, ``snoopy`` a fictional beagle) are not credible as a class of images; a name with no
credible sense falls back to text. Images, when given, add their log-likelihood (``image_scores``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from headstart.recipe import DEFAULT_RECIPE, Recipe
from headstart.wordnet.lexicon import Lexicon
from headstart.wordnet.measures import ancestor_entries
from headstart.wordnet.taxonomy import Taxonomy

if TYPE_CHECKING:  # torch is imported where images are scored: the names-only path runs without it
    import torch

# The weights of the terms (closeness_weight, gloss_weight, lexfile_smoothing) come from the recipe
# (headstart.recipe): chosen on the tune half of tests/data/senses.csv (benchmarks/names.py), see
# docs/results/names.md.
# Longer lists skip the text term: it embeds every candidate sense (10,000 names: 14,023 texts, about 75 s
# on 2 cores the first time), and no benchmarked task is that large to show that it pays there.
MAX_COHERENCE_NAMES = 1000


@dataclass(frozen=True)
class Sense:
    """One candidate sense of a name: its synset row, the lemma it was found by, that lemma's
    SemCor count for it and its 1-based position among the synset's lemmas."""

    row: int
    lemma: str
    count: int
    position: int


def candidate_senses(lex: Lexicon, lemmas: tuple[str, ...]) -> list[Sense]:
    """Noun senses of the lemmas, in WordNet's order (first lemma's senses first), each row once."""
    out, seen = [], set()
    for lemma in lemmas:
        for row, count in lex.senses(lemma):
            if row not in seen:
                seen.add(row)
                out.append(Sense(row, lemma, count, _position(lex.lemma_names(row), lemma)))
    return out


def _position(synset_lemmas: list[str], lemma: str) -> int:
    """1-based position of ``lemma`` among a synset's lemmas, ignoring case and ``_``/``-``."""
    key = lemma.replace("_", "").replace("-", "")
    for i, name in enumerate(synset_lemmas, 1):
        if name.lower().replace("_", "").replace("-", "") == key:
            return i
    return len(synset_lemmas)


def credible(lex: Lexicon, row: int) -> bool:
    """False for one person (a ``noun.person`` instance): never a class of images."""
    return not (lex.instance[row] and lex.lexname(row) == "noun.person")


def name_log_prior(senses: list[Sense]) -> np.ndarray:
    """[len(senses)] log P(s | name): Laplace-smoothed SemCor counts times Zipf over lemma position,
    normalised per lemma, then the lemmas equally likely (``T-shirt/top``: ``t-shirt`` has one
    sense, which keeps half the mass; ``top``'s twelve share the other half)."""
    counts = np.array([s.count for s in senses], np.float64) + 1.0
    p = counts / np.array([s.position for s in senses], np.float64)
    lemmas = [s.lemma for s in senses]
    group = np.array([lemmas.index(lemma) for lemma in lemmas])
    p = p / np.bincount(group, weights=p)[group] / len(set(lemmas))
    return np.log(p)


def sibling_log_context(lex: Lexicon, senses_per_name: list[list[Sense]], smoothing: float = 1.0) -> list[np.ndarray]:
    """Per name, [len(senses)] log P(lexfile of s | the other names), leave-one-out.

    Each name spreads one unit over the lexicographer files of its senses by ``name_log_prior``;
    `smoothing` is the pseudo-count of each file."""
    n_files = len(lex.lexnames)
    spread = np.zeros((len(senses_per_name), n_files))
    for i, senses in enumerate(senses_per_name):
        if senses:
            np.add.at(spread[i], [lex.lexfile[s.row] for s in senses], np.exp(name_log_prior(senses)))
    total = spread.sum(axis=0)
    n_named = spread.sum()
    out = []
    for i, senses in enumerate(senses_per_name):
        others = total - spread[i]
        p = (others + smoothing) / (n_named - spread[i].sum() + smoothing * n_files)
        out.append(np.log(p[[lex.lexfile[s.row] for s in senses]]) if senses else np.zeros(0))
    return out


def source_closeness(tax: Taxonomy, rows: np.ndarray, source_rows: np.ndarray) -> np.ndarray:
    """[len(rows)] Wu-Palmer-style similarity of each synset to its nearest source synset.

    For each shared ancestor a: ``2 (D_a + 1) / (d(s, a) + d(a, nearest source below a) + 2 (D_a + 1))``
    (D = max depth), maximised over a. One pass over ancestor lists, no [rows, sources] matrix."""
    if len(rows) == 0 or len(source_rows) == 0:
        return np.zeros(len(rows))
    _, anc, dist = ancestor_entries(tax, np.asarray(source_rows))
    down = np.full(len(tax.names), np.inf)
    np.minimum.at(down, anc, dist.astype(np.float64))
    pos, anc, dist = ancestor_entries(tax, np.asarray(rows))
    depth = 2.0 * (tax.max_depth[anc] + 1.0)
    value = depth / (dist + down[anc] + depth)  # down = inf -> 0: no source below a
    return np.maximum.reduceat(value, np.searchsorted(pos, np.arange(len(rows))))  # each row has >= 1 entry


def sense_text(lex: Lexicon, row: int) -> str:
    """What the text model reads of a sense: its lemmas, then its gloss
    (``lamb: the flesh of a young domestic sheep eaten as food``)."""
    return lex.lemma_text(row) + ": " + lex.glosses[row]


def sibling_coherence(vectors: np.ndarray, counts: list[int], chunk: int = 2048) -> np.ndarray:
    """[M] how well each sense fits the other names: the mean, over the other names that have
    senses, of its best cosine with one of that name's senses.

    vectors: [M, D] unit embeddings of the candidate senses, grouped by name in order, ``counts[i]``
    of them for name i. Senses of a name with one sense get 0 (nothing to choose), and every sense
    does when fewer than two names have senses (no sibling to fit). Rows go `chunk` at a time, so
    memory stays [chunk, M] whatever the number of names."""
    counts = np.asarray(counts, np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    named = np.flatnonzero(counts > 0)
    out = np.zeros(len(vectors))
    if len(named) < 2:
        return out
    owner = np.repeat(np.arange(len(counts)), counts)
    choosing = np.flatnonzero(counts[owner] > 1)
    for lo in range(0, len(choosing), chunk):
        rows = choosing[lo: lo + chunk]
        best = np.maximum.reduceat(vectors[rows] @ vectors.T, starts[named], axis=1)  # [rows, named names]
        best[owner[rows][:, None] == named[None, :]] = 0  # a sense does not fit its own name
        out[rows] = best.sum(axis=1) / (len(named) - 1)
    return out


def text_coherence(lex: Lexicon, senses_per_name: list[list[Sense]]) -> np.ndarray:
    """``sibling_coherence`` of every candidate sense (flat, in name order), from the text model's
    embeddings of ``sense_text``; zeros, without loading the model, when no name needs it or the
    list has more than MAX_COHERENCE_NAMES names."""
    counts = [len(senses) for senses in senses_per_name]
    flat = np.array([s.row for senses in senses_per_name for s in senses], np.int64)
    if max(counts, default=0) < 2 or not 2 <= sum(c > 0 for c in counts) <= MAX_COHERENCE_NAMES:
        return np.zeros(len(flat))
    from headstart.text.embeddings import embed_each

    rows = np.unique(flat)
    vectors = embed_each([sense_text(lex, row) for row in rows.tolist()], "senses")
    return sibling_coherence(vectors[np.searchsorted(rows, flat)], counts)


TERMS = ("WordNet's frequency", "the other class names", "closeness to the source classes",
         "the other class names' meanings (text model)")


def names_terms(lex: Lexicon, tax: Taxonomy, senses_per_name: list[list[Sense]],
                source_rows: np.ndarray | None, recipe: Recipe = DEFAULT_RECIPE) -> list[np.ndarray]:
    """Per name, [len(senses), 4] the four weighted terms of each candidate's names-only score
    (see TERMS; their sum is the score, higher is likelier), weighted by the recipe."""
    context = sibling_log_context(lex, senses_per_name, recipe.lexfile_smoothing)
    flat = np.array([s.row for senses in senses_per_name for s in senses], np.int64)
    closeness = (source_closeness(tax, flat, source_rows) if source_rows is not None
                 else np.zeros(len(flat)))
    coherence = text_coherence(lex, senses_per_name)
    out, at = [], 0
    for senses, ctx in zip(senses_per_name, context):
        mine = slice(at, at + len(senses))
        at += len(senses)
        prior = name_log_prior(senses) if senses else np.zeros(0)
        out.append(np.stack([prior, ctx, recipe.closeness_weight * closeness[mine],
                             recipe.gloss_weight * coherence[mine]], axis=1))
    return out


def image_scores(rows: torch.Tensor, head_w: torch.Tensor, head_b: torch.Tensor, cls: int,
                 features: torch.Tensor, labels: torch.Tensor,
                 unlabelled: torch.Tensor | None = None) -> torch.Tensor:
    """How well each candidate row for class ``cls`` explains the images: [n_candidates] log-likelihood.

    rows: [n_candidates, D + 1] candidate (weight, bias) rows for the class; head_w [C, D],
    head_b [C]: the head with every class's current row. Labelled images of the class add
    ``sum log p(cls | x)`` under the head with the candidate swapped in (the other classes'
    rows compete). Unlabelled images [M, D] add one image's worth: ``log(C * min(share, 1 / C))``,
    share = the mean probability the class claims of them (capped at its even share, so a row
    that claims everything gains nothing over one that claims its part)."""
    import torch

    n_classes = head_w.shape[0]
    others = torch.cat([head_w, head_b[:, None]], dim=1)
    mine = features[labels == cls]
    out = torch.zeros(len(rows))
    for i, row in enumerate(rows):
        head = others.clone()
        head[cls] = row
        if len(mine):
            logits = mine @ head[:, :-1].T + head[:, -1]
            out[i] += torch.log_softmax(logits, dim=1)[:, cls].sum()
        if unlabelled is not None and len(unlabelled):
            share = torch.softmax(unlabelled @ head[:, :-1].T + head[:, -1], dim=1)[:, cls].mean()
            out[i] += math.log(n_classes) + torch.log(share.clamp(1e-12, 1.0 / n_classes))
    return out
