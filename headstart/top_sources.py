"""`headstart similar`: the top source classes of each target class, as plain data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from headstart.errors import UserError
from headstart.senses import ClassSense, class_rows, name_senses
from headstart.similarity import name_text_rows
from headstart.sources import source_labels
from headstart.wordnet import MEASURES

if TYPE_CHECKING:
    from headstart.sources.model import SourceModel


@dataclass
class _SourceLabels:
    """What the semantic families read of a source: its labels and names. A built-in source's
    weights (and the network code they need, and torch) are never loaded for `similar`."""

    name: str
    labels: list[str]
    names: list[str]


def similar_classes(model: str | SourceModel, class_names: list[str], measure: str = "lin", top: int = 5,
                    overrides: dict[str, str] | None = None, heatmap: Path | None = None) -> dict:
    """-> {"model", "measure", "senses" (each name's ``ClassSense``), "targets": [{name, synset, source,
    how, alternatives, gloss, part, synset_id, top: [{label, name, score}]}]} (``ClassSense.as_dict``
    plus the top sources);
    optionally writes a heatmap of the union of top sources. overrides: name -> synset id (see
    `naming.load_overrides`). With ``measure="text"`` every row is text: no synsets are reported.
    Numpy only; the text model loads for text rows whose embeddings are not cached yet."""
    source = _SourceLabels(model, *source_labels(model)) if isinstance(model, str) else model
    if measure == "text":
        matrix = name_text_rows(source, class_names)
        senses = [ClassSense(name, None, None, "", "text", "text embedding of the name (--measure text)")
                    for name in class_names]
    elif measure in MEASURES:
        senses = name_senses(source, class_names, overrides)
        matrix = class_rows(source, senses, measure)
    else:
        raise UserError(f"unknown measure {measure!r}; choose one of: {', '.join(MEASURES)}, text")
    index = np.argsort(-matrix, axis=1, kind="stable")[:, :top]
    scores = np.take_along_axis(matrix, index, axis=1)
    targets = []
    for sense, row_scores, row_index in zip(senses, scores.tolist(), index.tolist()):
        targets.append({
            **sense.as_dict(),
            "synset_id": sense.synset_id,
            "top": [{"label": source.labels[i], "name": source.names[i], "score": round(s, 4)}
                    for s, i in zip(row_scores, row_index)],
        })
    if heatmap is not None:
        from headstart.heatmap import plot_similarity_heatmap

        columns = sorted(set(index.flatten().tolist()))
        plot_similarity_heatmap(matrix[:, columns], class_names,
                                [source.names[i] for i in columns], heatmap)
    return {"model": source.name, "measure": measure, "senses": senses, "targets": targets}
