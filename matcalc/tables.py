"""Loads the identity tables of rules/ (shipped inside the package as `matcalc.rules`).

The tables are the single place where a function's or operator's derivative is written down; the
engine looks rows up by operator and never names a function itself.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

TABLES = ("functions", "operators", "simplify", "identities")


@dataclass(frozen=True)
class FunctionRow:
    name: str
    kind: str
    rule: str
    source: str
    numpy: str
    arg: str = "any"
    spelling: str = ""
    derivative: str = ""
    adjoint: str = ""
    jacobian: str = ""
    differential: str = ""
    domain: str = "real"
    linear: bool = False
    positive: bool = False
    range: str = "real"
    upper: float | None = None
    arity: int = 1            # arguments: 2 for max(a, b), min(a, b) (elementwise, broadcast to one shape)
    derivative2: str = ""     # for arity 2: the partial derivative in the second argument y (x the first)
    axis: int = 0             # the dimension argument as MATLAB writes it: sum(X, 1) column sums, sum(X, 2) row sums
    single: str = ""          # for an axis row: its value along an axis of one entry, in x ("x" for sums)
    commutative: bool = False  # f(a, b) = f(b, a): a constant argument is put last (max(u, 0))
    kink: str = ""            # where the derivative jumps, for the checker: "difference" (x = y), "tie" (two
                              # entries of the argument equal at its maximum or minimum)
    latex: str = ""           # the LaTeX command it prints as and is read from (\operatorname{softplus})

    @property
    def printed(self) -> str:
        return self.spelling or self.name


@dataclass(frozen=True)
class OperatorRow:
    op: str
    slot: str
    adjoint: str
    rule: str
    source: str
    domain: str = ""          # what the operand must be for the operation to be defined (positive)


@dataclass(frozen=True)
class SimplifyRow:
    name: str
    pattern: str
    result: str
    source: str


@dataclass(frozen=True)
class IdentityRow:
    """A row of a standard identity table: d(expression)/d(wrt) in denominator layout."""

    expression: str
    wrt: str
    gradient: str
    source: str
    assume: tuple[str, ...] = ()
    shapes: tuple[tuple[str, str], ...] = ()


def _rules_dir() -> Path:
    """Installed, the tables sit in matcalc/rules/; in a checkout, in rules/ beside the package."""
    here = Path(__file__).resolve().parent
    installed = here / "rules"
    if (installed / "functions.toml").exists():
        return installed
    return here.parent / "rules"


def table_path(name: str) -> Path:
    return _rules_dir() / f"{name}.toml"


@lru_cache(maxsize=None)
def _load(name: str) -> dict:
    with open(table_path(name), "rb") as fh:
        return tomllib.load(fh)


@lru_cache(maxsize=1)
def functions() -> dict[str, FunctionRow]:
    return {row["name"]: FunctionRow(**row) for row in _load("functions")["function"]}


@lru_cache(maxsize=1)
def operators() -> dict[tuple[str, str], OperatorRow]:
    return {(r["op"], r["slot"]): OperatorRow(**r) for r in _load("operators")["operator"]}


@lru_cache(maxsize=1)
def simplify_rows() -> tuple[SimplifyRow, ...]:
    return tuple(SimplifyRow(**r) for r in _load("simplify")["rule"])


@lru_cache(maxsize=1)
def identity_rows() -> tuple[IdentityRow, ...]:
    rows = []
    for r in _load("identities")["identity"]:
        r = dict(r)
        r["assume"] = tuple(r.get("assume", ()))
        r["shapes"] = tuple(sorted(r.get("shapes", {}).items()))
        rows.append(IdentityRow(**r))
    return tuple(rows)


def spelled(name: str) -> list[FunctionRow]:
    """The rows a user's function name may mean (`diag` is two functions, told apart by shape)."""
    return [row for row in functions().values() if row.printed == name]


def known_function_names() -> list[str]:
    return sorted({row.printed for row in functions().values()} | {"ones", "I", "zeros"})
