"""`headstart.safe_text`: outside text shown as text in a terminal, in Markdown, in a spreadsheet."""

from __future__ import annotations

import pytest

from headstart.safe_text import markdown, markdown_code, spreadsheet_cell, terminal, visible


@pytest.mark.parametrize("text, shown", [("cat", "cat"), ("Ankle boot", "Ankle boot"), ("café", "café"),
                                         ("\x1b[31mred", "\\x1b[31mred"), ("a\nb\tc\rd", "a\\nb\\tc\\rd"),
                                         ("r\u202eev", "r\\u202eev"), ("bell\a\x7f", "bell\\x07\\x7f")])
def test_visible_writes_out_control_characters_only(text, shown):
    assert visible(text) == shown


def test_terminal_keeps_headstarts_own_line_breaks():
    assert terminal("one\x1b[2J\ntwo") == "one\\x1b[2J\ntwo"


@pytest.mark.parametrize("text, escaped", [
    ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
    ("a|b", "a\\|b"), ("two\nlines", "two\\\\nlines"), ("[x](javascript:alert(1))", "\\[x\\](javascript:alert(1))"),
    ("`code`", "\\`code\\`"), ("T-shirt/top", "T-shirt/top"), ("Tom & Jerry's", "Tom &amp; Jerry's")])
def test_markdown_escapes_markup_and_table_cells(text, escaped):
    assert markdown(text) == escaped


@pytest.mark.parametrize("text, span", [("efficientnet-lite0", "`efficientnet-lite0`"), ("a`b", "``a`b``"),
                                        ("`x", "`` `x ``"), ("<b>", "`<b>`")])
def test_markdown_code_spans_hold_any_backticks(text, span):
    assert markdown_code(text) == span


@pytest.mark.parametrize("text, cell", [("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"), ("+SUM(1+1)", "'+SUM(1+1)"),
                                        ("-", "'-"), ("@x", "'@x"), ("\tx", "'\tx"), ("\rx", "'\rx"),
                                        ("cat", "cat"), ("a=b", "a=b"), ("/data/=2+5.png", "/data/=2+5.png")])
def test_spreadsheet_cells_never_start_a_formula(text, cell):
    assert spreadsheet_cell(text) == cell
