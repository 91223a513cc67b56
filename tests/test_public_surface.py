"""The public surface is each public module's `__all__`, and the README's "Lower-level pieces" list
names exactly those modules and names: a name added to (or dropped from) an `__all__` without the
README, or the other way round, fails here. Every package curates an `__all__`; a module without one
is internal. Read with `ast`, nothing imported (fast, and no torch)."""

import ast
import re
from pathlib import Path

from helpers import ROOT

PACKAGE = ROOT / "headstart"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def targets(node: ast.stmt) -> list[ast.expr]:
    return node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []


def declared_all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if any(isinstance(target, ast.Name) and target.id == "__all__" for target in targets(node)):
            return list(ast.literal_eval(node.value))
    return None


def code_surface() -> dict[str, list[str]]:
    """{module: its `__all__`} for every module of the package that declares one."""
    surface = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        names = declared_all(ast.parse(path.read_text()))
        if names is not None:
            surface[module_name(path)] = names
    return surface


def readme_surface(text: str) -> dict[str, list[str]]:
    """The README's list after "Lower-level pieces": `- `module`: `name`, ...` items (continued on lines
    indented by two spaces) up to the first blank line after the list."""
    lines = text[text.index("Lower-level pieces"):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("- `headstart"))
    surface, module = {}, None
    for line in lines[start:]:
        if not line.strip():
            break
        if line.startswith("- "):
            module, _, line = line[2:].partition(":")
            module = module.strip().strip("`")
            assert module not in surface, f"the README lists {module} twice"
            surface[module] = []
        elif not line.startswith("  "):
            break
        surface[module] += re.findall(r"`([^`]+)`", line)
    return surface


def differences(readme: dict[str, list[str]], code: dict[str, list[str]]) -> list[str]:
    found = [f"{module}: in the code's __all__, not in the README" for module in code.keys() - readme.keys()]
    found += [f"{module}: in the README, has no __all__" for module in readme.keys() - code.keys()]
    for module in readme.keys() & code.keys():
        if sorted(readme[module]) != sorted(code[module]):
            only_readme = sorted(set(readme[module]) - set(code[module]))
            only_code = sorted(set(code[module]) - set(readme[module]))
            found.append(f"{module}: README only {only_readme}, __all__ only {only_code}")
        if len(set(code[module])) != len(code[module]):
            found.append(f"{module}: __all__ repeats a name")
    return sorted(found)


def bound_names(tree: ast.Module) -> set[str]:
    """Names a module binds at its top level, or serves from a module `__getattr__` (PEP 562: then every
    string constant of the module counts, which is where lazy tables keep the names)."""
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            names |= {n.id for target in targets(node) for n in ast.walk(target) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    if "__getattr__" in names:
        names |= {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    return names


def test_the_readme_lists_exactly_the_public_surface():
    assert differences(readme_surface((ROOT / "README.md").read_text()), code_surface()) == []


def test_every_package_curates_its_public_names():
    packages = {module_name(path) for path in PACKAGE.rglob("__init__.py")}
    assert sorted(packages - code_surface().keys()) == []


def test_every_public_name_exists():
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        names = declared_all(tree) or []
        missing += [f"{module_name(path)}.{name}" for name in names if name not in bound_names(tree)]
    assert missing == []


def test_a_planted_difference_is_found():
    """The comparison can fail: a name dropped from the README, one added, a module missing, each named."""
    code = {"headstart.x": ["a", "b"], "headstart.y": []}
    assert differences({"headstart.x": ["a", "b"], "headstart.y": []}, code) == []
    assert differences({"headstart.x": ["a"], "headstart.y": []}, code) == [
        "headstart.x: README only [], __all__ only ['b']"]
    assert differences({"headstart.x": ["a", "b", "c"]}, code) == [
        "headstart.x: README only ['c'], __all__ only []", "headstart.y: in the code's __all__, not in the README"]
    readme = readme_surface("Lower-level pieces: prose `not.this`\n\n- `headstart.x`: `a`,\n  `b`\n"
                            "- `headstart.y`: no names\n\nlater `c`\n")
    assert readme == code
