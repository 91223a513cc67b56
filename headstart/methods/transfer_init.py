"""The seed paper's transfer-init families: the target head made of the top-k source rows by one
similarity family, one registered method per family (trained without a prior)."""

from __future__ import annotations

from headstart import transfer
from headstart.evidence import Evidence
from headstart.methods.registry import Plan, register, source_head
from headstart.similarity import FAMILIES, VISUAL_FAMILIES, similarity
from headstart.train import Head


def transferred_head(evidence: Evidence, family: str, top_k: int = 5) -> Head:
    weights = transfer.top_k_weights(similarity(family, evidence), top_k)
    return transfer.combine(*source_head(evidence), weights)


def _register_family(family: str) -> None:
    needs_shots = family in VISUAL_FAMILIES

    @register(family, needs_shots, f"seed-paper transfer: top-k source rows by {family} similarity",
              uses_names=family not in VISUAL_FAMILIES, top_k=5)
    def plan(evidence: Evidence, seed: int, top_k: int) -> Plan:
        return Plan(transferred_head(evidence, family, top_k))


for _family in FAMILIES:
    _register_family(_family)
