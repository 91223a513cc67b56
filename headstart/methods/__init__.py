"""Head-initialisation methods, registered by name (`registry`), one family per module: the basic
heads, the seed paper's transfer-init families, the default, the literature's few-shot peers. The
modules register on import, in the order below — the registry's order, which `headstart methods` lists
(the lab's grids are data of their own, `headstart.lab.peers`)."""

# isort: skip_file
from headstart.methods.registry import (
    METHODS, OPTIONS, FeatureMap, Method, MethodKind, Plan, Scorer, create_method, execute, fit_head, get_method,
    register)
from headstart.methods import basic, transfer_init, default, literature  # noqa: F401  registration order
from headstart.methods.basic import cross_validated_logreg
from headstart.methods.transfer_init import transferred_head
from headstart.methods.default import averaged_head, family_head, names_head, wordnet_coverage

__all__ = ["METHODS", "OPTIONS", "FeatureMap", "Method", "MethodKind", "Plan", "Scorer", "create_method", "execute",
           "fit_head", "get_method", "register", "cross_validated_logreg", "transferred_head", "averaged_head",
           "family_head", "names_head", "wordnet_coverage"]
