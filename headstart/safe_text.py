"""Text from outside headstart (class names, file names, a received run's fields) made safe for where
it is shown: a terminal, Markdown that may be rendered as HTML, a spreadsheet cell. Such text stays
text: it never moves the cursor, opens a tag or a link, adds a table row, or runs as a formula.
The one place for it (docs/threat-model.md)."""

from __future__ import annotations

import html
import re
import unicodedata

# Markdown that would turn text into markup: code spans, links and images, table cells (emphasis
# only restyles text, and escaping it would clutter names such as cougar_body).
_MARKDOWN = re.compile(r"([\\`\[\]|])")
# OWASP (CSV injection): a cell starting with one of these is read as a formula by spreadsheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def visible(text: str) -> str:
    """`text` with every control or format character (ESC, newline, tab, DEL, bidirectional
    overrides, ...) written as its Python escape (\\x1b, \\n, \\u202e): one line a terminal shows as it is."""
    return "".join(repr(c)[1:-1] if unicodedata.category(c)[0] == "C" else c for c in str(text))


def terminal(text: str) -> str:
    """`visible` for headstart's own multi-line output: its line breaks kept, every other control
    character written out."""
    return "\n".join(visible(line) for line in str(text).split("\n"))


def markdown(text: str) -> str:
    """`text` for Markdown prose or a table cell: one line, HTML characters as entities, and the
    characters of code spans, links and table cells (`|`) backslash-escaped."""
    return html.escape(_MARKDOWN.sub(r"\\\1", visible(text)), quote=False)


def markdown_code(text: str) -> str:
    """`text` as one Markdown code span (shown literally, whatever backticks it holds)."""
    text = visible(text)
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}" if text.startswith("`") or text.endswith("`") else f"{fence}{text}{fence}"


def spreadsheet_cell(text: str) -> str:
    """`text` for a CSV cell a spreadsheet may open: a leading = + - @ tab or carriage return gets a
    single quote before it (OWASP), so the cell is shown as text, never evaluated."""
    text = str(text)
    return "'" + text if text.startswith(_FORMULA_START) else text
