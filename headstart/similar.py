"""`headstart similar`: the top source classes of each target class, as plain data."""

from __future__ import annotations

from pathlib import Path

from headstart.similarity import Evidence, resolutions, similarity
from headstart.sources import load_source
from headstart.sources.model import SourceModel


def similar_classes(model: str | SourceModel, class_names: list[str], measure: str = "lin", top: int = 5,
                    overrides: dict[str, str] | None = None, heatmap: Path | None = None) -> dict:
    """-> {"model", "measure", "targets": [{name, synset, gloss, how, alternatives,
    top: [{label, name, score}]}]}; optionally writes a heatmap of the union of top sources.
    overrides: name -> synset id (see `resolve.load_overrides`)."""
    source = load_source(model) if isinstance(model, str) else model
    evidence = Evidence.names_only(source, class_names, overrides)
    matrix = similarity(measure, evidence)
    resolved = resolutions(evidence) if measure != "text" else [None] * len(class_names)
    scores, index = matrix.topk(min(top, matrix.shape[1]), dim=1)
    targets = []
    for name, res, row_scores, row_index in zip(class_names, resolved, scores.tolist(), index.tolist()):
        targets.append({
            "name": name,
            "synset": res.synset_name if res else "-",
            "synset_id": res.synset_id if res else None,
            "gloss": res.gloss if res else "(text embedding of the name; no synset needed)",
            "how": res.how if res else "text",
            "alternatives": res.alternatives if res else [],
            "top": [{"label": source.labels[i], "name": source.names[i], "score": round(s, 4)}
                    for s, i in zip(row_scores, row_index)],
        })
    if heatmap is not None:
        from headstart.report import plot_similarity_heatmap

        columns = sorted(set(index.flatten().tolist()))
        plot_similarity_heatmap(matrix[:, columns].numpy(), class_names,
                                [source.names[i] for i in columns], heatmap)
    return {"model": source.name, "measure": measure, "targets": targets}
