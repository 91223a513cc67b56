"""The model card (README.md) of a run folder, made from its run.json alone: what the classifier
is, the sense each class name was given, the source model and preprocessing, the data, the metrics with
their confidence intervals, its limits, and how to load and export it."""

from __future__ import annotations

from headstart.metrics import wilson_interval
from headstart.pixels import Resize
from headstart.safe_text import markdown, markdown_code


def _accuracy_line(label: str, accuracy: float, n: int) -> str:
    low, high = wilson_interval(accuracy * n, n)
    return f"- {label}: {100 * accuracy:.1f} % (95 % CI {100 * low:.1f}–{100 * high:.1f} %, {n} test images)"


def model_card(meta) -> str:
    """Markdown of the model card for a `headstart.run_folder.RunMeta`. Every text a run may have
    received from outside (class names, senses, paths, model specs) is escaped (`safe_text`): it
    renders as the text it is, one table row per class."""
    m, training = meta.metrics, meta.training or {}
    model = (markdown_code(meta.model) if meta.model else
             f"{markdown_code(meta.model_key)} (a model passed in Python; reload with HeadStart.load(run, source=...))")
    lines = [f"# Classifier of {len(meta.class_names)} classes (headstart)", "",
             f"Made by headstart {markdown(meta.versions.get('headstart', '?'))} with torch "
             f"{markdown(meta.versions.get('torch', '?'))}: "
             f"a new last layer on the pretrained source model {model}, each class's row started from the "
             f"source classes most similar to its name (method {markdown_code(meta.method)}), then trained on the "
             "labelled images, if any.", "",
             "## Classes", ""]
    labels = meta.labels if meta.labels is not None else meta.class_names
    senses = meta.classes or [{} for _ in meta.class_names]
    lines += class_table(["label", "name", "resolved to", "from", "how"],
                         [(label, name, *sense_cells(c)) for label, name, c in zip(labels, meta.class_names, senses)])
    lines += _meanings(meta.class_names, senses) + _trust(meta)
    lines += ["", "## Input and preprocessing", "",
              f"Decoded RGB images, {Resize.from_record(meta.resize).words(meta.resolution)}, then normalised "
              "per channel as "
              f"(x - mean) / std with mean {meta.mean} and std {meta.std} on the 0–255 scale. Exports do "
              "both inside the model.", "", "## Data and training", ""]
    if "train_images" in m:
        data = markdown_code(training.get("data") or "arrays in memory")
        lines.append(f"- data: {data}: {markdown(m['train_images'])} training and {markdown(m['test_images'])} "
                     "test images")
    else:
        lines.append("- no labelled images: the head comes from the class names alone"
                     + (" (biases recentred on unlabelled images)" if meta.record.get("recentred") else ""))
    if training:
        lines.append(f"- {markdown(training['epochs'])} epochs, learning rate {training['learning_rate']:g}, "
                     f"seed {markdown(training['seed'])}")
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


def class_table(header: list[str], rows) -> list[str]:
    """A markdown table of the classes, one line per row of cells, every cell escaped (`safe_text`)."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(markdown(v) for v in row) + " |" for row in rows)]


def sense_cells(sense: dict) -> tuple:
    """The cells of a class's sense (run.json's "classes" entry): synset (or "-"), source, how."""
    return sense.get("synset") or "-", sense.get("source", ""), sense.get("how", "")


def _meanings(class_names: list[str], senses: list[dict]) -> list[str]:
    """What each class name was read as: its WordNet sense with the sense's gloss, or text."""
    if not any(c.get("synset") or c.get("source") for c in senses):
        return []
    lines = ["", "## What each name was read as", ""]
    for name, c in zip(class_names, senses):
        if c.get("synset"):
            lines.append(f"- {markdown(name)}: {markdown_code(c['synset'])}, {markdown(c.get('gloss') or 'no gloss')}")
        else:
            lines.append(f"- {markdown(name)}: no WordNet sense; its row comes from a text embedding of the name")
    return lines + ["", "A wrong sense starts its row from unrelated source classes: fix it with `--overrides`."]


def _trust(meta) -> list[str]:
    """How far the names were trusted and why: the decision `fit` prints (`decision_text.decision_lines`)."""
    from headstart.decision_text import decision_lines

    decided = decision_lines(meta.record or {})
    if not decided:
        return ["", "## How far the names were trusted", "",
                f"Method {markdown_code(meta.method)} records no trust decision: it does not weigh the names against "
                "the images."]
    return ["", "## How far the names were trusted", "", *(f"- {markdown(line)}" for line in decided)]


def _controls(training: dict) -> list[str]:
    """The training controls that were set (run.json's training), one line each."""
    lines = []
    if training.get("class_weight") is not None:
        lines.append(f"- class weights: {markdown(training['class_weight'])} (in the training loss)")
    if training.get("sample_weight"):
        lines.append("- images weighted one by one (sample_weight) in the training loss")
    if training.get("max_per_class") is not None:
        lines.append(f"- at most {training['max_per_class']} training images per class")
    if training.get("augment"):
        lines.append(f"- each training image's features averaged with those of {training['augment']} augmented views "
                     "(a flip, then seeded random resized crops)")
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
    return ["", *class_table(["class", "precision", "recall", "test images"],
                             [(name, percent(v["precision"]), percent(v["recall"]), v["support"])
                              for name, v in per_class.items()]), ""]
