"""The tests' own layout: what test files share lives in `helpers.py`, `own_models.py` or conftest's
fixtures, so no test file imports another test file (nor conftest, which pytest loads itself).
Read with `ast`, code run in a subprocess from a string included."""

import ast
from pathlib import Path

import pytest

from helpers import ROOT, TESTS


def names_of_test_files() -> set[str]:
    return {path.stem for path in TESTS.rglob("test_*.py")} | {"conftest"}


def imported_modules(source: str) -> set[str]:
    """Every module a piece of code imports, also in string constants that hold code (`python -c`)."""
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "import " in node.value:
            try:
                modules |= imported_modules(node.value)
            except SyntaxError:
                pass  # text, not code
    return modules


def imports_of_test_files(source: str) -> list[str]:
    return sorted(module for module in imported_modules(source) if set(module.split(".")) & names_of_test_files())



def test_no_test_file_imports_another():
    found = {str(path.relative_to(TESTS)): imports_of_test_files(path.read_text())
             for path in sorted(TESTS.rglob("*.py")) if path.name != "test_layout.py"}  # its planted case below
    assert {path: modules for path, modules in found.items() if modules} == {}


def test_an_import_of_a_test_file_is_found():
    planted = ("import os\nfrom test_finetune import tiny_source\nCODE = 'from conftest import x'\n"
               "import tests.test_cli\n")
    assert imports_of_test_files(planted) == ["conftest", "test_finetune", "tests.test_cli"]
    assert imports_of_test_files("from helpers import tiny_source\nfrom own_models import convnet\n") == []



def test_test_folders_mirror_the_packages():
    """tests/data/ holds the tests of headstart/data/, and so on: a folder of tests names a package."""
    folders = {path.parent.relative_to(TESTS) for path in TESTS.rglob("test_*.py")} - {Path(".")}
    assert sorted(str(f) for f in folders if not (ROOT / "headstart" / f / "__init__.py").is_file()) == []


PLANTED = """
import time

import pytest


def test_quick():
    pass


def test_sleepy():
    time.sleep(0.25)


@pytest.mark.slow
def test_slow_and_marked():
    time.sleep(0.25)
"""


@pytest.fixture
def planted(pytester, monkeypatch):
    """A project with the tests' conftest, a quick test, an unmarked 0.25 s one and a marked 0.25 s
    one; the fast lane's limit set to 0.1 s."""
    monkeypatch.setenv("HEADSTART_FAST_LIMIT_S", "0.1")
    pytester.makeconftest((TESTS / "conftest.py").read_text())
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\ntestpaths = ["tests"]\nmarkers = ["slow: slow"]\n')
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_planted.py").write_text(PLANTED)
    return pytester


def listed(result) -> list[str]:
    return [line.split()[-1] for line in result.stdout.lines if "s tests/" in line]


@pytest.mark.slow  # each runs a pytest session: about 1 s, 3 s on the busy 2-core machine
def test_a_slow_unmarked_test_fails_the_fast_lane(planted):
    result = planted.runpytest("-m", "not slow")
    result.assert_outcomes(passed=2, deselected=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "this fails the fast lane" in result.stdout.str()
    assert listed(result) == ["tests/test_planted.py::test_sleepy"]


@pytest.mark.slow
@pytest.mark.parametrize("args", [["-m", "not slow", "-k", "sleepy"], []], ids=["part of the fast lane", "everything"])
def test_other_runs_only_list_it_and_a_marked_test_is_not_listed(planted, args):
    result = planted.runpytest(*args)
    assert result.ret == pytest.ExitCode.OK
    assert "not checked: not the whole fast lane" in result.stdout.str()
    assert listed(result) == ["tests/test_planted.py::test_sleepy"]
