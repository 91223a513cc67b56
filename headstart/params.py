"""Parameter checks as data, in the scikit-learn manner: a table maps each parameter to what it
accepts, and one function checks a set of values against it. The estimator checks its constructor
parameters with it when it fits; `headstart.methods.create_method` checks method options with it,
`headstart.recipe.Recipe` its fields."""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral

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


def check_parameters(values: dict, constraints: dict, owner: str) -> None:
    """Raise ParameterError for the first value that none of its constraints accepts (None in a
    constraint list accepts None); the message names the parameter, the valid range and the value."""
    for name, value in values.items():
        allowed = constraints[name]
        if any(c is None and value is None or c is not None and c.accepts(value) for c in allowed):
            continue
        valid = " or ".join("None" if c is None else str(c) for c in allowed)
        raise ParameterError(f"{owner} parameter {name!r} must be {valid}, got {value!r}")
