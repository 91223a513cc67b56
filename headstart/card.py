"""The model card (README.md) of a run folder, made from its run.json alone: what the classifier
is, the sense each class name was given, the source model and preprocessing, the data, the metrics with
their confidence intervals, its limits, and how to load and export it."""

from __future__ import annotations

import math


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval (low, high) of a proportion successes / n (n > 0)."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _accuracy_line(label: str, accuracy: float, n: int) -> str:
    low, high = wilson_interval(accuracy * n, n)
    return f"- {label}: {100 * accuracy:.1f} % (95 % CI {100 * low:.1f}–{100 * high:.1f} %, {n} test images)"


def model_card(meta) -> str:
    """Markdown of the model card for a `headstart.run_folder.RunMeta`."""
    m, training = meta.metrics, meta.training or {}
    model = meta.model or f"{meta.model_key} (a model passed in Python; reload with HeadStart.load(run, source=...))"
    lines = [f"# Classifier of {len(meta.class_names)} classes (headstart)", "",
             f"Made by headstart {meta.versions.get('headstart', '?')} with torch {meta.versions.get('torch', '?')}: "
             f"a new last layer on the pretrained source model `{model}`, each class's row started from the "
             f"source classes most similar to its name (method `{meta.method}`), then trained on the labelled "
             "images, if any.", "",
             "## Classes", "", "| label | name | resolved to | from | how |", "|---|---|---|---|---|"]
    labels = meta.labels if meta.labels is not None else meta.class_names
    senses = meta.classes or [{} for _ in meta.class_names]
    lines += [f"| {label} | {name} | {c.get('synset') or '-'} | {c.get('source', '')} | {c.get('how', '')} |"
              for label, name, c in zip(labels, meta.class_names, senses)]
    lines += _meanings(meta.class_names, senses) + _trust(meta)
    lines += ["", "## Input and preprocessing", "",
              f"Decoded RGB images, resized to {meta.resolution} x {meta.resolution} px (bilinear with "
              "antialiasing on float 0–255 values, aspect ratio not kept), then normalised per channel as "
              f"(x - mean) / std with mean {meta.mean} and std {meta.std} on the 0–255 scale. Exports do "
              "both inside the model.", "", "## Data and training", ""]
    if "train_images" in m:
        lines.append(f"- data: `{training.get('data') or 'arrays in memory'}`: {m['train_images']} training and "
                     f"{m['test_images']} test images")
    else:
        lines.append("- no labelled images: the head comes from the class names alone"
                     + (" (biases recentred on unlabelled images)" if meta.record.get("recentred") else ""))
    if training:
        lines.append(f"- {training['epochs']} epochs, learning rate {training['learning_rate']:g}, seed {training['seed']}")
        lines += _controls(training)
    lines += ["", "## Metrics", ""]
    if "test_accuracy" in m and m.get("test_images"):
        lines.append(_accuracy_line("test accuracy before training", m["accuracy_before_training"], m["test_images"]))
        lines.append(_accuracy_line("test accuracy after training", m["test_accuracy"], m["test_images"]))
        lines += _per_class(m.get("per_class"))
    else:
        lines.append("None recorded: measure it with `headstart evaluate RUN --data FOLDER`.")
    lines += ["", "## Limits", "",
              "- It knows only the classes above: every image gets one of them, whatever it shows.",
              "- Accuracy was measured on the test images above (if any); images of another kind (other "
              "cameras, drawings, other sizes) may do worse. Check with `headstart evaluate` on your own data.",
              "- Probabilities are not calibrated; `headstart evaluate` reports the calibration error (ECE).",
              "- Names resolved to the wrong sense (see the table) start their rows from unrelated source "
              "classes: fix them with `--overrides`.",
              "", "## Use it", "", "```",
              "headstart predict RUN image.jpg folder/ \"images/*.png\" [--csv predictions.csv]",
              "headstart evaluate RUN --data FOLDER --json",
              "headstart export RUN --onnx model.onnx        # or --torchscript model.pt: uint8 [N, H, W, 3], any size",
              "```", "", "```python", "from headstart import HeadStart",
              "clf = HeadStart.load(\"RUN\")", "clf.predict(images)  # labels", "```", ""]
    return "\n".join(lines)


def _meanings(class_names: list[str], senses: list[dict]) -> list[str]:
    """What each class name was read as: its WordNet sense with the sense's gloss, or text."""
    if not any(c.get("synset") or c.get("source") for c in senses):
        return []
    lines = ["", "## What each name was read as", ""]
    for name, c in zip(class_names, senses):
        if c.get("synset"):
            lines.append(f"- {name}: `{c['synset']}`, {c.get('gloss') or 'no gloss'}")
        else:
            lines.append(f"- {name}: no WordNet sense; its row comes from a text embedding of the name")
    return lines + ["", "A wrong sense starts its row from unrelated source classes: fix it with `--overrides`."]


def _trust(meta) -> list[str]:
    """How far the names were trusted and why: the decision `fit` prints (`methods.decision_lines`)."""
    from headstart.methods import decision_lines

    decided = decision_lines(meta.record or {})
    if not decided:
        return ["", "## How far the names were trusted", "",
                f"Method `{meta.method}` records no trust decision: it does not weigh the names against the images."]
    return ["", "## How far the names were trusted", "", *(f"- {line}" for line in decided)]


def _controls(training: dict) -> list[str]:
    """The training controls that were set (run.json's training), one line each."""
    lines = []
    if training.get("class_weight") is not None:
        lines.append(f"- class weights: {training['class_weight']} (in the training loss)")
    if training.get("sample_weight"):
        lines.append("- images weighted one by one (sample_weight) in the training loss")
    if training.get("max_per_class") is not None:
        lines.append(f"- at most {training['max_per_class']} training images per class")
    stop = training.get("early_stopping")
    if stop:
        lines.append(f"- early stopping: kept epoch {stop['best_epoch']} of {stop['stopped_epoch']} by the loss on "
                     f"{stop['validation_images']} held-out training images (not trained on)")
    return lines


def _per_class(per_class: dict | None) -> list[str]:
    """Precision and recall of each class on the test images, when the run measured them."""
    if not per_class:
        return []
    percent = lambda v: "–" if v is None else f"{100 * v:.1f} %"  # noqa: E731
    return ["", "| class | precision | recall | test images |", "|---|---|---|---|",
            *(f"| {name} | {percent(v['precision'])} | {percent(v['recall'])} | {v['support']} |"
              for name, v in per_class.items()), ""]
