"""What the default method decided, in words, from its plan's record as run.json keeps it: printed by
`fit` and `init`, and written into the model card. Presentation only: the methods record numbers."""

from __future__ import annotations


def decision_lines(record: dict) -> list[str]:
    """What the default decided, in words, from its plan's record (as run.json keeps it): the
    families, the classes that start from their own source row, and how far it trusted the names."""
    lines = []
    if "families" in record:
        with_shots = record.get("with_shots")  # the names-only head averaged with the families' (shots_names)
        lines.append(f"names' head: top-{record['top_k']} source rows of {', '.join(record['families'])}"
                     + (f", averaged with the top-{with_shots['top_k']} rows of {', '.join(with_shots['families'])}"
                        if with_shots else "")
                     + (", biases recentred on the target images" if record.get("recentred") else ""))
    if record.get("source_rows"):
        lines.append("starting from their own source row: " +
                     ", ".join(f"{name} ({label})" for name, label in record["source_rows"].items()))
    if "why" in record:
        lines.append(f"trust in the names: {100 * record['task_trust']:.0f} % ({record['why']})")
    return lines
