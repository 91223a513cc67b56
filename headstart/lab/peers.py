"""The method groups and the shots protocol the lab measures, as data: a method added to the registry
(``headstart.methods.METHODS``) joins no grid until it is named here."""

from __future__ import annotations

from headstart.defaults import DEFAULT_METHOD  # noqa: F401  the lab names it with its peers

# The basic heads (random, zero, logistic regression, imprinting).
BASIC_HEADS = ("random", "zero", "logreg", "imprint")
# The seed paper's transfer-init families that need no image (top-k source rows by one similarity,
# trained without a prior), and the one that does.
SEMANTIC_PEERS = ("path", "wup", "lch", "res", "jcn", "lin", "text")
VISUAL_PEERS = ("visual",)
# The literature's few-shot methods, adapted to the names head (issue 32, docs/peers.md).
LITERATURE_PEERS = ("simpleshot", "lr-l2n", "tip-adapter", "lp-plus-plus", "clap")
# Every method the default is measured against, in the registry's order.
PEERS = (*BASIC_HEADS, *SEMANTIC_PEERS, *VISUAL_PEERS, *LITERATURE_PEERS)
# The fixed peers of the robustness rule (../shared/tools/robust_check.py), compared one by one: a
# deliberate subset (random and the other WordNet measures are left out) and the literature's five.
ROBUSTNESS_PEERS = ("logreg", "imprint", "zero", "text", "lin", "path", "jcn", *LITERATURE_PEERS)
# Names only, then 1 to 20 training images per class.
SHOTS = (0, 1, 2, 5, 10, 20)
