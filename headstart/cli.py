"""The `headstart` command: parses arguments, calls the library, writes results. Nothing else."""

from __future__ import annotations

import errno
import functools
import json
import os
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence

import typer

from headstart.defaults import (DEFAULT_METHOD, DEFAULT_MODEL, HEAD_EPOCHS, LEARNING_RATE, MAX_RESOLUTION,
                                MIN_RESOLUTION)
from headstart.errors import UserError
from headstart.safe_text import terminal, visible

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="New classifier heads that start from the most similar source classes.")


# Options that several commands share, defined once so their defaults and help stay the same.
MODEL_OPTION = typer.Option(DEFAULT_MODEL, help="source model: a built-in name (see `headstart sources`), "
                                                  "hf:FOLDER (a Hugging Face image-classification folder) "
                                                  "or package.module:function returning a SourceModel")
OVERRIDES_OPTION = typer.Option(None, help="JSON or name=id lines mapping class names to WordNet synsets")
RESOLUTION_OPTION = typer.Option(None, min=MIN_RESOLUTION, max=MAX_RESOLUTION,
                                  help="input size in pixels (default: the model's)")
EPOCHS_OPTION = typer.Option(HEAD_EPOCHS, min=0, max=100_000, help="full-batch head-training epochs")
RUN_OUT_OPTION = typer.Option(..., help="run folder to write")
DEVICE_OPTION = typer.Option("auto", help="where image features are computed: auto (this process's GPU when "
                                          "there is one), cpu, cuda or cuda:N")
BACKEND_OPTION = typer.Option("auto", help="engine for the frozen network: auto (ONNX Runtime on the CPU once it "
                                           "matches torch on a check batch, else torch), torch or onnx")
PRECISION_OPTION = typer.Option("fp32", help="numerics of the frozen network: fp32, or bf16 / fp16 autocast (about 2x "
                                              "faster on a GPU; torch backend; cached apart from fp32 features)")


def _version(value: bool) -> None:
    if value:
        from headstart import __version__

        typer.echo(f"headstart {__version__}")
        raise typer.Exit()


QUIET_OPTION = typer.Option(False, "--quiet", "-q", help="no progress bars")
RUN_MODEL_OPTION = typer.Option(None, "--model", help="the run's source model where it is now, e.g. hf:NEWPATH for "
                                                     "a moved folder (its weights digest must be the one run.json "
                                                     "records); default: the model run.json names")
ALLOW_CODE_OPTION = typer.Option(False, "--allow-code", help="import and call the package.module:function that "
                                                             "the run names as its model (only for runs you trust)")


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="print the version"),
    quiet: bool = QUIET_OPTION,
) -> None:
    """New classifier heads that start from the most similar source classes."""
    _quiet(quiet)


def _quiet(quiet: bool) -> None:
    """--quiet, given before or after the subcommand: no progress bars."""
    global _PROGRESS
    if quiet:
        _PROGRESS = False
        os.environ["TQDM_DISABLE"] = "1"  # bars of the libraries underneath too


_PROGRESS = True  # progress bars; --quiet turns them off


def _compute() -> None:
    """Process-wide settings for commands that run the network (threads, allocator)."""
    from headstart.process_settings import configure

    configure()


def _csv_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _class_list(text: str) -> list[str]:
    names = _csv_list(text)
    if len(names) < 2:
        raise UserError(f"--classes needs at least two comma-separated class names, got {text!r}")
    return names


def _int_list(text: str, option: str, low: int = 0) -> list[int]:
    try:
        values = [int(part) for part in _csv_list(text)]
    except ValueError:
        raise UserError(f"{option} takes comma-separated integers, e.g. 0,1,5; got {text!r}") from None
    if not values or min(values) < low:
        raise UserError(f"{option} takes comma-separated integers >= {low}, e.g. 0,1,5; got {text!r}")
    return values


def _class_weight(text: Optional[str]) -> str | dict | None:
    """--class-weight: "balanced", or "name=weight,..." -> {name: weight} (checked by the estimator)."""
    if text is None or text.strip() == "balanced":
        return text and "balanced"
    weights = {}
    for part in _csv_list(text):
        name, _, value = part.rpartition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            name = ""
        if not name.strip():
            raise UserError(f'--class-weight takes "balanced" or name=weight pairs, e.g. "cat=1,dog=5"; got {text!r}')
    return weights


def _overrides(path: Optional[Path]) -> dict:
    from headstart.senses.naming import load_overrides

    return load_overrides(path) if path else {}


def _output_file(path: Path, option: str, inputs: Sequence[Path] = ()) -> Path:
    """A file to write: its folder is created; an existing folder in its place, or an input of the
    command (`headstart.outputs`), is an error."""
    from headstart.outputs import check_output

    check_output(path, option, inputs)
    if path.is_dir():
        raise UserError(f"{option} {path} is a folder: pass a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UserError(f"{option} {path}: {path.parent} is not a folder") from None
    return path


def _output_folder(path: Path, inputs: Sequence[Path]) -> Path:
    """A folder to write: never one of the command's inputs nor inside one (`headstart.outputs`)."""
    from headstart.outputs import check_output

    return check_output(path, "--out", inputs)


def _run_json(folder: Path) -> str:
    return (folder / "run.json").read_text(encoding="utf-8")


def _print_decision(record: dict) -> None:
    """How the default built and trusted the head (`decision_text.decision_lines`)."""
    from headstart.decision_text import decision_lines

    for line in decision_lines(record):
        typer.echo(terminal(line))


def _print_senses(senses: list) -> None:
    """The compact table of the sense each class name was given: a synset or text (`ClassSense`s)."""
    from headstart.senses import sense_table

    if senses:  # none for methods that read no names (imprint, logreg, zero, random, visual)
        typer.echo(terminal(sense_table(senses)))


@app.command()
def sources() -> None:
    """List the pretrained source models."""
    from headstart.sources import list_sources

    for name in list_sources():
        typer.echo(name)


@app.command()
def methods() -> None:
    """List the head-initialisation methods usable in bench, fit and init."""
    from headstart.methods import METHODS

    for method in METHODS.values():
        typer.echo(f"{method.name:10s} {'(needs images) ' if method.needs_shots else ''}{method.description}")


@app.command()
def similar(
    model: str = MODEL_OPTION,
    classes: str = typer.Option(..., help='comma-separated target class names, e.g. "Trouser,Bag"'),
    measure: str = typer.Option("lin", help="path, wup, lch, res, jcn, lin or text"),
    top: int = typer.Option(5, min=1, max=1000, help="how many source classes to show per target"),
    overrides: Optional[Path] = OVERRIDES_OPTION,
    heatmap: Optional[Path] = typer.Option(None, help="also write a heatmap PNG of the top sources"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of text"),
) -> None:
    """Top source classes per target class, and how each name was resolved to a synset."""
    from headstart.senses import sense_table
    from headstart.top_sources import similar_classes

    names = _csv_list(classes)
    if not names:
        raise UserError(f"--classes needs at least one class name, got {classes!r}")
    result = similar_classes(model, names, measure, top, _overrides(overrides),
                             heatmap and _output_file(heatmap, "--heatmap"))
    if as_json:
        typer.echo(json.dumps({k: v for k, v in result.items() if k != "senses"}, indent=2))
        return
    typer.echo(terminal(sense_table(result["senses"])) + "\n")
    for row in result["targets"]:
        gloss = f": {row['gloss']}" if row["gloss"] else ""
        typer.echo(visible(f"{row['name']}  ->  {row['synset'] or 'text'}{gloss}"))
        for match in row["top"]:
            typer.echo(visible(f"    {match['score']:.3f}  {match['name']}  [{match['label']}]"))


@app.command()
def init(
    model: str = MODEL_OPTION,
    classes: str = typer.Option(..., help='comma-separated class names, e.g. "Trouser,Bag"'),
    method: str = typer.Option(DEFAULT_METHOD, help="a names-only method (see `headstart methods`)"),
    overrides: Optional[Path] = OVERRIDES_OPTION,
    unlabelled: Optional[Path] = typer.Option(
        None, help="folder of target images without labels (any layout): the default recentres its biases on them"),
    out: Path = RUN_OUT_OPTION,
    as_json: bool = typer.Option(False, "--json", help="print the run's run.json instead of text"),
    quiet: bool = QUIET_OPTION,
    device: str = DEVICE_OPTION,
    backend: str = BACKEND_OPTION,
    precision: str = PRECISION_OPTION,
) -> None:
    """A zero-shot classifier from class names alone (no labelled images)."""
    from headstart.fit import init_head

    _quiet(quiet)
    if unlabelled:  # names alone run no image network: the allocator setting would only keep freed memory
        _compute()
    _output_folder(out, [p for p in (unlabelled, overrides) if p])
    result = init_head(model, _class_list(classes), out, method, _overrides(overrides), unlabelled,
                       progress=_PROGRESS, device=device, backend=backend, precision=precision)
    if as_json:
        typer.echo(_run_json(result.folder))
        return
    _print_senses(result.estimator.sense_details_)
    _print_decision(result.meta.record)
    typer.echo(f"wrote {result.folder} ({len(result.meta.class_names)} classes, method {method})")


@app.command()
def fit(
    model: str = MODEL_OPTION,
    data: Path = typer.Option(..., help="image folder (one sub-folder per class; optional train/ + test/ or "
                                        "val/) or a CSV of path,label[,split]"),
    method: str = typer.Option(DEFAULT_METHOD, help="head initialisation method (see `headstart methods`)"),
    resolution: Optional[int] = RESOLUTION_OPTION,
    epochs: int = EPOCHS_OPTION,
    overrides: Optional[Path] = OVERRIDES_OPTION,
    out: Path = RUN_OUT_OPTION,
    full_finetune: bool = typer.Option(False, "--full-finetune", help=(
        "then fine-tune the whole network (LP-FT), kept only if it beats the head alone on held-out "
        "training images; runs under `torchrun --nproc_per_node=N -m headstart fit ...`")),
    finetune_epochs: int = typer.Option(3, min=1, max=1000, help="epochs of full fine-tuning"),
    finetune_validation_fraction: float = typer.Option(0.25, help=(
        "share of each class's training images held out to decide whether full fine-tuning is kept")),
    as_json: bool = typer.Option(False, "--json", help="print the run's run.json instead of text"),
    quiet: bool = QUIET_OPTION,
    device: str = DEVICE_OPTION,
    backend: str = BACKEND_OPTION,
    precision: str = PRECISION_OPTION,
    seed: int = typer.Option(0, min=0, max=2**32 - 1, help="seeds the draws of training (--max-per-class, the "
                                                           "early-stopping split, random heads); a folder's own "
                                                           "test split does not change with it"),
    lr: float = typer.Option(LEARNING_RATE, "--lr", "--learning-rate", help="Adam's learning rate in head training"),
    class_weight: Optional[str] = typer.Option(None, help='"balanced" (each class weighted by images / (classes x '
                                                          'its images)) or "name=weight,name=weight"'),
    early_stopping: bool = typer.Option(False, "--early-stopping", help=(
        "hold out --validation-fraction of each class's training images and keep the head of the epoch "
        "with the lowest loss on them, stopping after --n-iter-no-change epochs without improvement")),
    validation_fraction: float = typer.Option(0.1, help="share of the training images held out by --early-stopping"),
    n_iter_no_change: int = typer.Option(10, help="epochs without improvement before --early-stopping stops"),
    max_per_class: Optional[int] = typer.Option(None, help="train on at most this many images per class "
                                                           "(drawn with --seed)"),
    augment: int = typer.Option(0, help="augmented views per training image, 0..16 (a flip, then random "
                                                       "resized crops drawn with --seed), averaged with the image's "
                                                       "features; 0: none"),
) -> None:
    """Fit a head on an image folder; writes head.safetensors, run.json and report.md to OUT
    (and backbone.safetensors when full fine-tuning won)."""
    from headstart import distributed
    from headstart.finetune import FinetuneConfig
    from headstart.fit import fit_folder

    _quiet(quiet)
    _compute()
    _output_folder(out, [p for p in (data, overrides) if p])
    finetune_config = FinetuneConfig(epochs=finetune_epochs, val_fraction=finetune_validation_fraction)
    result = fit_folder(model, data, out, method, resolution, epochs, _overrides(overrides),
                        progress=_PROGRESS, full_finetune=full_finetune, finetune_config=finetune_config,
                        device=device, backend=backend,
                        precision=precision, max_per_class=max_per_class, random_state=seed, learning_rate=lr,
                        class_weight=_class_weight(class_weight), early_stopping=early_stopping,
                        validation_fraction=validation_fraction, n_iter_no_change=n_iter_no_change,
                        augment=augment)
    if not distributed.is_main():
        return
    if as_json:
        typer.echo(_run_json(result.folder))
        return
    metrics = result.meta.metrics
    _print_senses(result.estimator.sense_details_)
    _print_decision(result.meta.record)
    stop = result.meta.training.get("early_stopping")
    if stop:
        typer.echo(f"early stopping: kept epoch {stop['best_epoch']} of the {stop['stopped_epoch']} run (lowest "
                   f"loss {stop['best_validation_loss']:.4f} on {stop['validation_images']} held-out training images)")
    if "finetune" in metrics:
        typer.echo(metrics["finetune"]["message"])
    typer.echo(f"test accuracy {100 * metrics['accuracy_before_training']:.1f} % before training, "
               f"{100 * metrics['test_accuracy']:.1f} % after ({metrics['test_images']} test images)")
    typer.echo(f"wrote {result.folder}")


@app.command()
def predict(
    run: Path = typer.Argument(..., help="run folder made by `headstart fit` or `headstart init`"),
    images: List[str] = typer.Argument(..., help="image files, folders (every image under them), glob "
                                                 "patterns (quoted) or CSV files whose first column lists images "
                                                 "or folders (relative paths: to the CSV's folder)"),
    top: int = typer.Option(3, min=1, help="how many classes per image"),
    as_json: bool = typer.Option(False, "--json", help="print JSON lines {image, top: [{class, probability}]}"),
    csv: Optional[Path] = typer.Option(None, "--csv", help="also write the predictions to this CSV file (image, "
                                                           "prediction, probability, then one column per class)"),
    quiet: bool = QUIET_OPTION,
    device: str = DEVICE_OPTION,
    backend: str = BACKEND_OPTION,
    precision: str = PRECISION_OPTION,
    model: Optional[str] = RUN_MODEL_OPTION,
    allow_code: bool = ALLOW_CODE_OPTION,
) -> None:
    """Top classes with probabilities for each image (the model is loaded once), printed as they are
    computed; on the CPU through ONNX Runtime without torch (see `headstart.Predictor`)."""
    from tqdm import tqdm

    from headstart.data.folder import ImageFiles
    from headstart.predictions import image_paths, top_classes, write_predictions

    _quiet(quiet)
    estimator = _predictor(run, device, backend, precision, model, allow_code)
    arguments, images = images, image_paths(images)
    if csv is not None:  # checked before the work: the images, the CSVs that list them and the run stay as they are
        _output_file(csv, "--csv", [run, *images, *(Path(a) for a in arguments if Path(a).is_file())])
    if hasattr(estimator, "iter_proba"):
        computed = estimator.iter_proba(ImageFiles(images))
    else:
        computed = iter(estimator.predict_proba(ImageFiles(images)))
    echo = functools.partial(tqdm.write, file=sys.stdout)  # clears the progress bar on stderr first
    rows = []
    for path, row in zip(images, computed):
        rows.append(row)
        [ranked] = top_classes(estimator, row[None], top)
        if as_json:
            echo(json.dumps({"image": str(path), "top": [{"class": c, "probability": round(p, 6)}
                                                         for c, p in ranked]}))
        else:
            echo(visible(f"{path}: " + ", ".join(f"{name} {100 * p:.1f}%" for name, p in ranked)))
    if csv is not None:
        import numpy as np

        write_predictions(csv, images, estimator, np.stack(rows))


def _predictor(run: Path, device: str, backend: str, precision: str, model: str | None, allow_code: bool):
    """The run's classifier for predict and evaluate: a torch-free `Predictor` where the options allow
    ONNX Runtime on the CPU, else the `HeadStart` (torch). model: where the run's source model is now
    (--model), when it moved; allow_code: --allow-code."""
    from headstart.predictor import predictor_for

    predictor = predictor_for(run, device, backend, precision, source=model, allow_code=allow_code,
                              progress=_PROGRESS)
    if predictor is not None:
        return predictor
    from headstart.estimator import HeadStart

    _compute()
    estimator = HeadStart.load(run, model, allow_code=allow_code, device=device, backend=backend, precision=precision)
    return estimator.set_params(progress=None if _PROGRESS else False)  # None: a bar beyond one batch


@app.command()
def export(
    run: Path = typer.Argument(..., help="run folder made by `headstart fit` or `headstart init`"),
    onnx: Optional[Path] = typer.Option(None, "--onnx", help="write an ONNX model to this file"),
    torchscript: Optional[Path] = typer.Option(None, "--torchscript", help="write a TorchScript model to this file"),
    model: Optional[str] = RUN_MODEL_OPTION,
    allow_code: bool = ALLOW_CODE_OPTION,
) -> None:
    """Export a run as a standalone model: input decoded uint8 RGB images [N, H, W, 3] of any size
    (decode files with headstart.load_image(path) to match predict; resized and normalised inside, as
    headstart does), output probabilities [N, C]; class names,
    resolution and preprocessing inside the file (ONNX metadata_props / TorchScript extra file)."""
    from headstart.estimator import HeadStart
    from headstart.export import export_onnx, export_torchscript

    if (onnx is None) == (torchscript is None):
        raise UserError("pass exactly one of --onnx FILE or --torchscript FILE")
    estimator = HeadStart.load(run, model, allow_code=allow_code)
    if onnx is not None:
        path = export_onnx(estimator, _output_file(onnx, "--onnx", [run]))
    else:
        path = export_torchscript(estimator, _output_file(torchscript, "--torchscript", [run]))
    typer.echo(f"wrote {path} (input uint8 [N, H, W, 3] of any size, resized to {estimator.resolution_} px inside; "
               f"output probabilities over {len(estimator.classes_)} classes)")


@app.command()
def evaluate(
    run: Path = typer.Argument(..., help="run folder made by `headstart fit` or `headstart init`"),
    data: Path = typer.Option(..., help="labelled images: a folder (one sub-folder per class; its test/ or val/ "
                                        "split when it has one) or a CSV of path,label"),
    include_training: bool = typer.Option(False, "--include-training", help=(
        "also score images whose content matches an image the run trained on (left out by default)")),
    as_json: bool = typer.Option(False, "--json", help="print the metrics as JSON"),
    out: Optional[Path] = typer.Option(None, help="also write evaluation.json, confusion.json/.png, reliability.png "
                                                  "and misclassified.html (with thumbnails) to this folder"),
    quiet: bool = QUIET_OPTION,
    device: str = DEVICE_OPTION,
    backend: str = BACKEND_OPTION,
    precision: str = PRECISION_OPTION,
    model: Optional[str] = RUN_MODEL_OPTION,
    allow_code: bool = ALLOW_CODE_OPTION,
) -> None:
    """Accuracy with its 95 % interval, per-class precision/recall/F1, most-confused pairs, confusion
    matrix, top-k accuracy, calibration (ECE) and the misclassified images of a run, on images it did
    not train on; on the CPU through ONNX Runtime without torch (see `headstart.Predictor`)."""
    from headstart.evaluate import evaluate_run, write_evaluation
    from headstart.extras import require
    from headstart.metrics import format_report
    from headstart.run_folder import load_meta

    _quiet(quiet)
    if out is not None:  # its files may join the run's (they are not run files), never replace one
        _output_folder(out, [data, *(run.iterdir() if run.is_dir() else ())])
        if out.exists() and not out.is_dir():  # before the work, not after it
            raise UserError(f"--out {out} is a file: pass a folder for the evaluation files")
        require("matplotlib", "evaluate's plots (--out)", "plots")
    result = evaluate_run(_predictor(run, device, backend, precision, model, allow_code), data, progress=_PROGRESS,
                          training=load_meta(run).training, include_training=include_training)
    if result["left_out"]:
        typer.echo(f"left out {result['left_out']} images whose content matches an image the run trained on "
                   "(--include-training scores them too)", err=True)
    if out is not None:
        write_evaluation(result, out)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    low, high = result["accuracy_interval"]
    parts = [f"accuracy {100 * result['accuracy']:.1f} % (95 % CI {100 * low:.1f}-{100 * high:.1f} %)"]
    parts += [f"top-{k} {100 * v:.1f} %" for k, v in result["top_k"].items() if k != "1"]
    typer.echo(f"{result['images']} images: {', '.join(parts)}, ECE {result['ece']:.3f}\n")
    shown = {visible(name): row for name, row in result["per_class"].items()}  # names as text, one line each
    typer.echo(format_report({**result, "per_class": shown}) + "\n")
    if result["most_confused"]:
        typer.echo("most confused (true -> predicted: images):")
        for pair in result["most_confused"]:
            typer.echo(visible(f"    {pair['true']} -> {pair['predicted']}: {pair['count']}"))
    if out is not None:
        typer.echo(f"wrote {out}")


@app.command("export-images")
def export_images(
    dataset: str = typer.Option("fashion-mnist", help="built-in dataset"),
    train_per_class: int = typer.Option(5, min=1, max=100_000, help="training images per class"),
    test_per_class: int = typer.Option(20, min=0, max=100_000, help="test images per class (0: none)"),
    seed: int = typer.Option(0, min=0, help="which images are drawn"),
    out: Path = typer.Option(..., help="new folder to write (train/<class>/, test/<class>/)"),
) -> None:
    """Write a built-in dataset's images as an image folder, e.g. to try fit and predict."""
    from headstart.data import load_dataset
    from headstart.data.export_images import export_folder

    counts = export_folder(load_dataset(dataset), out, train_per_class, test_per_class, seed)
    typer.echo(f"wrote {counts['train']} training images to {out}/train"
               + (f" and {counts['test']} test images to {out}/test" if counts["test"] else ""))


@app.command()
def bench(
    model: str = MODEL_OPTION,
    dataset: str = typer.Option("fashion-mnist", help="fashion-mnist, an image folder or a CSV of path,label"),
    methods: Optional[str] = typer.Option(None, help="comma-separated methods (default: the basic heads, wup and "
                                                    "headstart; see `headstart methods`)"),
    shots: Optional[str] = typer.Option(None, help="comma-separated shots per class, 0 = names only (default: "
                                                  "0,1,2,5,10,20)"),
    seeds: int = typer.Option(5, min=1, max=10_000, help="subsets per shot count"),
    seed_start: int = typer.Option(0, min=0, help="first seed (split a sweep across machines by seed ranges)"),
    resolution: Optional[int] = RESOLUTION_OPTION,
    test_size: Optional[int] = typer.Option(None, min=1, help="class-balanced test subset size (default: all)"),
    epochs: int = EPOCHS_OPTION,
    unlabelled: int = typer.Option(0, min=0, help="training images per seed also given without labels "
                                                   "(the default uses them)"),
    overrides: Optional[Path] = OVERRIDES_OPTION,
    out: Path = typer.Option(Path("bench-out"), help="output folder (resumes if it has results)"),
    device: str = DEVICE_OPTION,
    backend: str = BACKEND_OPTION,
    precision: str = PRECISION_OPTION,
) -> None:
    """Benchmark methods x shots x seeds: results.csv, summary.md, plots and report.html in OUT."""
    from headstart.lab.bench import BenchConfig

    _compute()
    given = {}  # what the command line leaves out, the lab's BenchConfig chooses
    if methods is not None:
        given["methods"] = _csv_list(methods)
    if shots is not None:
        given["shots"] = _int_list(shots, "--shots")
    config = BenchConfig(model=model, dataset=dataset, seeds=seeds, seed_start=seed_start,
                         resolution=resolution, test_size=test_size, epochs=epochs, unlabelled=unlabelled,
                         overrides=_overrides(overrides), out=str(out), device=device, backend=backend,
                         precision=precision, **given)
    typer.echo(f"report: {_bench_and_report(config)}")


def _bench_and_report(config) -> Path:
    """Run the bench, write the report, print the summary; -> report.html."""
    from headstart.lab.bench import run_bench
    from headstart.lab.report import write_report

    run_bench(config, progress=_PROGRESS, announce=_print_senses)
    path = write_report(Path(config.out))
    typer.echo((Path(config.out) / "summary.md").read_text())
    return path.resolve()


@app.command()
def demo(out: Path = typer.Option(Path("headstart-demo"), help="output folder"),
         device: str = DEVICE_OPTION, backend: str = BACKEND_OPTION) -> None:
    """The main job: the default bench on built-in data (Fashion-MNIST, EfficientNet-Lite0)."""
    from headstart.lab.bench import DEMO, BenchConfig

    _compute()
    typer.echo("headstart demo: " + ", ".join(f"{k}={v}" for k, v in DEMO.items()))
    start = time.perf_counter()
    path = _bench_and_report(BenchConfig(out=str(out), device=device, backend=backend, **DEMO))
    typer.echo(f"done in {time.perf_counter() - start:.0f} s; open the report: {path}")


@app.command()
def report(
    results_dir: Path = typer.Argument(..., help="folder to write the report into"),
    csv: Optional[List[Path]] = typer.Option(None, help="results CSVs to merge (default: RESULTS_DIR/results.csv)"),
) -> None:
    """(Re)build summary.md, plots and report.html from results CSVs (merges split sweeps)."""
    from headstart.lab.report import write_report

    if results_dir.exists() and not results_dir.is_dir():
        raise UserError(f"{results_dir} is a file: pass the folder to write the report into")
    path = write_report(results_dir, csv or None)
    typer.echo(f"report: {path}")


@app.command()
def suite(
    suite_file: Optional[Path] = typer.Argument(None, help="a suite file (JSON), e.g. benchmarks/suites/nine.json"),
    model: str = typer.Option(None, help="source model (default: the suite file's, else efficientnet-lite0)"),
    datasets: str = typer.Option(None, help="comma-separated datasets (fashion-mnist, image folders, CSVs) "
                                            "instead of a suite file"),
    methods: str = typer.Option(None, help="comma-separated methods (default: the file's, else every peer and "
                                           "headstart)"),
    shots: str = typer.Option(None, help="comma-separated shots per class (default: the file's, else 0,1,2,5,10,20)"),
    seeds: Optional[int] = typer.Option(None, min=1, max=10_000, help="seeds per dataset (default: the file's, "
                                                                         "else 10)"),
    resolution: Optional[int] = typer.Option(None, min=MIN_RESOLUTION, max=MAX_RESOLUTION,
                                             help="input size in pixels (default 224)"),
    test_size: Optional[int] = typer.Option(None, min=1, help="class-balanced test subset size (default: all)"),
    unlabelled: int = typer.Option(0, min=0, help="training images per seed also given without labels "
                                                   "(the default recentres on them)"),
    out: Path = typer.Option(Path("suite-out"), help="output folder (one bench folder per dataset; resumes)"),
    device: str = DEVICE_OPTION,
    backend: str = BACKEND_OPTION,
    precision: str = PRECISION_OPTION,
) -> None:
    """The multi-dataset suite: the default against every peer on each dataset, one report."""
    from headstart.lab.suite import adhoc_suite, load_suite, run_suite, suite_config

    if (suite_file is None) == (datasets is None):
        raise UserError("pass a suite file (e.g. benchmarks/suites/nine.json) or --datasets, not both")
    _compute()
    spec = load_suite(suite_file) if suite_file else adhoc_suite(_csv_list(datasets))
    overrides = {"model": model, "methods": methods and _csv_list(methods),
                 "shots": shots and _int_list(shots, "--shots"), "seeds": seeds, "resolution": resolution,
                 "test_size": test_size}
    spec.update({k: v for k, v in overrides.items() if v is not None})
    if seeds is not None:  # the command line's count holds for every dataset
        spec["datasets"] = [{"dataset": e["dataset"]} for e in spec["datasets"]]
    config = suite_config(spec, unlabelled=unlabelled, device=device, backend=backend, precision=precision,
                          out=str(out))
    path = run_suite(config, progress=_PROGRESS, announce=_print_senses)
    typer.echo((out / "summary.md").read_text())
    typer.echo(f"report: {path.resolve()}")


# Failures of the environment rather than of headstart: one line, no traceback.
_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EACCES, errno.EROFS, errno.EDQUOT, errno.ENAMETOOLONG,
                       errno.EISDIR, errno.ENOTDIR, errno.EPERM}


def _visible_warnings() -> None:
    """Warnings name files and classes from outside: print them with their control characters written out."""
    import warnings

    shown = warnings.formatwarning
    if not getattr(shown, "visible", False):
        warnings.formatwarning = lambda *args, **kwargs: terminal(shown(*args, **kwargs))
        warnings.formatwarning.visible = True


def main() -> None:
    """Entry point: user errors print one line and exit 2, without a traceback; so do a full disk,
    missing permissions and similar failures of the environment (exit 1). What it prints shows
    control characters of names and paths as escapes, never as terminal codes (`safe_text`)."""
    _visible_warnings()
    try:
        app()
    except UserError as error:
        typer.echo(f"error: {visible(error)}", err=True)
        sys.exit(2)
    except OSError as error:
        if error.errno not in _ENVIRONMENT_ERRNOS:
            raise
        where = f" {visible(error.filename)}" if error.filename else ""
        typer.echo(f"error: cannot write or read{where}: {error.strerror}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
