"""Fault injection, third round (issue 29): files, images, caches and messages — the decoder exports
need, very large images, and the one-line errors and needless refusals around run folders,
evaluation folders and predict's CSVs."""

from __future__ import annotations

import struct
import subprocess
import sys
import unicodedata
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import headstart
from headstart import HeadStart
from headstart.data.folder import ImageFiles
from headstart.data.images import open_image, reduced
from headstart.pixels import to_rgb
from headstart.preprocessing import resize_batch
from helpers import ROOT, colour_images, tiny_source



def awkward_files(folder: Path) -> list[Path]:
    """An EXIF-rotated JPEG, a 16-bit PNG and a float TIFF: files that `Image.open(p).convert("RGB")`
    decodes otherwise than headstart."""
    rng = np.random.default_rng(0)
    photo = np.zeros((30, 60, 3), np.uint8)
    photo[:, :20, 0] = 250  # red on the left: rotated, it is on top
    photo[:, 20:] = rng.integers(0, 250, (30, 40, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    Image.fromarray(photo).save(folder / "rotated.jpg", exif=exif, quality=95)
    Image.fromarray((np.linspace(0, 60000, 40 * 40).reshape(40, 40)).astype(np.uint16)).save(folder / "deep.png")
    Image.fromarray(np.linspace(0, 1, 30 * 50, dtype=np.float32).reshape(30, 50), mode="F").save(folder / "float.tif")
    return [folder / "rotated.jpg", folder / "deep.png", folder / "float.tif"]


@pytest.mark.slow  # an ONNX export
def test_an_export_fed_load_image_gives_predicts_probabilities(tmp_path):
    import onnxruntime

    from headstart.export import export_onnx

    images, labels = colour_images(6)
    fitted = HeadStart(tiny_source(), "imprint", epochs=0).fit(images, labels, ["red", "green", "blue"])
    files = awkward_files(tmp_path)
    expected = fitted.predict_proba(ImageFiles(files))
    session = onnxruntime.InferenceSession(str(export_onnx(fitted, tmp_path / "m.onnx")))
    naive = []
    for path, want in zip(files, expected):
        image = headstart.load_image(path)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        (got,) = session.run(None, {"images": image[None]})
        assert np.abs(got[0] - want).max() < 1e-3, path.name
        (plain,) = session.run(None, {"images": np.asarray(Image.open(path).convert("RGB"))[None]})
        naive.append(np.abs(plain[0] - want).max())
    assert min(naive) > 1e-3  # the README's old advice gave other answers on each of them


def blank_png(path: Path, width: int, height: int) -> Path:
    """A gray-ramp PNG of any declared size, written row by row (never held whole in memory): a few
    hundred kB for 12000 x 12000 pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\0" + (bytes(range(256)) * (width // 256 + 1))[:width]
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit gray
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


PEAK = """
import resource, sys
from headstart.data.images import open_image, reduced
from headstart.preprocessing import resize_batch
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
x = resize_batch([open_image(sys.argv[1])], 224)
assert x.shape == (1, 3, 224, 224)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


@pytest.mark.slow
def test_a_huge_declared_png_is_decoded_reduced_in_little_memory(tmp_path):
    """12000 x 12000 gray (144 million pixels, under PIL's bomb limit): decoding and resizing it once
    took 3.4 GB more than the imports (float copies of the full image); now the decoded image itself."""
    path = blank_png(tmp_path / "huge.png", 12000, 12000)
    assert path.stat().st_size < 1_000_000
    result = subprocess.run([sys.executable, "-c", PEAK, str(path)], capture_output=True, text=True, timeout=300,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) < 400, f"{result.stdout.strip()} MB above the imports"


def test_images_that_are_not_large_decode_bit_identically(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "photo.png"
    Image.fromarray(rng.integers(0, 256, (300, 500, 3), dtype=np.uint8)).save(path)
    with Image.open(path) as image:
        assert reduced(image) is image  # under LARGE_PIXELS nothing changes
        full = resize_batch([to_rgb(image)], 64)
    assert torch.equal(resize_batch([open_image(path)], 64), full)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_a_reduced_decode_resizes_to_the_full_decodes_values_within_tolerance(tmp_path, suffix):
    """What the reduction does to a large photo, shown on a small one with small limits: box-averaged
    (PNG) or decoder-scaled (JPEG) to >= 4x the resolution, then the same antialiased resize."""
    y, x = np.mgrid[0:600, 0:800]
    photo = np.stack([(x * 0.3 + 40 * np.sin(y / 15)) % 256, (y * 0.4) % 256, (x + y) * 0.15 % 256], -1)
    path = tmp_path / f"photo{suffix}"
    Image.fromarray(photo.astype(np.uint8)).save(path, **({"quality": 95} if suffix == ".jpg" else {}))
    with Image.open(path) as image:
        full = resize_batch([to_rgb(image)], 64)
    with Image.open(path) as image:
        small = to_rgb(reduced(image, large_pixels=100_000, keep_side=256))
    assert 256 <= min(small.size) and max(small.size) < 800
    diff = (resize_batch([small], 64) - full).abs()
    assert diff.mean() < 1.0 and diff.max() < 12, (diff.mean(), diff.max())


# -- evaluate: the folders fit accepts, and fit's warning about skipped files ---------------------------

CLASSES = ["café", "green", "blue"]  # NFC, as the run records them


@pytest.fixture(scope="module")
def colour_run():
    images, labels = colour_images(6)
    return HeadStart(tiny_source(), "imprint", epochs=0).fit(images, labels, CLASSES)


def write_classes(folder: Path, names=CLASSES, per_class: int = 3) -> Path:
    """Images as colour_images draws them (class c mostly in channel c), under folders `names`."""
    rng = np.random.default_rng(3)
    for c, name in enumerate(names):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = rng.integers(0, 100, (16, 16, 3), dtype=np.uint8)
            image[..., CLASSES.index(unicodedata.normalize("NFC", name)) % 3] += 150
            Image.fromarray(image).save(folder / name / f"{i}.png")
    return folder


@pytest.mark.parametrize("layout", ["train+validation", "lone train", "one class", "NFD names"])
def test_evaluate_accepts_the_folders_fit_accepts(colour_run, tmp_path, layout):
    from headstart.evaluate import evaluate_run

    root = tmp_path / "data"
    if layout == "train+validation":
        write_classes(root / "train", per_class=2)
        write_classes(root / "validation")
    elif layout == "lone train":
        write_classes(root / "train")
    elif layout == "one class":
        write_classes(root, ["green"])
    else:  # what macOS file names give: é as e + combining accent
        write_classes(root, [unicodedata.normalize("NFD", n) for n in CLASSES])
        assert {p.name for p in root.iterdir()} != set(CLASSES)
    result = evaluate_run(colour_run, root)
    assert result["images"] == (3 if layout == "one class" else 9)
    assert set(result["per_class"]) <= set(CLASSES) and result["accuracy"] > 0.5


def test_evaluate_warns_about_the_files_it_skips_as_fit_does(colour_run, tmp_path):
    from headstart.evaluate import evaluate_run

    root = write_classes(tmp_path / "data")
    (root / "green" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a whole JPEG")
    with pytest.warns(UserWarning, match=r"skipped 1 non-image or unreadable files: green/broken.jpg"):
        result = evaluate_run(colour_run, root)
    assert result["images"] == 9


def test_the_confusion_plot_of_many_classes_stays_a_bounded_size(tmp_path):
    from headstart.evaluate import metrics, write_evaluation

    n = 120  # drawn 5000 px wide before (0.4 inch a class), 16200 px at 400 classes
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(n), size=4 * n)
    result = {"data": "many", **metrics(probabilities, rng.integers(0, n, 4 * n), [f"class {i}" for i in range(n)]),
              "misclassified": []}  # the page of misclassified images is not what this test looks at
    write_evaluation(result, tmp_path / "ev")
    with Image.open(tmp_path / "ev" / "confusion.png") as plot:
        assert max(plot.size) <= 1600, plot.size


# -- run folders: documentation is not the model; evaluate's files are headstart's ----------------------

@pytest.fixture
def saved_run(colour_run, tmp_path):
    return colour_run.save(tmp_path / "run", {"test_accuracy": 1.0}, "# report\n\nfitted on colours\n")


@pytest.mark.parametrize("edit", ["note appended to README.md", "README.md deleted", "report.md in CRLF"])
def test_edited_documentation_leaves_the_run_usable_with_one_warning(colour_run, saved_run, edit):
    if edit.startswith("note"):
        with open(saved_run / "README.md", "a") as f:
            f.write("\nMy note: trained on the March photos.\n")
    elif edit.startswith("README"):
        (saved_run / "README.md").unlink()
    else:
        (saved_run / "report.md").write_bytes((saved_run / "report.md").read_bytes().replace(b"\n", b"\r\n"))
    with pytest.warns(UserWarning, match=r"(README|report)\.md .*the model's files are intact") as caught:
        loaded = HeadStart.load(saved_run, source=colour_run.source_model())
    assert len(caught) == 1
    images, _ = colour_images(2)
    assert np.allclose(loaded.predict_proba(images), colour_run.predict_proba(images), atol=1e-6)


def test_an_edited_head_is_still_refused(colour_run, saved_run, colour_run_other):
    import shutil

    from headstart.errors import UserError

    shutil.copy(colour_run_other / "head.safetensors", saved_run / "head.safetensors")
    with pytest.raises(UserError, match="does not belong to this run"):
        HeadStart.load(saved_run, source=colour_run.source_model())


@pytest.fixture
def colour_run_other(tmp_path):
    images, labels = colour_images(6, seed=1)
    return HeadStart(tiny_source(), "imprint", epochs=0).fit(images, labels, CLASSES).save(tmp_path / "other")


def test_a_run_json_nested_too_deep_is_one_line(saved_run):
    from headstart.errors import UserError
    from headstart.run_folder import load_run

    (saved_run / "run.json").write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(UserError, match="run.json is damaged .*nested"):
        load_run(saved_run)


def test_a_refit_into_a_run_that_evaluate_wrote_into_is_allowed(colour_run, saved_run):
    from headstart.evaluate import evaluate_run, write_evaluation

    write_evaluation(evaluate_run(colour_run, write_classes(saved_run.parent / "data")), saved_run)
    colour_run.save(saved_run)  # refused before as "files headstart did not write"
    assert "README.md" in {p.name for p in saved_run.iterdir()}
    (saved_run / "notes.txt").write_text("the user's own")
    with pytest.raises(headstart.UserError, match="did not write .*notes.txt"):
        colour_run.save(saved_run)


# -- predict's CSV lists ----------------------------------------------------------------------------------

def listed(tmp_path: Path, text: bytes) -> list[Path]:
    from headstart.predictions import image_paths

    write_classes(tmp_path / "imgs", ["green"], per_class=2)
    (tmp_path / "list.csv").write_bytes(text)
    return image_paths([str(tmp_path / "list.csv")])


def test_a_predict_csv_with_a_byte_order_mark_is_read_as_fit_reads_it(tmp_path):
    assert listed(tmp_path, "path\nimgs/green/0.png\n".encode("utf-8-sig")) == [tmp_path / "imgs" / "green" / "0.png"]


def test_a_latin1_predict_csv_is_one_line_naming_the_encoding(tmp_path):
    with pytest.raises(headstart.UserError, match="not a UTF-8 CSV file.*save it as UTF-8"):
        listed(tmp_path, "path\nimgs/caf\xe9.png\n".encode("latin-1"))


def test_a_predict_csv_row_may_name_a_folder(tmp_path):
    green = tmp_path / "imgs" / "green"
    got = listed(tmp_path, b"path\nimgs/green\nimgs/green/1.png\n")
    assert got == [green / "0.png", green / "1.png", green / "1.png"]


def cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}", "HEADSTART_CACHE": str(cwd / "cache")}
    return subprocess.run([sys.executable, "-m", "headstart", "--quiet", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode in (1, 2) and "Traceback" not in result.stderr, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    return line


def test_evaluate_out_onto_a_file_is_refused_before_the_work(tmp_path):
    images, labels = colour_images(4)
    HeadStart("own_models:tiny_imagenet_source", "imprint", epochs=0).fit(images, labels, CLASSES).save(
        tmp_path / "run")
    write_classes(tmp_path / "data")
    (tmp_path / "taken.json").write_text("the user's file")
    line = one_line_error(cli("evaluate", "run", "--data", "data", "--out", "taken.json", cwd=tmp_path))
    assert "--out taken.json is a file" in line
    assert (tmp_path / "taken.json").read_text() == "the user's file"


def test_a_file_system_without_locks_is_one_line_for_bench(tmp_path, monkeypatch):
    """NFS without a lock daemon: flock fails with ENOLCK."""
    import errno
    import fcntl

    from headstart.lab.bench import lock_folder

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with pytest.raises(headstart.UserError, match=r"cannot lock .*\.bench\.lock \(No locks available.*local disk"):
        lock_folder(tmp_path)
