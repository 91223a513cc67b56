"""WordNet 3.0 for NLTK from the Debian files, plus synset id helpers.

The WordNet files come from Debian's ``/usr/share/wordnet`` or, where that is missing, from an
``nltk_data/corpora/wordnet`` folder (``$NLTK_DATA``, ``~/nltk_data``, ``/usr/share/nltk_data``,
``/usr/local/share/nltk_data``). They are copied once into ``<cache>/nltk_data/corpora/wordnet/``,
the layout NLTK reads (the tests and benchmarks compare with NLTK; the product reads the files
itself and never imports it). ``lexnames``, which Debian does not ship, is written there from
``LEXNAMES``, the 45-row table of the ``lexnames(5WN)`` man page (slim images drop man pages);
``cntlist``, which NLTK's folder lacks, is derived from its ``cntlist.rev``.

Synset ids come in two forms, both accepted everywhere: the ImageNet offset form
``n02769748`` and NLTK's name form ``bag.n.04``.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path

from headstart.cache import atomic_write, cache_root, warn_not_kept
from headstart.errors import UserError

DEBIAN_WORDNET_DIR = Path("/usr/share/wordnet")
INSTALL_HINT = "apt-get install wordnet-base wordnet-sense-index"
NLTK_HINT = "python -m nltk.downloader wordnet"  # where a network is available: unzips into ~/nltk_data

NLTK_DATA_DIRS = (Path.home() / "nltk_data", Path("/usr/share/nltk_data"), Path("/usr/local/share/nltk_data"))

# What NLTK's WordNetCorpusReader opens (its _FILES, less lexnames), plus the SemCor sense counts
# that the "semcor" information content is built from (cntlist, or the same rows in cntlist.rev).
WORDNET_FILES = (
    "cntlist.rev", "index.sense",
    "index.adj", "index.adv", "index.noun", "index.verb",
    "data.adj", "data.adv", "data.noun", "data.verb",
    "adj.exc", "adv.exc", "noun.exc", "verb.exc",
)
# The lexicographer files of WordNet 3.0 in number order (lexnames(5WN)); a test checks it
# against the man page where the page is installed.
LEXNAMES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact", "noun.attribute",
    "noun.body", "noun.cognition", "noun.communication", "noun.event", "noun.feeling", "noun.food", "noun.group",
    "noun.location", "noun.motive", "noun.object", "noun.person", "noun.phenomenon", "noun.plant",
    "noun.possession", "noun.process", "noun.quantity", "noun.relation", "noun.shape", "noun.state",
    "noun.substance", "noun.time", "verb.body", "verb.change", "verb.cognition", "verb.communication",
    "verb.competition", "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather", "adj.ppl",
)
_CATEGORY = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}
_OFFSET_ID = re.compile(r"^n(\d{8})$")
_NAME_ID = re.compile(r"^.+\.n\.\d+$")


def source_dir() -> Path:
    """Where the WordNet files are: ``$HEADSTART_WORDNET_DIR`` (tests, other distros), else the
    Debian directory, else the first ``nltk_data/corpora/wordnet`` folder that has them (else the
    Debian directory, whose absence the error names)."""
    if os.environ.get("HEADSTART_WORDNET_DIR"):
        return Path(os.environ["HEADSTART_WORDNET_DIR"])
    roots = [Path(p) for p in os.environ.get("NLTK_DATA", "").split(os.pathsep) if p] + list(NLTK_DATA_DIRS)
    for folder in [DEBIAN_WORDNET_DIR] + [root / "corpora" / "wordnet" for root in roots]:
        if (folder / "data.noun").is_file():
            return folder
    return DEBIAN_WORDNET_DIR


def lexnames_text() -> str:
    """The ``lexnames`` file NLTK reads: number, name, syntactic category per row."""
    return "".join(f"{num:02d}\t{name}\t{_CATEGORY[name.split('.')[0]]}\n" for num, name in enumerate(LEXNAMES))


def cntlist_from_rev(rev: str) -> str:
    """``cntlist`` rows (count, sense key, sense number; most frequent first) from ``cntlist.rev``
    rows (sense key, sense number, count)."""
    rows = [line.split() for line in rev.splitlines() if line.strip()]
    rows.sort(key=lambda row: -int(row[2]))
    return "".join(f"{count} {key} {number}\n" for key, number, count in rows)


def prepare_wordnet_dir(source: Path, target: Path) -> Path:
    """Copy the WordNet files from ``source`` into ``target`` (an NLTK corpus dir) and write
    ``lexnames`` (and ``cntlist`` when ``source`` has only ``cntlist.rev``).

    Idempotent and safe beside concurrent callers: a file is copied only when missing or of another
    size, through a temporary file renamed into place. Returns ``target``.
    """
    missing = [name for name in WORDNET_FILES if not (source / name).is_file()]
    if missing:
        raise UserError(
            f"WordNet 3.0 files missing from {source}: {', '.join(missing)}. Install them with "
            f"`{INSTALL_HINT}` (Debian/Ubuntu), or where a network is available `{NLTK_HINT}` (read from "
            f"nltk_data/corpora/wordnet under $NLTK_DATA, ~/nltk_data, /usr/share/nltk_data or "
            f"/usr/local/share/nltk_data), or set HEADSTART_WORDNET_DIR to a WordNet dict folder; the methods "
            f"imprint, logreg, zero, random and visual need no WordNet."
        )
    target.mkdir(parents=True, exist_ok=True)
    for name in WORDNET_FILES:
        src, dst = source / name, target / name
        if not dst.is_file() or dst.stat().st_size != src.stat().st_size:
            atomic_write(dst, lambda f: f.write(src.read_bytes()))
    cntlist = target / "cntlist"
    if (source / "cntlist").is_file():
        if not cntlist.is_file() or cntlist.stat().st_size != (source / "cntlist").stat().st_size:
            atomic_write(cntlist, lambda f: f.write((source / "cntlist").read_bytes()))
    elif not cntlist.is_file():
        text = cntlist_from_rev((source / "cntlist.rev").read_text(encoding="utf-8"))
        atomic_write(cntlist, lambda f: f.write(text.encode()))
    if not (target / "lexnames").is_file():
        atomic_write(target / "lexnames", lambda f: f.write(lexnames_text().encode()))
    return target


def corpus_dir() -> Path:
    """The prepared NLTK corpus dir ``<cache>/nltk_data/corpora/wordnet`` (made on first call); a
    temporary one, with one warning, when the cache cannot be written."""
    target = cache_root() / "nltk_data" / "corpora" / "wordnet"
    try:
        return prepare_wordnet_dir(source_dir(), target)
    except OSError as error:
        warn_not_kept(target, error)
        return prepare_wordnet_dir(source_dir(), _scratch() / "nltk_data" / "corpora" / "wordnet")


@functools.lru_cache(maxsize=1)
def _scratch() -> Path:
    """A folder for this process only (removed at exit)."""
    folder = Path(tempfile.mkdtemp(prefix="headstart-wordnet-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


@functools.lru_cache(maxsize=None)
def wordnet():
    """The NLTK ``WordNetCorpusReader`` over WordNet 3.0, prepared on first use and cached."""
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    root = corpus_dir()
    data_root = root.parent.parent
    if str(data_root) not in nltk.data.path:
        nltk.data.path.append(str(data_root))  # so nltk.corpus.wordnet works for other code too
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available": we need none
        return WordNetCorpusReader(str(root), None)


def is_synset_id(text: str) -> bool:
    """Whether ``text`` looks like a noun synset id (``n02769748`` or ``bag.n.04``)."""
    return bool(_OFFSET_ID.match(text) or _NAME_ID.match(text))


def synset(synset_id: str):
    """The NLTK noun synset for ``n02769748`` or ``bag.n.04``; UserError if there is none."""
    wn = wordnet()
    text = synset_id.strip()
    try:
        m = _OFFSET_ID.match(text)
        found = wn.synset_from_pos_and_offset("n", int(m.group(1))) if m else wn.synset(text)
    except Exception:  # nltk raises WordNetError / ValueError / AttributeError by case
        found = None
    if found is None or found.pos() != "n":
        raise UserError(
            f"{synset_id!r} is not a WordNet 3.0 noun synset; use an id like 'n02769748' or 'bag.n.04'."
        )
    return found


def synset_id(s) -> str:
    """Offset form ``n02769748`` of an NLTK noun synset."""
    return f"n{s.offset():08d}"
