"""The method groups and the shots protocol the lab measures, derived from the method registry
(``headstart.methods.METHODS``) so that a method added or removed there needs no list edited here."""

from __future__ import annotations

from headstart.methods import METHODS
from headstart.similarity import FAMILIES

DEFAULT_METHOD = "headstart"
# Every method the default is measured against, in the registry's order: the basic heads, then the
# seed paper's transfer-init families (top-k source rows by one similarity, trained without a prior).
PEERS = tuple(name for name in METHODS if name != DEFAULT_METHOD)
BASIC_HEADS = tuple(name for name in PEERS if name not in FAMILIES)  # random, zero, logreg, imprint
SEMANTIC_PEERS = tuple(name for name in PEERS if name in FAMILIES and not METHODS[name].needs_shots)
# Names only, then 1 to 20 training images per class.
SHOTS = (0, 1, 2, 5, 10, 20)
