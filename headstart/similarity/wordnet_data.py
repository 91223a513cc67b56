"""WordNet 3.0 for NLTK from the Debian files, plus synset id helpers.

NLTK reads WordNet only from a directory on ``nltk.data.path``, refuses symlinks that lead
outside it and needs a ``lexnames`` file that Debian does not ship. So the Debian files are
copied once into ``<cache>/nltk_data/corpora/wordnet/`` and ``lexnames`` is generated there
from the table in the ``lexnames(5WN)`` man page (never hand-typed).

Synset ids come in two forms, both accepted everywhere: the ImageNet offset form
``n02769748`` and NLTK's name form ``bag.n.04``.
"""

from __future__ import annotations

import atexit
import functools
import gzip
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path

from headstart.cache import atomic_write, cache_root, warn_not_kept
from headstart.errors import UserError

DEBIAN_WORDNET_DIR = Path("/usr/share/wordnet")
LEXNAMES_MAN_PAGE = Path("/usr/share/man/man5/lexnames.5WN.gz")
INSTALL_HINT = "apt-get install wordnet-base wordnet-sense-index"

# What NLTK's WordNetCorpusReader opens (its _FILES, less the generated lexnames), plus the
# SemCor sense counts that the "semcor" information content is built from.
WORDNET_FILES = (
    "cntlist", "cntlist.rev", "index.sense",
    "index.adj", "index.adv", "index.noun", "index.verb",
    "data.adj", "data.adv", "data.noun", "data.verb",
    "adj.exc", "adv.exc", "noun.exc", "verb.exc",
)
_CATEGORY = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}
_OFFSET_ID = re.compile(r"^n(\d{8})$")
_NAME_ID = re.compile(r"^.+\.n\.\d+$")


def source_dir() -> Path:
    """The Debian WordNet directory; ``$HEADSTART_WORDNET_DIR`` overrides it (tests, other distros)."""
    return Path(os.environ.get("HEADSTART_WORDNET_DIR") or DEBIAN_WORDNET_DIR)


def parse_lexnames(man_page: str) -> list[tuple[int, str, int]]:
    """Lexicographer files ``(number, name, syntactic category)`` from the lexnames(5WN) troff text."""
    rows = []
    for line in man_page.splitlines():
        m = re.match(r"^(\d\d)\t(\w+)\.(\w+)\s*\t", line)
        if m and m.group(2) in _CATEGORY:
            rows.append((int(m.group(1)), f"{m.group(2)}.{m.group(3)}", _CATEGORY[m.group(2)]))
    return rows


def prepare_wordnet_dir(source: Path, target: Path, man_page: Path = LEXNAMES_MAN_PAGE) -> Path:
    """Copy the WordNet files from ``source`` into ``target`` (an NLTK corpus dir) and write ``lexnames``.

    Idempotent and safe beside concurrent callers: a file is copied only when missing or of another
    size, through a temporary file renamed into place. Returns ``target``.
    """
    missing = [name for name in WORDNET_FILES if not (source / name).is_file()]
    if missing:
        raise UserError(
            f"WordNet 3.0 files missing from {source}: {', '.join(missing)}. "
            f"Install them with `{INSTALL_HINT}` (or set HEADSTART_WORDNET_DIR to a WordNet dict dir)."
        )
    target.mkdir(parents=True, exist_ok=True)
    for name in WORDNET_FILES:
        src, dst = source / name, target / name
        if not dst.is_file() or dst.stat().st_size != src.stat().st_size:
            atomic_write(dst, lambda f: f.write(src.read_bytes()))
    if not (target / "lexnames").is_file():
        if not man_page.is_file():
            raise UserError(
                f"{man_page} (the lexnames table NLTK needs) is missing. Reinstall it with "
                f"`apt-get install --reinstall wordnet-base` (and allow man pages in dpkg's path-exclude)."
            )
        rows = parse_lexnames(gzip.decompress(man_page.read_bytes()).decode("utf-8", "replace"))
        if [r[0] for r in rows] != list(range(len(rows))) or len(rows) < 45:
            raise UserError(f"Could not read the lexnames table from {man_page}; reinstall `{INSTALL_HINT}`.")
        text = "".join(f"{num:02d}\t{name}\t{cat}\n" for num, name, cat in rows)
        atomic_write(target / "lexnames", lambda f: f.write(text.encode()))
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
