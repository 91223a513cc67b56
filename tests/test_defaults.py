"""The product's defaults have one home, `headstart.defaults`: a default model, method, number of
head-training epochs, learning rate or resolution bound written as a literal elsewhere in the package
would drift from it (issue 30 item 5)."""

from __future__ import annotations

import ast
from pathlib import Path

import headstart
from headstart import defaults

PACKAGE = Path(headstart.__file__).parent
# (file, name): literals that mean something else there
ALLOWED = {("sources/__init__.py", None),  # the built-in models' table: the model's own name, not a default
           ("train.py", "EVAL_EPOCHS")}  # the epochs at which learning curves are sampled


def bindings(tree: ast.AST):
    """(name, value) for every value bound to a name: assignments, annotated fields, function
    defaults, keyword arguments, dict entries and `.get(key, default)`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        yield name.id, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None and isinstance(node.target, ast.Name):
            yield node.target.id, node.value
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            positional = node.args.posonlyargs + node.args.args
            yield from zip((a.arg for a in positional[len(positional) - len(node.args.defaults):]), node.args.defaults)
            yield from ((a.arg, d) for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults) if d is not None)
        elif isinstance(node, ast.keyword) and node.arg:
            yield node.arg, node.value
        elif isinstance(node, ast.Dict):
            yield from ((k.value, v) for k, v in zip(node.keys, node.values)
                        if isinstance(k, ast.Constant) and isinstance(k.value, str))
        elif isinstance(node, ast.Call) and len(node.args) == 2 and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            yield node.args[0].value, node.args[1]


def literal_defaults(source: str) -> list[tuple[str, int, str]]:
    """(what, line, name) for each literal of a default in `source` bound to a name that says what it is."""
    resolution = lambda name: name.lower() in ("min", "max") or "resolution" in name.lower()  # noqa: E731
    rules = [("model", lambda name: True, (defaults.DEFAULT_MODEL,)),
             ("method", lambda name: "method" in name.lower(), (defaults.DEFAULT_METHOD,)),
             ("epochs", lambda name: "epoch" in name.lower(), (defaults.HEAD_EPOCHS,)),
             ("learning rate", lambda name: name.lower() in ("lr", "learning_rate"), (defaults.LEARNING_RATE,)),
             ("resolution bound", resolution, (defaults.MIN_RESOLUTION, defaults.MAX_RESOLUTION))]
    found = []
    for name, value in bindings(ast.parse(source)):
        for what, names_it, literals in rules:
            if names_it(name) and any(isinstance(c, ast.Constant) and type(c.value) is type(literal)
                                      and c.value == literal for c in ast.walk(value) for literal in literals):
                found.append((what, value.lineno, name))
    return sorted(set(found), key=lambda f: f[1])


def test_the_scan_finds_a_literal_default_in_every_spelling():
    source = ('MODEL_OPTION = typer.Option("efficientnet-lite0", help="x")\n'
              'def fit(model, method: str = "headstart", *, epochs: int = 100, lr=1e-3): pass\n'
              'SUITE = {"epochs": 100, "seeds": 10}\n'
              'epochs = training.get("epochs", 100)\n'
              'class Config:\n    epochs: int = 100\n'
              'RESOLUTION_OPTION = typer.Option(None, min=16, max=1024)\n'
              'DEFAULT_METHOD = "headstart"\n'
              'fine = dict(epochs=3, lr=1e-2, method="logreg", note="efficientnet-lite0 is the default")\n')
    assert sorted({(line, what) for what, line, _ in literal_defaults(source)}) == [
        (1, "model"), (2, "epochs"), (2, "learning rate"), (2, "method"), (3, "epochs"), (4, "epochs"),
        (6, "epochs"), (7, "resolution bound"), (8, "method")]


def test_the_defaults_are_written_only_in_headstart_defaults():
    files = [p for p in PACKAGE.rglob("*.py") if p.name != "defaults.py"]
    assert len(files) > 50  # the scan sees the package
    offenders = []
    for path in files:
        relative = path.relative_to(PACKAGE).as_posix()
        offenders += [f"{relative}:{line} {name} ({what})" for what, line, name in literal_defaults(path.read_text())
                      if (relative, None) not in ALLOWED and (relative, name) not in ALLOWED]
    assert offenders == [], f"literal defaults outside headstart/defaults.py (use its names): {offenders}"
