"""The house's structure: the product never depends on the lab (headstart.lab, the benchmarking side)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import headstart

PACKAGE = Path(headstart.__file__).parent


def lab_imports(tree: ast.AST) -> list[ast.stmt]:
    """Import statements in `tree` that name headstart.lab (``import headstart.lab...``,
    ``from headstart.lab... import``, ``from headstart import lab``)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(a.name.split(".")[:2] == ["headstart", "lab"] for a in node.names):
                found.append(node)
        elif isinstance(node, ast.ImportFrom) and node.module:
            module = node.module.split(".")
            names_lab = module == ["headstart"] and any(a.name == "lab" for a in node.names)
            if module[:2] == ["headstart", "lab"] or names_lab:
                found.append(node)
    return found


def test_lab_imports_are_found_in_every_spelling():
    tree = ast.parse("import headstart.lab.bench\nfrom headstart.lab.report import write_report\n"
                     "from headstart import lab\nimport headstart.labels\nfrom headstart import methods\n")
    assert [node.lineno for node in lab_imports(tree)] == [1, 2, 3]


def test_no_product_module_imports_the_lab():
    product = [p for p in PACKAGE.rglob("*.py") if "lab" not in p.relative_to(PACKAGE).parts[:1]]
    assert len(product) > 20  # the scan sees the package
    offenders = [f"{p.relative_to(PACKAGE)}:{node.lineno}" for p in product if p.name != "cli.py"
                 for node in lab_imports(ast.parse(p.read_text(encoding="utf-8")))]
    assert offenders == [], f"product modules import headstart.lab: {offenders}"


def test_the_cli_imports_the_lab_only_inside_its_commands():
    tree = ast.parse((PACKAGE / "cli.py").read_text(encoding="utf-8"))
    outside_functions = ast.Module([n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.ClassDef))],
                                   type_ignores=[])
    assert any(lab_imports(n) for n in tree.body)  # the lab commands are there, inside functions
    at_module_level = [node.lineno for node in lab_imports(outside_functions)]
    assert at_module_level == []


def test_importing_the_product_and_the_cli_loads_no_lab_module():
    code = ("import sys, headstart, headstart.cli; "
            "print(sorted(m for m in sys.modules if m.startswith('headstart.lab')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# The name side, lowest layer first: a package (or module) here imports none of its own layer or of a
# higher one; WordNet and the text model know nothing of senses, senses nothing of the families.
LAYERS = (("evidence", "text", "wordnet"), ("senses",), ("similarity",))


def upward_imports(package: str, tree: ast.AST) -> list[int]:
    """Lines of `tree` (code of `package`, one of LAYERS) importing a package of its own layer or a
    higher one, at any depth (inside functions and TYPE_CHECKING blocks too)."""
    level = {name: i for i, names in enumerate(LAYERS) for name in names}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        named = {m.split(".")[1] for m in modules if m.startswith("headstart.")}
        if any(other in level and other != package and level[other] >= level[package] for other in named):
            found.append(node.lineno)
    return sorted(found)


def layer_files(name: str) -> list[Path]:
    return sorted((PACKAGE / name).rglob("*.py")) if (PACKAGE / name).is_dir() else [PACKAGE / f"{name}.py"]


def test_upward_imports_are_found_in_every_spelling():
    tree = ast.parse("from headstart.similarity import FAMILIES\nimport headstart.similarity.families\n"
                     "from headstart import similarity\ndef f():\n    from headstart.text import embed\n"
                     "from headstart.wordnet import MEASURES\nfrom headstart.senses.rows import class_rows\n"
                     "from headstart import transfer\n")
    assert upward_imports("senses", tree) == [1, 2, 3]
    assert upward_imports("wordnet", tree) == [1, 2, 3, 5, 7]


def test_the_name_side_imports_only_lower_layers():
    scanned, offenders = 0, []
    for name in (name for names in LAYERS for name in names):
        for path in layer_files(name):
            scanned += 1
            offenders += [f"{path.relative_to(PACKAGE)}:{line}"
                          for line in upward_imports(name, ast.parse(path.read_text(encoding="utf-8")))]
    assert scanned > 15  # the scan sees the packages
    assert offenders == [], f"imports of the same or a higher layer: {offenders}"


def test_the_name_side_packages_hand_names_on_only():
    """Their __init__.py holds imports and __all__, no logic, and __all__ names what it imports."""
    for name in ("senses", "similarity", "text", "wordnet"):
        tree = ast.parse((PACKAGE / name / "__init__.py").read_text(encoding="utf-8"))
        body = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
        assert all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in body[:-1]), name
        assert isinstance(body[-1], ast.Assign) and body[-1].targets[0].id == "__all__", name
        module = __import__(f"headstart.{name}", fromlist=["__all__"])
        assert module.__all__ and all(hasattr(module, public) for public in module.__all__), name


def test_the_lab_method_lists_are_registered_methods():
    from headstart.lab.bench import DEMO, BenchConfig
    from headstart.lab.peers import DEFAULT_METHOD, PEERS
    from headstart.lab.report import PEERS as REPORT_PEERS
    from headstart.lab.suite import SUITE_DEFAULTS
    from headstart.methods import METHODS

    assert REPORT_PEERS == PEERS and set(PEERS) <= set(METHODS) and DEFAULT_METHOD not in PEERS
    for methods in (BenchConfig().methods, DEMO["methods"], SUITE_DEFAULTS["methods"]):
        assert set(methods) <= set(METHODS) and methods[-1] == DEFAULT_METHOD


def test_the_lab_peer_lists_are_data_not_read_from_the_registry():
    """A method added to the registry must join no demo, bench or suite grid by itself."""
    tree = ast.parse((PACKAGE / "lab" / "peers.py").read_text(encoding="utf-8"))
    imported = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                and not (isinstance(n, ast.ImportFrom) and n.module in ("__future__", "headstart.defaults"))]
    assert imported == []  # the default method's name comes from headstart.defaults, which imports nothing


def test_the_registry_keeps_its_order():
    """`headstart methods` and every grid made from the registry list the methods in this order; a
    module imported in another order by `headstart.methods` would change it."""
    from headstart.methods import METHODS

    assert tuple(METHODS)[:13] == ("random", "zero", "logreg", "imprint", "path", "wup", "lch", "res", "jcn",
                                   "lin", "text", "visual", "headstart")


def keyword_calls(name: str, keyword: str) -> list[str]:
    """'file:line' of every call to a function or method `name` with `keyword` among its arguments,
    in the product (the package without the lab)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and any(k.arg == keyword for k in node.keywords):
                called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
                if called == name:
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    return found


def test_the_resize_and_the_backbone_input_each_have_one_home():
    """Features, fine-tuning and exports must see the same input: the antialiased resize lives in
    preprocessing.py, and only the one backbone + head module (classifier.py) lays out the
    backbone's input (the layout was written in three modules)."""
    resizes = keyword_calls("interpolate", "antialias")
    layouts = keyword_calls("contiguous", "memory_format")
    assert resizes and all(place.startswith("preprocessing.py:") for place in resizes), resizes
    assert layouts and all(place.startswith("classifier.py:") for place in layouts), layouts
