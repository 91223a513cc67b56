"""`Predictor`: a fitted run's classifier on ONNX Runtime, without torch.

Images are decoded with PIL and resized and normalised in numpy (`headstart.pixels`, the arithmetic
of headstart's torch preprocessing); the backbone and head run as one ONNX model. That model is
exported with torch once per run and machine into the cache (`$HEADSTART_CACHE/onnx`), trusted only
after it reproduced the torch path's probabilities on a check batch, and found again by the SHA-256
of the run's run.json (which binds the run's files by their digests). A process that finds it
cached never imports torch: `headstart predict` then starts in a fraction of torch's import time.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from headstart.cache import cache_file_name, cache_root, keep
from headstart.errors import UserError
from headstart.onnx_session import ExportFailed, session
from headstart.pixels import Resize, prepare, to_uint8_hwc
from headstart.run_folder import META_FILE, load_meta

FORMAT = "headstart-predictor-onnx-1"  # bump when what is exported, or how it is prepared, changes
CHECK_TOLERANCE = 1e-4  # max |difference| of probabilities against the torch path on the check batch


class Predictor:
    """Probabilities of a run's classes for images, through ONNX Runtime on the CPU, without torch.

    Parameters
    ----------
    run : str or Path
        A run folder made by `headstart fit` / `init` / `HeadStart.save`.
    batch_size : int
        Images per network call.
    progress : bool
        A progress bar on stderr.
    source : str, optional
        Where the run's source model is now, when it moved (as `HeadStart.load`'s `source`): used
        only to export the network the first time, with torch.
    allow_code : bool
        As `HeadStart.load`'s: the run's model spec may be code to import and call, for that export.

    Attributes
    ----------
    class_names_ : list of str, classes_ : array [C], resolution_ : int
        As on the fitted `HeadStart` the run was saved from.

    Examples
    --------
    >>> predictor = Predictor("my-run")                      # doctest: +SKIP
    >>> predictor.predict_proba(["cat.jpg", "dog.png"])      # doctest: +SKIP  (float32 [2, C])
    """

    def __init__(self, run: str | Path, *, batch_size: int = 16, progress: bool = False, source: str | None = None,
                 allow_code: bool = False):
        self.folder = Path(run)
        meta = load_meta(self.folder)
        self.class_names_ = list(meta.class_names)
        self.classes_ = np.arange(len(meta.class_names)) if meta.labels is None else np.asarray(meta.labels)
        self.resolution_, self.mean, self.std = meta.resolution, tuple(meta.mean), tuple(meta.std)
        self.resize = Resize.from_record(meta.resize)
        self.batch_size, self.progress = batch_size, progress
        self._session = network_session(self.folder, self.resolution_, self.mean, self.std, source, allow_code,
                                        self.resize)

    def set_params(self, **params) -> "Predictor":
        """Change `batch_size` or `progress` (as on `HeadStart`, so `evaluate_run` takes either)."""
        unknown = sorted(set(params) - {"batch_size", "progress"})
        if unknown:
            raise UserError(f"a Predictor has no parameter {unknown[0]!r}: use batch_size or progress")
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def iter_proba(self, images: Sequence) -> Iterator[np.ndarray]:
        """Probabilities [C] (float32, summing to 1) of each image in order, as soon as its batch is
        computed. images: file paths, PIL images or uint8 arrays [H, W] / [H, W, 3], any sizes; or an
        `ImageFiles`-like object with `load(indices)` and `len()`."""
        from tqdm import tqdm  # not tqdm.auto: it imports asyncio, ~0.1 s of a cached predict

        with tqdm(total=len(images), desc="predict", unit="img", disable=not self.progress, leave=False) as bar:
            for start in range(0, len(images), self.batch_size):
                indices = range(start, min(start + self.batch_size, len(images)))
                arrays = [to_uint8_hwc(image) for image in _load(images, indices)]
                x = prepare(arrays, self.resolution_, self.mean, self.std, self.resize)
                yield from softmax(self._session.run(None, {"x": x})[0])
                bar.update(len(indices))

    def predict_proba(self, images: Sequence) -> np.ndarray:
        """Probabilities [N, C] (rows sum to 1, columns in `class_names_` order)."""
        rows = list(self.iter_proba(images))
        return np.stack(rows) if rows else np.zeros((0, len(self.class_names_)), dtype=np.float32)

    def predict(self, images: Sequence) -> np.ndarray:
        """Labels [N] (from `classes_`)."""
        return self.classes_[self.predict_proba(images).argmax(axis=1)]


def _load(images, indices: range) -> list:
    """The images at `indices` of `images`, file paths decoded."""
    if hasattr(images, "load"):  # ImageFiles: decoded on demand
        return images.load(indices)
    from headstart.data.images import open_image

    return [open_image(Path(images[i])) if isinstance(images[i], (str, os.PathLike)) else images[i] for i in indices]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Rows of logits [N, C] -> probabilities [N, C] float32."""
    shifted = np.exp(logits.astype(np.float64) - logits.max(axis=1, keepdims=True))
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)


def model_key(folder: Path) -> str:
    """What the cached network of the run in `folder` was made from: the SHA-256 of its run.json."""
    return f"{FORMAT}|{hashlib.sha256((folder / META_FILE).read_bytes()).hexdigest()}"


def model_path(key: str) -> Path:
    return cache_root() / "onnx" / cache_file_name(key, ".onnx")


def network_session(folder: Path, resolution: int, mean: Sequence[float], std: Sequence[float],
                    source: str | None = None, allow_code: bool = False, resize: Resize = Resize()):
    """The ONNX Runtime session of the run's backbone + head: the cached model, else exported now
    (with torch) and cached once it matches the torch path. ExportFailed when it cannot be exported
    or does not match."""
    key = model_key(folder)
    path, threads = model_path(key), os.cpu_count() or 1
    if path.is_file():
        try:
            return session(path.read_bytes(), key, threads)
        except (OSError, ExportFailed) as why:
            warnings.warn(f"cached ONNX model {path} is unusable ({why}); exporting it again", stacklevel=3)
    data, loaded = _export_and_check(folder, key, threads, resolution, mean, std, source, allow_code, resize)
    keep(path, lambda f: f.write(data))  # only what matched torch is kept
    return loaded


def _export_and_check(folder: Path, key: str, threads: int, resolution: int, mean: Sequence[float],
                      std: Sequence[float], source: str | None = None, allow_code: bool = False,
                      resize: Resize = Resize()):
    """(ONNX bytes, session) of the run's network, checked against `HeadStart.predict_proba` (the
    torch path) on images of odd sizes, larger and smaller than the resolution."""
    from headstart.estimator import HeadStart
    from headstart.export import network_onnx

    estimator = HeadStart.load(folder, source, allow_code=allow_code, device="cpu", backend="torch")
    try:
        data = network_onnx(estimator, key)
    except Exception as error:  # exporters raise many types; each means "this model does not export"
        raise ExportFailed((str(error).splitlines() or [type(error).__name__])[0][:160]) from None
    loaded = session(data, key, threads)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (resolution + 37, resolution - 11, 3), dtype=np.uint8),
              rng.integers(0, 256, (19, 45, 3), dtype=np.uint8)]
    expected = estimator.predict_proba(images)
    got = softmax(loaded.run(None, {"x": prepare(images, resolution, mean, std, resize)})[0])
    difference = float(np.abs(got - expected).max())
    if difference > CHECK_TOLERANCE:
        raise ExportFailed(f"it differs from torch by {difference:.2g} on a check batch")
    return data, loaded


def predictor_for(run: str | Path, device: str = "auto", backend: str = "auto", precision: str = "fp32",
                  **options) -> Predictor | None:
    """A `Predictor` when these options of `HeadStart.load` allow ONNX Runtime on the CPU in fp32
    (device auto without a visible NVIDIA GPU, or cpu; backend auto or onnx), else None (the caller
    takes the torch path); None with one warning when onnxruntime does not import or the run's
    network does not export."""
    device, backend, precision = (str(v or d).strip().lower() for v, d in
                                  ((device, "auto"), (backend, "auto"), (precision, "fp32")))
    if backend not in ("auto", "onnx") or precision != "fp32" or device not in ("auto", "cpu"):
        return None
    if device == "auto" and gpu_visible():
        return None
    try:
        return Predictor(run, **options)
    except ImportError as error:
        warnings.warn(f"onnxruntime is not usable ({error}); predicting with torch", stacklevel=2)
    except ExportFailed as why:
        warnings.warn(f"the ONNX export of {run} failed ({why}); predicting with torch", stacklevel=2)
    return None


def gpu_visible() -> bool:
    """Whether torch would see an NVIDIA GPU here, told without importing torch: the driver lists
    one and CUDA_VISIBLE_DEVICES does not hide them all."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", "unset").strip() in ("", "-1"):
        return False
    gpus = Path("/proc/driver/nvidia/gpus")
    return gpus.is_dir() and any(gpus.iterdir())
