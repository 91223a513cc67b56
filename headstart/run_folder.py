"""A fitted classifier on disk — the run folder that `headstart fit`, `init` and `HeadStart.save`
write and `predict`, `export` and `HeadStart.load` read:

    run.json            what the run is, and the authority on it: model spec, weights key and digest,
                        resolution, normalisation, class names and labels (with the sense each name
                        was given), method, its options and record, metrics, training settings
                        (epochs, learning rate, seed, data), headstart and torch versions, and the
                        folder's files with the SHA-256 of each
    head.safetensors    weight [C, D], bias [C] (float32)
    backbone.safetensors  only when full fine-tuning changed the backbone
    report.md           a human-readable summary (fit)
    README.md           the model card (`headstart.card`), made from run.json

`fitted_run` makes the run of a fitted `HeadStart` (what `HeadStart.save` and `headstart fit` write)
and `fitted_attributes` turns one read back, with its model, into a fitted `HeadStart`'s (`HeadStart.load`).

A folder is written whole: into a temporary sibling, then renamed into place, so a killed write
leaves the previous run intact and no file of an earlier run (a stale backbone, the files of an
`evaluate --out RUN`, which described the old weights) survives; a folder holding files headstart
does not write is refused, never emptied. The folder and its files follow the umask, so a colleague
can read a shared run. Reading validates everything, and the recorded digests bind the files that
carry the model (run.json, the weights) to each other: a tampered or truncated run, or a head copied
(or linked) in from another run, is an error that says so, never a traceback or another run's
answers. The documentation (report.md, README.md) is for people: one edited, re-encoded or deleted
is a warning, the run still loads.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import os
import shutil
import tempfile
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from safetensors import SafetensorError

from headstart.cache import umask
from headstart.card import model_card
from headstart.defaults import HEAD_EPOCHS, LEARNING_RATE, MAX_RESOLUTION, MIN_RESOLUTION
from headstart.errors import InputError, UserError

if TYPE_CHECKING:  # torch is imported where tensors are read or written: `load_meta` runs without it
    import numpy as np
    import torch

FORMAT, VERSION = "headstart-run", 3
META_FILE, HEAD_FILE, BACKBONE_FILE, REPORT_FILE = "run.json", "head.safetensors", "backbone.safetensors", "report.md"
CARD_FILE = "README.md"
DOC_FILES = {REPORT_FILE, CARD_FILE}  # for people: not bound to the weights
# what `evaluate --out RUN` writes (headstart.evaluate.write_evaluation, headstart.report_page)
EVALUATION_FILES = {"evaluation.json", "confusion.json", "confusion.png", "reliability.png", "misclassified.html",
                    "thumbnails"}
RUN_FILES = {META_FILE, HEAD_FILE, BACKBONE_FILE, *DOC_FILES, *EVALUATION_FILES}  # every name a run folder may hold
OPTIONAL_KEYS = {"labels", "training", "versions", "model_digest", "resize"}


@dataclass
class RunMeta:
    """The contents of run.json (see the module docstring)."""

    model: str | None
    model_key: str
    resolution: int
    feature_dim: int
    mean: list[float]
    std: list[float]
    class_names: list[str]
    method: str
    options: dict = field(default_factory=dict)
    classes: list[dict] = field(default_factory=list)
    record: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    # Added after version 2 was released, so optional: runs written before them still load.
    labels: list | None = None
    training: dict = field(default_factory=dict)  # epochs, learning_rate, seed, data
    versions: dict = field(default_factory=dict)  # headstart, torch
    # the source model's weights digest (SourceModel.weights_digest): a run loads with the model
    # wherever it was moved when the digest matches
    model_digest: str | None = None
    # how images were resized and cropped (`headstart.pixels.Resize.record`); None: headstart's
    # default, the whole image stretched, bilinear (runs written before it was recorded)
    resize: dict | None = None

    def described_model(self) -> str:
        """The recorded model as messages name it: its spec (or weights key) and the weights digest
        (or, in runs written before digests, the key) that identifies it."""
        identity = f"weights digest {self.model_digest}" if self.model_digest else f"weights key {self.model_key}"
        return f"{self.model or self.model_key} ({identity})"


@dataclass
class Run:
    meta: RunMeta
    weight: torch.Tensor
    bias: torch.Tensor
    backbone_state: dict | None = None


def fitted_run(fitted, metrics: dict | None = None, data: str | None = None, files: dict | None = None) -> Run:
    """The run of a fitted `headstart.HeadStart`: what run.json records, its head and fine-tuned
    backbone. data: where the training images came from (None: arrays in memory); files: which
    files it trained on and held out (`headstart.held_out.training_files`); metrics: None keeps
    the estimator's `metrics_` (a loaded run's, so that load -> save keeps them)."""
    import torch

    from headstart import __version__

    source = fitted.source_
    training = {"epochs": fitted.epochs, "learning_rate": fitted.learning_rate, "seed": fitted.random_state,
                "data": data, **getattr(fitted, "training_", {}), **({"files": files} if files is not None else {})}
    meta = RunMeta(model=source.spec, model_key=fitted.model_key_, model_digest=fitted.model_digest_,
                   resolution=fitted.resolution_,
                   feature_dim=source.feature_dim, mean=list(source.mean), std=list(source.std),
                   class_names=list(fitted.class_names_), labels=json_labels(fitted.classes_), method=fitted.method,
                   options=fitted.method_options_, classes=fitted.senses_, record=fitted.record_,
                   metrics=dict(getattr(fitted, "metrics_", {}) if metrics is None else metrics),
                   training=training, resize=source.resize.record(),
                   versions={"headstart": __version__, "torch": torch.__version__})
    return Run(meta, fitted.head_.weight.detach(), fitted.head_.bias.detach(), fitted.backbone_state_)


def json_labels(classes: np.ndarray) -> list:
    """classes_ as JSON values for run.json (numpy scalars become Python ones)."""
    import numpy as np

    values = [c.item() if isinstance(c, np.generic) else c for c in classes]
    if not all(isinstance(v, (str, int, float)) for v in values):
        raise InputError("only string or number labels can be saved in a run folder")
    return values


def save_run(folder: str | Path, run: Run, report: str | None = None) -> Path:
    """Write `run` as a complete run folder at `folder`, replacing an earlier run there (never a
    folder that is not a headstart run, nor one holding files headstart did not write). A full
    disk is an OSError (ENOSPC) with the earlier run intact."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--out {folder} is a file: pass a folder for the run")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / META_FILE).is_file():
        raise UserError(f"{folder} exists and is not a headstart run folder: pass a new or empty folder")
    if folder.is_dir():
        foreign = sorted(p.name for p in folder.iterdir() if p.name not in RUN_FILES)
        if foreign:
            raise UserError(f"{folder} holds files headstart did not write ({', '.join(foreign[:3])}"
                            f"{', ...' if len(foreign) > 3 else ''}): move them out or pass another --out")
    from safetensors.torch import save

    folder.parent.mkdir(parents=True, exist_ok=True)
    files = {HEAD_FILE: lambda: save({"weight": run.weight.float().contiguous(),
                                      "bias": run.bias.float().contiguous()})}
    if run.backbone_state is not None:
        files[BACKBONE_FILE] = lambda: save({k: v.contiguous() for k, v in run.backbone_state.items()})
    if report is not None:
        files[REPORT_FILE] = lambda: report.encode("utf-8")
    files[CARD_FILE] = lambda: model_card(run.meta).encode("utf-8")
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".headstart-run-"))
    try:
        os.chmod(staging, 0o777 & ~umask())
        digests = {}
        for name, content in files.items():
            data = content()
            (staging / name).write_bytes(data)  # plain file I/O: a full disk is an OSError, not a SafetensorError
            digests[name] = hashlib.sha256(data).hexdigest()
        meta = {"format": FORMAT, "version": VERSION, **asdict(run.meta), "files": sorted(files),
                "digests": digests}
        (staging / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=True), encoding="utf-8")
        _swap_in(staging, folder)
    except OSError as error:  # e.g. a full disk: name the run, not the staging file (which is gone)
        shutil.rmtree(staging, ignore_errors=True)
        raise OSError(error.errno, error.strerror, str(folder)) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def _swap_in(staging: Path, folder: Path) -> None:
    """Rename the finished `staging` folder to `folder`, moving an earlier run aside first."""
    old = None
    if folder.exists():
        old = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".headstart-old-"))
        folder.rename(old / "run")
    try:
        staging.rename(folder)
    except BaseException:
        if old is not None:
            (old / "run").rename(folder)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def load_run(folder: str | Path) -> Run:
    """The run in `folder`, validated; UserError naming what is wrong (and the fix) otherwise."""
    folder = Path(folder)
    meta, digests = _meta_of_complete_folder(folder)
    weight, bias = _read_head(folder / HEAD_FILE, meta)
    backbone = _read_tensors(folder / BACKBONE_FILE) if BACKBONE_FILE in meta.files else None
    _check_digests(folder, meta, digests)  # after the checks above, whose messages say more about a damaged file
    return Run(meta, weight, bias, backbone)


def fitted_attributes(run: Run, given, source, folder: str | Path) -> tuple[dict, dict]:
    """(the constructor parameters, the fitted attributes but the head) of the `HeadStart` that
    `run` (read from `folder`) holds, with `source` its model as loaded (a
    `headstart.sources.model.SourceModel`; `given` as the caller named it); UserError when the
    model is not the run's."""
    import numpy as np

    from headstart.pixels import Resize

    meta = run.meta
    # runs that record the digest load with the same weights under any name or path; older ones
    # with the model of the same name too
    same = source.weights_digest == meta.model_digest if meta.model_digest else source.weights_key == meta.model_key
    if not same or source.feature_dim != meta.feature_dim:
        raise UserError(f"{folder} was made with model {meta.described_model()}, {meta.feature_dim} features, not "
                        f"{source.spec or source.name} (weights digest {source.weights_digest}, "
                        f"{source.feature_dim} features): load it with that model")
    if not (_close(source.mean, meta.mean) and _close(source.std, meta.std)):
        # the head was fitted on features of the recorded normalisation: another shifts every prediction
        raise UserError(f"{folder} was made with normalisation mean {meta.mean}, std {meta.std} (0-255 scale), "
                        f"not mean {list(source.mean)}, std {list(source.std)}: pass a source with the "
                        "recorded one, e.g. SourceModel.from_module(..., mean=..., std=...)")
    digest = source.weights_digest  # the source model's own, before a fine-tuned backbone replaces it
    recorded_resize = Resize.from_record(meta.resize)
    if source.resize != recorded_resize:  # the head was fitted on features of the recorded resize
        source = copy.copy(source)  # the caller's model is left as it is
        source.resize = recorded_resize
    if run.backbone_state is not None:
        source = with_backbone(source, run.backbone_state, where=Path(folder))
    training = meta.training or {}
    parameters = dict(source=given, method=meta.method, resolution=meta.resolution,
                      epochs=training.get("epochs", HEAD_EPOCHS), random_state=training.get("seed", 0),
                      method_options=dict(meta.options), learning_rate=training.get("learning_rate", LEARNING_RATE),
                      class_weight=training.get("class_weight"), augment=training.get("augment", 0),
                      **_stopping_parameters(training))
    # runs written before labels were recorded predicted class indices: keep them
    classes = np.arange(len(meta.class_names)) if meta.labels is None else np.asarray(meta.labels)
    fitted = dict(source_=source, resolution_=meta.resolution, model_key_=meta.model_key, model_digest_=digest,
                  class_names_=list(meta.class_names), senses_=list(meta.classes), classes_=classes,
                  method_options_=dict(meta.options), record_=dict(meta.record), metrics_=dict(meta.metrics),
                  backbone_state_=run.backbone_state)
    return parameters, fitted


def with_backbone(source, state: dict, where: Path | None = None):
    """A copy of the `SourceModel` `source` whose backbone holds the fine-tuned `state` (of the run
    in `where`)."""
    backbone = copy.deepcopy(source.backbone)
    try:
        backbone.load_state_dict(state)
    except (RuntimeError, KeyError) as error:
        place = f"{where}: " if where else ""
        raise UserError(f"{place}the fine-tuned backbone does not fit {source.name} "
                        f"({str(error).splitlines()[0]}); fit the run again") from None
    return dataclasses.replace(source, backbone=backbone)


def _stopping_parameters(training: dict) -> dict:
    """The early-stopping constructor parameters from run.json's training record."""
    stop = training.get("early_stopping")
    if not stop:
        return {}
    return {"early_stopping": True, "validation_fraction": stop["validation_fraction"],
            "n_iter_no_change": stop["n_iter_no_change"]}


def _close(values, recorded) -> bool:
    return all(abs(a - b) <= 1e-6 * max(1.0, abs(b)) for a, b in zip(values, recorded))


def load_meta(folder: str | Path) -> RunMeta:
    """The run.json of the run in `folder`, validated, with every file it lists present and holding
    its recorded SHA-256 (the tensors are not read, and torch is not imported); UserError otherwise."""
    folder = Path(folder)
    meta, digests = _meta_of_complete_folder(folder)
    _check_digests(folder, meta, digests)
    return meta


def _meta_of_complete_folder(folder: Path) -> tuple[RunMeta, dict[str, str]]:
    meta_path = folder / META_FILE
    if not meta_path.is_file():
        raise UserError(f"{folder} is not a headstart run: expected {META_FILE} (made by `headstart fit` or "
                        "`headstart init`)")
    meta, digests = _read_meta(meta_path)
    model_files = [name for name in meta.files if name not in DOC_FILES]
    for name in model_files:
        if not (folder / name).is_file():
            raise UserError(f"{folder / name} is missing: the run folder is incomplete; fit it again")
    return meta, digests


def _check_digests(folder: Path, meta: RunMeta, digests: dict[str, str]) -> None:
    """The files that carry the model hold their recorded SHA-256 (else an error); the documents
    (README.md, report.md) edited, re-encoded or deleted give one warning."""
    for name in (name for name in meta.files if name not in DOC_FILES):
        if _sha256(folder / name) != digests.get(name):
            _check_readable(folder / name, meta)  # a truncated or misshapen file is damaged, not another run's
            raise UserError(f"{folder / name} does not belong to this run (its SHA-256 differs from the one "
                            f"{META_FILE} records: another run's file?): restore the run's own file or fit "
                            "the run again")
    changed = [name for name in sorted(DOC_FILES & set(meta.files))
               if not (folder / name).is_file() or _sha256(folder / name) != digests.get(name)]
    if changed:
        warnings.warn(f"{', '.join(changed)} in {folder} {'is' if len(changed) == 1 else 'are'} not as headstart "
                      "wrote it (edited, re-encoded or deleted); the model's files are intact and the run is "
                      f"used as {META_FILE} describes it", stacklevel=3)


def _damaged(path: Path, why: str) -> UserError:
    return UserError(f"{path} is damaged ({why}): fit the run again or restore the file")


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _read_meta(path: Path) -> tuple[RunMeta, dict[str, str]]:
    """(the run's metadata, file name -> SHA-256), validated."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _damaged(path, f"not valid JSON: {error}") from None
    except RecursionError:
        raise _damaged(path, "nested too deeply to be a run's metadata") from None
    if not isinstance(raw, dict):
        raise _damaged(path, "not a JSON object")
    if raw.get("format") != FORMAT or raw.get("version") != VERSION:
        raise _damaged(path, f"not a {FORMAT} version {VERSION} file; runs of older headstart versions must "
                             "be fitted again")
    names = {f.name for f in RunMeta.__dataclass_fields__.values()}
    missing = sorted(names - raw.keys() - OPTIONAL_KEYS)
    extra = sorted(raw.keys() - names - {"format", "version", "digests"})
    if missing or extra:
        raise _damaged(path, f"missing keys {missing}" if missing else f"unknown keys {extra}")
    meta = RunMeta(**{k: raw[k] for k in names & raw.keys()})
    checks = [
        (meta.model is None or isinstance(meta.model, str), "model must be a name or null"),
        (isinstance(meta.model_key, str), "model_key must be a string"),
        (meta.model_digest is None or isinstance(meta.model_digest, str), "model_digest must be a string"),
        (_is_int(meta.resolution) and MIN_RESOLUTION <= meta.resolution <= MAX_RESOLUTION,
         f"resolution must be an integer in {MIN_RESOLUTION}..{MAX_RESOLUTION}"),
        (_is_int(meta.feature_dim) and meta.feature_dim > 0, "feature_dim must be a positive integer"),
        (_floats(meta.mean, 3) and _floats(meta.std, 3) and min(meta.std) > 0, "mean and std need 3 numbers"),
        (isinstance(meta.class_names, list) and len(meta.class_names) >= 2
         and all(isinstance(n, str) for n in meta.class_names)
         and len(set(meta.class_names)) == len(meta.class_names), "class_names must be >= 2 distinct strings"),
        (isinstance(meta.method, str), "method must be a string"),
        (all(isinstance(v, dict) for v in (meta.options, meta.record, meta.metrics, meta.training, meta.versions)),
         "options, record, metrics, training and versions must be objects"),
        (isinstance(meta.classes, list) and len(meta.classes) in (0, len(meta.class_names or []))
         and all(isinstance(c, dict) for c in meta.classes), "classes must list one object per class"),
        (meta.labels is None or isinstance(meta.labels, list) and isinstance(meta.class_names, list)
         and len(meta.labels) == len(meta.class_names)
         and len(set(map(repr, meta.labels))) == len(meta.labels)
         and all(isinstance(v, (str, int, float)) for v in meta.labels),
         "labels must list one distinct label per class"),
        (not meta.classes or [c.get("name") for c in meta.classes] == meta.class_names,
         "classes and class_names must name the same classes in the same order"),
        (isinstance(meta.files, list) and HEAD_FILE in meta.files
         and set(meta.files) <= {HEAD_FILE, BACKBONE_FILE, REPORT_FILE, CARD_FILE}, f"files must list {HEAD_FILE}"),
    ]
    checks.append((meta.resize is None or _valid_resize(meta.resize),
                   "resize must give crop_pct (0.1..1), keep_aspect and interpolation (bilinear or bicubic)"))
    digests = raw.get("digests")
    checks.append((isinstance(digests, dict) and all(isinstance(d, str) for d in digests.values()),
                   "digests must map file names to SHA-256 digests"))
    for ok, why in checks:
        if not ok:
            raise _damaged(path, why)
    return meta, digests


def _valid_resize(record) -> bool:
    from headstart.pixels import Resize

    if not isinstance(record, dict) or set(record) != set(Resize().record()) or not _floats([record["crop_pct"]], 1):
        return False
    try:
        return Resize.from_record(record).record() == record
    except UserError:
        return False


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _floats(values, n: int) -> bool:
    return (isinstance(values, list) and len(values) == n
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values))


def _check_readable(path: Path, meta: RunMeta) -> None:
    """A safetensors file whose header can be read, and a head of the run's shape (read without
    torch); the errors `_read_tensors` and `_read_head` give otherwise."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as tensors:
            shapes = {name: tuple(tensors.get_slice(name).get_shape()) for name in tensors.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        raise _damaged(path, f"not a readable safetensors file: {error}") from None
    n_classes = len(meta.class_names)
    expected = {"weight": (n_classes, meta.feature_dim), "bias": (n_classes,)}
    if path.name == HEAD_FILE and shapes != expected:
        raise _damaged(path, f"tensors {shapes} do not fit {n_classes} classes of {meta.feature_dim} features "
                             f"(weight {expected['weight']}, bias {expected['bias']})")


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise _damaged(path, f"not a readable safetensors file: {error}") from None


def _read_head(path: Path, meta: RunMeta) -> tuple[torch.Tensor, torch.Tensor]:
    import torch

    tensors = _read_tensors(path)
    if set(tensors) != {"weight", "bias"}:
        raise _damaged(path, f"expected tensors 'weight' and 'bias', found {sorted(tensors)}")
    weight, bias = tensors["weight"], tensors["bias"]
    n_classes = len(meta.class_names)
    if not weight.is_floating_point() or not bias.is_floating_point():
        raise _damaged(path, f"weights must be floating point, found {weight.dtype} and {bias.dtype}")
    if tuple(weight.shape) != (n_classes, meta.feature_dim) or tuple(bias.shape) != (n_classes,):
        raise _damaged(path, f"weight {tuple(weight.shape)} and bias {tuple(bias.shape)} do not fit "
                             f"{n_classes} classes of {meta.feature_dim} features (weight ({n_classes}, "
                             f"{meta.feature_dim}), bias ({n_classes},))")
    if not (torch.isfinite(weight).all() and torch.isfinite(bias).all()):
        raise _damaged(path, "it holds NaN or infinite values")
    return weight.float(), bias.float()
