"""The function table of rules/functions.toml as the language needs it: a function's row, the shape
its argument must have (an argument of the wrong shape is a ShapeError naming both), and the shape of
its result, which follows the row's `kind`. Building the call node is expr.apply. Beside the table,
the rows of declared abstract elementwise functions (`--function f`: f, f', f'', …)."""

from __future__ import annotations

import re
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from ..errors import MatcalcError, ShapeError
from ..tables import FunctionRow, functions
from .nodes import SCALAR, shape_text


def row(name: str) -> FunctionRow:
    """The table's row of a function, or the row of a declared abstract function (abstract_row below)."""
    found = functions().get(name)
    if found is None:
        found = abstract_row(name)
        if found is None:
            raise KeyError(name)
    return found


def check_argument(r: FunctionRow, shape, where: str = "") -> None:
    rows, cols = shape
    what = where or f"{r.printed}(…)"
    if r.arg == "square" and rows != cols:
        raise ShapeError(f"{what}: {r.printed} needs a square matrix, got {shape_text(shape)}")
    if r.arg == "vector" and cols != 1:
        hint = f"; for a row-wise {r.printed} of a matrix write {r.printed}_rows(…)" \
            if f"{r.printed}_rows" in functions() else ""
        raise ShapeError(f"{what}: {r.printed} needs a column vector, got {shape_text(shape)}{hint}")


def result_shape(r: FunctionRow, shape):
    rows, cols = shape
    kind = r.kind
    if kind == "elementwise":
        return shape
    if kind == "reduce":
        return SCALAR
    if kind in ("square", "vector", "rows"):
        return shape
    if kind == "rowreduce":
        return (rows, 1)
    if kind == "tomatrix":
        return (rows, rows)
    if kind == "tovector":
        return (rows, 1)
    raise ValueError(f"unknown function kind {kind!r} in rules/functions.toml")


# ---------------------------------------------------------------- abstract elementwise functions
# `--function f` declares f an elementwise function of which nothing is known but smoothness: its
# derivative is written f'(x), the next f''(x), and so on. Each has a row like a table function's
# (kind elementwise, derivative the next prime), made from the name alone, so every pass that reads a
# function's row (the walks, the printers, the code generator) takes it as it takes tanh. Which names
# a text may call is the declaration in force (`declared`); the rows themselves are the same in every
# call, so a node made under one declaration prints and compiles anywhere.

ABSTRACT_SOURCE = "chain rule entrywise: f is a declared elementwise function, f' its derivative"
_ABSTRACT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_declared: ContextVar[frozenset] = ContextVar("matcalc_abstract_functions", default=frozenset())
_bases: set[str] = set()          # every name ever declared: its rows can be read back


@dataclass(frozen=True)
class AbstractRow(FunctionRow):
    """The row of f^(order), the order-th derivative of a declared elementwise function `base`."""

    base: str = ""
    order: int = 0

    @property
    def keyword(self) -> str:
        """The keyword a compiled function takes it by: f, df, d2f, d3f, …"""
        return callable_keyword(self.base, self.order)


def callable_keyword(base: str, order: int) -> str:
    return base if order == 0 else f"d{base}" if order == 1 else f"d{order}{base}"


def abstract_row(name: str) -> AbstractRow | None:
    """The row of `f`, `f'`, `f''`, … for a name declared abstract (in this process), else None."""
    base = name.rstrip("'")
    if base not in _bases:
        return None
    order = len(name) - len(base)
    primes = "'" * (order + 1)
    return AbstractRow(name=name, kind="elementwise", rule=f"d {name}(x) = {base}{primes}(x) .* dx",
                       source=ABSTRACT_SOURCE, numpy="@" + callable_keyword(base, order),
                       derivative=f"{base}{primes}(x)", base=base, order=order)


def check_function_names(names) -> tuple[str, ...]:
    """The names of `functions=[...]` / `--function`: new names, not those of the language's functions."""
    if names is None:
        return ()
    if isinstance(names, str):
        names = [names]
    out = []
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"functions: a function name must be a str, got {type(name).__name__}")
        name = name.strip()
        if not _ABSTRACT_NAME.fullmatch(name) or len(name) > 40:
            raise MatcalcError(f"a declared function is named like a variable (f, sigma, phi1), got {name!r}")
        if name in functions() or any(r.printed == name for r in functions().values()) or name in (
                "ones", "I", "vec", "unvec", "kron", "K"):
            raise MatcalcError(f"{name} is already a function of the language; declare a new name "
                                f"(f, g, phi, …) for an abstract function")
        if name not in out:
            out.append(name)
    return tuple(out)


@contextmanager
def declared(names):
    """Within the block, texts may call the abstract functions `names` (and their derivatives f', f'').
    None keeps the declaration already in force (a derivation inside a check of the same claim)."""
    if names is None:
        yield tuple(_declared.get())
        return
    names = check_function_names(names)
    _bases.update(names)
    token = _declared.set(frozenset(names))
    try:
        yield names
    finally:
        _declared.reset(token)


def declared_functions() -> frozenset:
    return _declared.get()


def abstract_call(name: str) -> AbstractRow | None:
    """The row a call `name(…)` of a text means, if it is a declared abstract function or a derivative of
    one; a primed name of no declared function is refused here, saying how to declare it."""
    base = name.rstrip("'")
    if base in _declared.get():
        return abstract_row(name)
    if base != name:
        raise MatcalcError(f"{name}(…) is the derivative of an abstract function {base}, which is not declared: "
                            f"declare it with --function {base} (functions=[{base!r}] in the library)")
    return None
