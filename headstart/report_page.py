"""The misclassified-images page of `headstart evaluate --out DIR` (fastai's top losses as a web
page): one card per wrongly classified image, largest loss first, with its thumbnail, true class,
predicted class and probability, and the top alternatives. Thumbnails are small JPEGs written under
DIR/thumbnails, so the page travels with the folder and never links to the user's originals; every
text is HTML-escaped (class names and file names come from the user's folders)."""

from __future__ import annotations

from html import escape
from pathlib import Path

from headstart.cache import atomic_write
from headstart.data.images import open_image

PAGE_FILE, THUMBNAIL_DIR = "misclassified.html", "thumbnails"
_THUMBNAIL_PX = 160  # longest side
_MAX_SHOWN = 500  # images on the page; the rest are counted

_STYLE = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
.grid{display:flex;flex-wrap:wrap;gap:12px}
.card{width:180px;border:1px solid #ccc;border-radius:6px;padding:8px;font-size:13px}
.card img{display:block;width:160px;height:160px;object-fit:contain;background:#eee;margin:0 auto 6px}
.true{color:#176b2c}.pred{color:#b00020}.name{color:#666;word-break:break-all;font-size:11px}
ol{margin:4px 0 0;padding-left:18px}"""


def thumbnail(image: Path, out: Path) -> None:
    """A small JPEG of `image` at `out` (longest side _THUMBNAIL_PX)."""
    picture = open_image(image)
    picture.thumbnail((_THUMBNAIL_PX, _THUMBNAIL_PX))
    atomic_write(out, lambda f: picture.save(f, "JPEG", quality=85))  # a planted link is replaced, not followed


def _card(row: dict, src: str) -> str:
    alternatives = "".join(f"<li>{escape(name)} {100 * p:.1f} %</li>" for name, p in row["top"])
    return (f'<div class="card"><img src="{escape(src)}" alt="{escape(Path(row["image"]).name)}">'
            f'<div>true: <b class="true">{escape(row["true"])}</b> ({100 * row["true_probability"]:.1f} %)</div>'
            f'<div>predicted: <b class="pred">{escape(row["predicted"])}</b> {100 * row["probability"]:.1f} %</div>'
            f'<div>loss {row["loss"]:.2f}; top classes:</div><ol>{alternatives}</ol>'
            f'<div class="name">{escape(_short(row["image"]))}</div></div>')


def _short(image: str) -> str:
    """The image's class folder and file name."""
    path = Path(image)
    return f"{path.parent.name}/{path.name}"


def write_page(result: dict, out: Path) -> list[Path]:
    """DIR/misclassified.html and its thumbnails from `evaluate`'s result (its "misclassified"
    rows, largest loss first); returns the files written."""
    rows = result["misclassified"][:_MAX_SHOWN]
    if rows:
        (out / THUMBNAIL_DIR).mkdir(parents=True, exist_ok=True)
    written, cards = [], []
    for k, row in enumerate(rows):
        name = f"{THUMBNAIL_DIR}/{k:05d}.jpg"
        thumbnail(Path(row["image"]), out / name)
        written.append(out / name)
        cards.append(_card(row, name))
    low, high = result["accuracy_interval"]
    more = len(result["misclassified"]) - len(rows)
    title = f"Misclassified images of {result['data']}"
    page = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{escape(title)}</title>",
            f"<style>{_STYLE}</style></head><body>", f"<h1>{escape(title)}</h1>",
            f"<p>{len(result['misclassified'])} of {result['n']} images wrong; accuracy "
            f"{100 * result['accuracy']:.1f} % (95 % CI {100 * low:.1f}–{100 * high:.1f} %). Largest loss "
            "(least probability on the true class) first.</p>",
            '<div class="grid">', *cards, "</div>",
            *([f"<p>{more} more not shown (see evaluation.json).</p>"] if more > 0 else []), "</body></html>"]
    page_file = out / PAGE_FILE
    text = ("\n".join(page) + "\n").encode("utf-8")
    atomic_write(page_file, lambda f: f.write(text))
    return [page_file, *written]
