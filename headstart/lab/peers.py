"""The method groups and the shots protocol the lab measures, as data: a method added to the registry
(``headstart.methods.METHODS``) joins no grid until it is named here."""

from __future__ import annotations

DEFAULT_METHOD = "headstart"
# The basic heads (random, zero, logistic regression, imprinting).
BASIC_HEADS = ("random", "zero", "logreg", "imprint")
# The seed paper's transfer-init families that need no image (top-k source rows by one similarity,
# trained without a prior), and the one that does.
SEMANTIC_PEERS = ("path", "wup", "lch", "res", "jcn", "lin", "text")
VISUAL_PEERS = ("visual",)
# Every method the default is measured against, in the registry's order.
PEERS = (*BASIC_HEADS, *SEMANTIC_PEERS, *VISUAL_PEERS)
# Names only, then 1 to 20 training images per class.
SHOTS = (0, 1, 2, 5, 10, 20)
