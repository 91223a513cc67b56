"""Image folders (one sub-folder per class, folder name = class name) and CSV lists of images.

Layouts read as a dataset:
    ROOT/train/<class>/...  with  ROOT/test/<class>/...  (or val/ or validation/ as the test split)
    ROOT/train/<class>/...  alone, or  ROOT/<class>/...   -> a seeded stratified split
    a CSV file with columns path,label[,split]  (paths relative to the CSV; split train/test)
Files that are not images, or that do not decode (a truncated JPEG, a 200-megapixel image), are
skipped with one warning line; which files decode is remembered in the cache per folder content.

A dataset's key (which names its feature cache files and its bench results) covers the bytes of
every image, not only names, sizes and modification times (`cp -p`, `rsync -t` and `tar x` keep
those while the pixels change), and which images each split holds in which order under which
labels (a CSV whose labels or split column changed is another dataset).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from headstart.cache import cache_root, keep
from headstart.data.dataset import Split, TargetData, stratified_split
from headstart.data.images import DECODE_VERSION, decodes, display_name, open_image
from headstart.errors import UserError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
TEST_SPLIT_NAMES = ("test", "val", "validation")


def _files(folder: Path) -> list[Path]:
    """Files below `folder`, none hidden or in a hidden folder (``.ipynb_checkpoints``, ``.git``)."""
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _relative(path: Path, root: Path) -> str:
    """`path` as seen from `root`; a CSV may list files outside its folder (``../x.png``, absolute)."""
    return os.path.relpath(path, root)


def file_digest(path: Path) -> str:
    """SHA-1 of the file's bytes (remembered in this process while its stat is unchanged: any write
    moves its ctime, which no user tool can set back)."""
    stat = path.stat()
    return _digest_of(str(path), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


@lru_cache(maxsize=None)
def _digest_of(path: str, *stat) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha1").hexdigest()


def _content_digest(root: Path, paths: list[Path], labels: Sequence[int] | None = None) -> str:
    """Digest of the files' names (relative to `root`) and bytes, in order, with their labels."""
    digest = hashlib.sha1(f"decode-v{DECODE_VERSION}\n".encode())
    for i, path in enumerate(paths):
        label = "" if labels is None else f"|{labels[i]}"
        digest.update(os.fsencode(_relative(path, root)) + f"|{file_digest(path)}{label}\n".encode())
    return digest.hexdigest()[:16]


def readable(root: Path, paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """(images that decode, other files) among `paths` (under `root`); the verdicts are cached by
    the files' names and bytes."""
    candidates = [p for p in paths if p.suffix.lower() in IMAGE_SUFFIXES]
    record = cache_root() / "scans" / f"{_content_digest(root, candidates)}.json"
    bad = None
    try:
        bad = set(json.loads(record.read_text(encoding="utf-8"))["unreadable"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if bad is None:
        bad = {_relative(p, root) for p in candidates if not decodes(p)}
        keep(record, lambda f: f.write(json.dumps({"unreadable": sorted(bad)}).encode()))
    good = [p for p in candidates if _relative(p, root) not in bad]
    kept = set(good)
    return good, [p for p in paths if p not in kept]


def scan_classes(root: Path, min_classes: int = 2) -> tuple[list[str], list[Path], np.ndarray, list[Path]]:
    """-> (class names, image paths, labels, skipped files) for a folder of class sub-folders (at
    least `min_classes`: a dataset needs two, an evaluation folder may hold one)."""
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(class_dirs) < min_classes:
        needed = "one class sub-folder" if min_classes == 1 else "two class sub-folders"
        raise UserError(f"{root} needs at least {needed} (one per class), found {len(class_dirs)}")
    members = [_files(d) for d in class_dirs]
    good, skipped = readable(root, [p for files in members for p in files])
    good = set(good)
    paths, labels = [], []
    for label, (class_dir, files) in enumerate(zip(class_dirs, members)):
        images = [p for p in files if p in good]
        if not images:
            raise UserError(f"class folder {class_dir} has no readable images: add images or remove the folder")
        paths += images
        labels += [label] * len(images)
    return [display_name(d.name) for d in class_dirs], paths, np.asarray(labels, dtype=np.int64), skipped


class ImageFiles:
    """Image files loaded on demand: `len()` and `load(indices)` -> RGB PIL images."""

    def __init__(self, paths: Sequence[Path]):
        self.paths = list(paths)

    def __len__(self) -> int:
        return len(self.paths)

    def load(self, indices=None) -> list[Image.Image]:
        return [open_image(self.paths[i]) for i in (range(len(self.paths)) if indices is None else indices)]


class UnlabelledImages(ImageFiles):
    """Every readable image under a folder, in any layout."""

    def __init__(self, root: str | Path):
        root = Path(root).expanduser()
        if not root.is_dir():
            raise UserError(f"image folder {root} does not exist: pass a folder of images (any layout)")
        paths, _ = readable(root, _files(root))
        if not paths:
            raise UserError(f"{root} has no readable images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        super().__init__(paths)


def _split(name: str, paths: list[Path], labels: np.ndarray) -> Split:
    files = ImageFiles(paths)
    return Split(name, labels, files.load, files.paths)


def warn_skipped(root: Path, skipped: list[Path]) -> None:
    """One warning naming (the first ten of) the files a scan skipped."""
    if skipped:
        shown = ", ".join(display_name(_relative(p, root)) for p in skipped[:10])
        more = f" and {len(skipped) - 10} more" if len(skipped) > 10 else ""
        warnings.warn(f"skipped {len(skipped)} non-image or unreadable files: {shown}{more}", stacklevel=3)


def _dataset(name: str, root: Path, class_names: list[str], train: tuple[list[Path], np.ndarray],
             test: tuple[list[Path], np.ndarray], tag: str = "", split_given: bool = True) -> TargetData:
    """The dataset of (paths, labels) per split, keyed by its class names and each split's files,
    bytes and labels in order (`tag`: how the split was made, for readers of the key)."""
    splits = "|".join(_content_digest(root, paths, labels) for paths, labels in (train, test))
    classes = hashlib.sha1(json.dumps(class_names).encode()).hexdigest()[:8]
    key = f"folder-{display_name(root.name)}-{hashlib.sha1(splits.encode()).hexdigest()[:16]}-c{classes}{tag}"
    return TargetData(name, key, class_names, _split("train", *train), _split("test", *test), split_given)


def load_image_folder(root: str | Path, test_fraction: float = 0.2, split_seed: int = 0) -> TargetData:
    """An image folder (or a CSV list of images) as a dataset; see the module docstring for layouts.
    A seeded stratified split keeps `test_fraction` of each class for testing when there is no
    test split."""
    root = Path(root).expanduser()
    if root.is_file() and root.suffix.lower() == ".csv":
        return load_image_csv(root, test_fraction, split_seed)
    if root.is_file():
        raise UserError(f"{root} is a file, not a dataset: pass a folder with one sub-folder per class, or a "
                        ".csv file with the columns path,label")
    if not root.is_dir():
        raise UserError(f"dataset folder {root} does not exist: pass a folder with one sub-folder per class "
                        "(or a CSV of path,label)")
    test_dirs = [root / n for n in TEST_SPLIT_NAMES if (root / n).is_dir()]
    if (root / "train").is_dir() and len(test_dirs) > 1:
        raise UserError(f"{root} has several test splits ({', '.join(d.name for d in test_dirs)}): keep one")
    if (root / "train").is_dir() and test_dirs:
        names, train_paths, train_labels, skip_train = scan_classes(root / "train")
        test_names, test_paths, test_labels, skip_test = scan_classes(test_dirs[0])
        if test_names != names:
            raise UserError(f"train/ and {test_dirs[0].name}/ in {root} must hold the same class folders: "
                            f"{names} vs {test_names}")
        warn_skipped(root, skip_train + skip_test)
        return _dataset(str(root), root, names, (train_paths, train_labels), (test_paths, test_labels))
    if test_dirs:
        raise UserError(f"{root} has a {test_dirs[0].name}/ folder but no train/ folder: add train/ "
                        "(one sub-folder per class)")
    classes_root = root / "train" if (root / "train").is_dir() else root
    names, paths, labels, skipped = scan_classes(classes_root)
    warn_skipped(root, skipped)
    return _split_dataset(root, names, paths, labels, test_fraction, split_seed)


def _split_dataset(root: Path, names: list[str], paths: list[Path], labels: np.ndarray,
                   test_fraction: float, split_seed: int, name: str | None = None, tag: str = "") -> TargetData:
    """A seeded stratified split of images under `root` (`name`: what the dataset is called)."""
    train_idx, test_idx = stratified_split(labels, test_fraction, split_seed)
    if len(test_idx) == 0:
        raise UserError(f"{name or root} has too few images to hold some out for testing: give each class at least 2")
    return _dataset(name or str(root), root, names, ([paths[i] for i in train_idx], labels[train_idx]),
                    ([paths[i] for i in test_idx], labels[test_idx]), f"{tag}-split{split_seed}-{test_fraction:g}",
                    split_given=False)


def load_image_csv(path: Path, test_fraction: float = 0.2, split_seed: int = 0) -> TargetData:
    """A CSV with a header `path,label[,split]`: image paths relative to the CSV's folder, class
    names as labels (classes in sorted order), split `train` or `test` (a seeded split without it)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except (UnicodeDecodeError, csv.Error) as error:
        raise UserError(f"{path} is not a UTF-8 CSV file ({error})") from None
    if not rows or not {"path", "label"} <= set(rows[0]):
        raise UserError(f"{path} needs a header line with the columns path,label (and optionally split)")
    base = path.parent
    splits = [(r.get("split") or "").strip().lower() for r in rows]
    if any(s not in ("", "train", "test") for s in splits) or (any(splits) and not all(splits)):
        raise UserError(f"{path}: the split column must be 'train' or 'test' on every row (or absent)")
    names = sorted({r["label"].strip() for r in rows})
    if len(names) < 2 or "" in names:
        raise UserError(f"{path} needs non-empty labels of at least two classes")
    files = [base / r["path"].strip() for r in rows]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise UserError(f"{path} lists {len(missing)} missing files, e.g. {missing[0]}: fix the paths "
                        "(relative to the CSV's folder)")
    good, skipped = readable(base, files)
    warn_skipped(base, skipped)
    ok = set(good)
    kept = [(f, names.index(r["label"].strip()), s) for f, r, s in zip(files, rows, splits) if f in ok]
    paths = [f for f, _, _ in kept]
    labels = np.asarray([label for _, label, _ in kept], dtype=np.int64)
    if not any(splits):
        return _split_dataset(base, names, paths, labels, test_fraction, split_seed, str(path), f"-csv-{path.name}")
    pick = lambda which: [i for i, (_, _, s) in enumerate(kept) if s == which]  # noqa: E731
    train, test = pick("train"), pick("test")
    for which, idx in (("train", train), ("test", test)):
        missing_classes = sorted(set(range(len(names))) - set(labels[idx].tolist()))
        if missing_classes:
            raise UserError(f"{path}: the {which} split has no readable image of "
                            f"{', '.join(names[c] for c in missing_classes)}")
    return _dataset(str(path), base, names, ([paths[i] for i in train], labels[train]),
                    ([paths[i] for i in test], labels[test]), f"-csv-{path.name}")
