"""The measurement records stay findable: docs/results/README.md indexes every page and run folder,
benchmarks/README.md every script and suite file, and no relative link of the docs points nowhere."""

from __future__ import annotations

import re

from helpers import ROOT

RESULTS = ROOT / "docs" / "results"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_every_result_page_and_folder_is_in_the_index():
    index = (RESULTS / "README.md").read_text(encoding="utf-8")
    for folder in (RESULTS, RESULTS / "archive"):
        for path in folder.iterdir():
            if path.name in ("README.md", "archive") or path.suffix not in (".md", ".csv", ""):
                continue
            named = str(path.relative_to(RESULTS)) + ("/" if path.is_dir() else "")
            # named whole: names.md must not be found inside archive/useless-names.md
            assert re.search(rf"(?<![\w./-]){re.escape(named)}", index), \
                f"docs/results/README.md does not name {named}"


def test_every_benchmark_script_and_suite_file_is_in_its_index():
    index = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    for path in sorted((ROOT / "benchmarks").rglob("*")):
        if path.is_file() and path.suffix in (".py", ".sh", ".json"):
            # named whole, in backticks: a bare `names.py` must not be found inside `archive/useless_names.py`
            assert f"`{path.relative_to(ROOT / 'benchmarks')}`" in index or f"`{path.name}`" in index, \
                f"benchmarks/README.md does not name {path.relative_to(ROOT)}"


def test_relative_links_of_the_docs_resolve():
    pages = [ROOT / "README.md", ROOT / "benchmarks" / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    broken = [f"{page.relative_to(ROOT)} -> {target}" for page in pages
              for target in LINK.findall(page.read_text(encoding="utf-8"))
              if "://" not in target and not target.startswith("mailto:") and not (page.parent / target).exists()]
    assert broken == []
