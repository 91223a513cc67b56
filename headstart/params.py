"""Parameter checks as data, in the scikit-learn manner: a table maps each parameter to what it
accepts, and one function checks a set of values against it. The estimator checks its constructor
parameters with it when it fits; `headstart.methods.create_method` checks method options with it,
`headstart.recipe.Recipe` and `headstart.finetune.FinetuneConfig` their fields, the lab's bench its
configuration and the suite its file."""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral
from typing import Callable

from headstart.errors import UserError


class ParameterError(UserError, ValueError):
    """A parameter outside its valid range. A ValueError too, as scikit-learn's tools expect."""


@dataclass(frozen=True)
class Interval:
    """Numbers of `kind` (Integral or Real) from `low` to `high` (None: unbounded); `open_low` and
    `open_high` exclude `low` and `high` themselves."""

    kind: type
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False

    def accepts(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, self.kind):
            return False
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.open_low else value < self.low):
            return False
        return self.high is None or (value < self.high if self.open_high else value <= self.high)

    def __str__(self) -> str:
        kind = "an integer" if self.kind is Integral else "a number"
        low = "" if self.low is None else f"{'>' if self.open_low else '>='} {self.low:g}"
        high = "" if self.high is None else f"{'<' if self.open_high else '<='} {self.high:g}"
        return f"{kind} {' and '.join(part for part in (low, high) if part)}".strip()


@dataclass(frozen=True)
class OneOf:
    """One of a few fixed values."""

    values: tuple

    def accepts(self, value) -> bool:
        return isinstance(value, (str, type(None))) and value in self.values

    def __str__(self) -> str:
        return "one of " + ", ".join(map(repr, self.values))


@dataclass(frozen=True)
class Kind:
    """Any value of the given types, described as `description`."""

    types: tuple
    description: str

    def accepts(self, value) -> bool:
        return isinstance(value, self.types) and not (isinstance(value, bool) and bool not in self.types)

    def __str__(self) -> str:
        return self.description


@dataclass(frozen=True)
class Names:
    """A non-empty list or tuple of strings taken from `choices`."""

    choices: tuple

    def accepts(self, value) -> bool:
        return isinstance(value, (list, tuple)) and bool(value) and all(v in self.choices for v in value)

    def __str__(self) -> str:
        return "a non-empty list of " + ", ".join(self.choices)


@dataclass(frozen=True)
class ListOf:
    """A list or tuple of `min_items` to `max_items` (None: any number) values that `item` accepts."""

    item: object
    min_items: int = 1
    max_items: int | None = None

    def accepts(self, value) -> bool:
        return (isinstance(value, (list, tuple)) and self.min_items <= len(value)
                and (self.max_items is None or len(value) <= self.max_items) and all(map(self.item.accepts, value)))

    def __str__(self) -> str:
        if self.max_items == self.min_items:
            size = f"a list of {self.min_items}"
        else:
            size = "a non-empty list" if self.min_items == 1 and self.max_items is None else "a list"
        return f"{size}, each {self.item}"


def check_parameters(values: dict, constraints: dict, owner: str,
                     spelling: Callable[[str], str] = lambda name: f"parameter {name!r}") -> None:
    """Raise ParameterError for the first value that none of its constraints accepts (None in a
    constraint list accepts None); the message names the parameter as `spelling` writes it (the
    command line's option, a file's key), the valid range and the value."""
    for name, value in values.items():
        allowed = constraints[name]
        if any(c is None and value is None or c is not None and c.accepts(value) for c in allowed):
            continue
        valid = " or ".join("None" if c is None else str(c) for c in allowed)
        raise ParameterError(f"{owner} {spelling(name)} must be {valid}, got {value!r}")
