"""Image folders: one sub-folder per class (folder name = class name), optional train/ and test/."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from headstart.data.dataset import Split, TargetData, stratified_split
from headstart.errors import UserError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}


def _is_readable_image(path: Path) -> bool:
    try:
        with Image.open(path) as image:
            image.verify()
        return True
    except Exception:  # PIL raises many types for broken files; all mean "skip it"
        return False


def _scan(folder: Path) -> tuple[list[Path], list[Path]]:
    """(readable images, other files) under `folder`, at any depth, sorted."""
    images, others = [], []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        readable = path.suffix.lower() in IMAGE_SUFFIXES and _is_readable_image(path)
        (images if readable else others).append(path)
    return images, others


def scan_classes(root: Path) -> tuple[list[str], list[Path], np.ndarray, list[Path]]:
    """-> (class names, image paths, labels, skipped files) for a folder of class sub-folders."""
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(class_dirs) < 2:
        raise UserError(f"{root} needs at least two class sub-folders (one per class), found {len(class_dirs)}")
    paths, labels, skipped = [], [], []
    for label, class_dir in enumerate(class_dirs):
        images, others = _scan(class_dir)
        paths += images
        labels += [label] * len(images)
        skipped += others
        if not images:
            raise UserError(f"class folder {class_dir} has no readable images: add images or remove the folder")
    return [d.name for d in class_dirs], paths, np.asarray(labels, dtype=np.int64), skipped


def load_images(paths: list[Path], indices=None) -> list[Image.Image]:
    """RGB images of paths[indices] (all when None)."""
    images = []
    for i in range(len(paths)) if indices is None else indices:
        with Image.open(paths[i]) as image:
            images.append(image.convert("RGB"))
    return images


def image_paths(root: str | Path) -> list[Path]:
    """Every readable image under `root`, in any layout (for unlabelled images)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise UserError(f"image folder {root} does not exist: pass a folder of images (any layout)")
    paths, _ = _scan(root)
    if not paths:
        raise UserError(f"{root} has no readable images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return paths


def _content_key(root: Path, paths: list[Path]) -> str:
    digest = hashlib.sha1()
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return f"folder-{root.name}-{digest.hexdigest()[:12]}"


def _split(name: str, paths: list[Path], labels: np.ndarray) -> Split:
    return Split(name, labels, lambda idx: load_images(paths, idx))


def load_image_folder(root: str | Path, test_fraction: float = 0.2, split_seed: int = 0) -> TargetData:
    """An image folder as a dataset. With train/ and test/ sub-folders they are the splits (same
    class names required); otherwise a seeded stratified split keeps `test_fraction` for testing."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise UserError(f"dataset folder {root} does not exist: pass a folder with one sub-folder per class")
    skipped: list[Path] = []
    if (root / "train").is_dir() and (root / "test").is_dir():
        names, train_paths, train_labels, skip_train = scan_classes(root / "train")
        test_names, test_paths, test_labels, skip_test = scan_classes(root / "test")
        if test_names != names:
            raise UserError(f"train/ and test/ in {root} must hold the same class folders: {names} vs {test_names}")
        skipped = skip_train + skip_test
        train, test = _split("train", train_paths, train_labels), _split("test", test_paths, test_labels)
        key = _content_key(root, train_paths + test_paths)
    else:
        names, paths, labels, skipped = scan_classes(root)
        train_idx, test_idx = stratified_split(labels, test_fraction, split_seed)
        train = _split("train", [paths[i] for i in train_idx], labels[train_idx])
        test = _split("test", [paths[i] for i in test_idx], labels[test_idx])
        key = f"{_content_key(root, paths)}-split{split_seed}-{test_fraction:g}"
    if skipped:
        shown = ", ".join(str(p.relative_to(root)) for p in skipped[:10])
        more = f" and {len(skipped) - 10} more" if len(skipped) > 10 else ""
        warnings.warn(f"skipped {len(skipped)} non-image or unreadable files: {shown}{more}", stacklevel=2)
    return TargetData(str(root), key, names, train, test)
