"""The tests' own layout: what test files share lives in `helpers.py`, `own_models.py` or conftest's
fixtures, so no test file imports another test file (nor conftest, which pytest loads itself).
Read with `ast`, code run in a subprocess from a string included."""

import ast

from helpers import TESTS


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
