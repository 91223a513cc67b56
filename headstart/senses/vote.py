"""Images choose among a class's credible senses.

Each candidate sense of an ambiguous class gives a different transferred row (the recipe's
``vote_measure`` and ``vote_top_k``: Lin, top-3 source rows, the best single names-only head on
Fashion-MNIST, docs/results/archive/suite-research.md). The sense whose row, beside the other classes' rows,
explains the class's training images best — the highest sum of log p(class | image) — wins,
added to its names-only score (a log-probability), so one clear image outweighs a weak names-only
preference and a confusing image does not overturn a strong one. Only training images (and
unlabelled ones) are used, never test labels.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from headstart import transfer
from headstart.recipe import DEFAULT_RECIPE, Recipe
from headstart.senses.naming import ClassSense
from headstart.senses.scores import image_scores
from headstart.wordnet.measures import wordnet_matrix
from headstart.wordnet.nouns import lexicon, taxonomy


def image_vote(senses: list[ClassSense], source_labels: list[str], head: tuple[torch.Tensor, torch.Tensor],
               base_similarity: torch.Tensor, features: torch.Tensor, labels: torch.Tensor,
               unlabelled: torch.Tensor | None = None, recipe: Recipe = DEFAULT_RECIPE) -> list[ClassSense]:
    """Re-choose the sense of every class with several credible senses by its images.

    source_labels: S WordNet ids; head: source (W [S, D], b [S]); base_similarity: [C, S] the
    current rows of every class (the recipe's vote_measure); features [N, D] / labels [N]: training
    images; unlabelled: [M, D] or None. -> the senses, changed where the images chose another sense.
    """
    tax, lex = taxonomy(), lexicon()
    w_src, b_src = (t.detach().float() for t in head)
    base_w, base_b = transfer.combine(w_src, b_src, transfer.top_k_weights(base_similarity, recipe.vote_top_k))
    has_unlabelled = unlabelled is not None and len(unlabelled) > 0
    out = []
    for c, sense in enumerate(senses):
        n_images = int((labels == c).sum())
        if sense.source != "wordnet" or len(sense.options) < 2 or not (n_images or has_unlabelled):
            out.append(sense)
            continue
        rows = np.array([row for row, _, _ in sense.options])
        sim = wordnet_matrix([tax.names[r] for r in rows], source_labels, recipe.vote_measure)
        w, b = transfer.combine(w_src, b_src, transfer.top_k_weights(sim, recipe.vote_top_k))
        evidence = image_scores(torch.cat([w, b[:, None]], dim=1), base_w, base_b, c,
                                features.float(), labels, unlabelled.float() if has_unlabelled else None)
        total = np.array([score for _, score, _ in sense.options]) + evidence.double().numpy()
        order = np.argsort(-total, kind="stable")
        what = f"{n_images} image{'s' if n_images != 1 else ''}" + (" + unlabelled images" if has_unlabelled else "")
        if order[0] == 0:
            out.append(replace(sense, how=sense.how + f"; the {what} agree"))
            continue
        best, old = rows[order[0]], rows[0]
        option_names = {tax.names[r] for r in rows}
        others = [f"{tax.names[r]}: {lex.glosses[r]}" for r in rows[order[1:]]]
        others += [a for a in sense.alternatives if a.split(":", 1)[0] not in option_names]
        out.append(replace(
            sense, synset_id=f"n{tax.offsets[best]:08d}", synset_name=tax.names[best], gloss=lex.glosses[best],
            part=sense.options[order[0]][2],
            how=sense.how + f"; the {what} chose {tax.names[best]} over {tax.names[old]}",
            alternatives=others[:len(sense.alternatives)],
            options=tuple(sense.options[k] for k in order)))
    return out
