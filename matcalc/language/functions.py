"""The function table of rules/functions.toml as the language needs it: a function's row, the shape
its argument must have (an argument of the wrong shape is a ShapeError naming both), and the shape of
its result, which follows the row's `kind`; which row a call means by how it is written (one argument,
two, or a matrix and a dimension: sum(X, 2)); and the LaTeX names the rows print as and are read from.
Building the call node is expr.apply. Beside the table, the rows of declared abstract elementwise
functions (`--function f`: f, f', f'', …)."""

from __future__ import annotations

import re
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache

from ..errors import MatcalcError, ShapeError
from ..tables import FunctionRow, functions
from .nodes import SCALAR, shape_text
from .parse import Syntax


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
    if kind in ("square", "vector", "rows", "shaped"):
        return shape
    if kind == "rowreduce":
        return (rows, 1)
    if kind == "colreduce":
        return (1, cols)
    if kind == "tomatrix":
        return (rows, rows)
    if kind == "tovector":
        return (rows, 1)
    raise ValueError(f"unknown function kind {kind!r} in rules/functions.toml")


def _axis_of(node: Syntax) -> int:
    """The dimension argument of sum(X, 1), mean(X, 2), ...: 1 (down the columns) or 2 (along the rows)."""
    arg = node.args[1]
    if arg.kind != "num" or arg.value not in (1, 2):
        raise ShapeError(f"{node.source}: the dimension argument of {node.value} is 1 (column {node.value}s, "
                         f"a row) or 2 (row {node.value}s, a column), got {arg.source}")
    return int(arg.value)


def call_rows(node: Syntax, rows):
    """The rows a call may mean by how it is written: one argument, two arguments (max(a, b)), or an
    argument and a dimension (sum(X, 2)). A wrong count is a ShapeError saying what the function takes."""
    name, n = node.value, len(node.args)
    if n == 2 and any(r.axis for r in rows):
        axis = _axis_of(node)
        chosen = [r for r in rows if r.axis == axis]
    else:
        chosen = [r for r in rows if r.arity == n and not r.axis]
    if chosen:
        return chosen
    forms = sorted({r.arity for r in rows})
    takes = " or ".join({1: "one argument", 2: "two arguments"}.get(k, f"{k} arguments") for k in forms)
    if any(r.axis for r in rows):
        takes += f", or a matrix and a dimension ({name}(X, 1) down the columns, {name}(X, 2) along the rows)"
    raise ShapeError(f"{node.source}: {name} takes {takes}, got {n}")


def function_names() -> set[str]:
    """The names a call may have: every row's printed name (`max` is two rows)."""
    return {r.printed for r in functions().values()}


def elementwise_names() -> set[str]:
    """Functions of one argument applied entry by entry: exp, log, ..., softplus, gelu."""
    return {r.printed for r in functions().values() if r.kind == "elementwise" and r.arity == 1}


def zeros_sizes(node: Syntax, dimension) -> list:
    """zeros(n) is a column of n zeros (as ones(n) is a column of ones), zeros(m, n) an m×n matrix."""
    if len(node.args) not in (1, 2):
        raise ShapeError(f"{node.source}: zeros takes one or two sizes (zeros(n), zeros(m, n)), got {len(node.args)}")
    return [dimension(node, a) for a in node.args]


@lru_cache(maxsize=1)
def latex_names() -> tuple[dict, dict]:
    """The functions the table names in LaTeX (its `latex` column): ({command: name} for `\\max`,
    {braced name: name} for `\\operatorname{softplus}`), so that what matcalc prints reads back. The braced
    names are also read without the backslash of `\\_` and in capitals (`\\mathrm{GELU}`)."""
    commands, braced = {}, {}
    for r in functions().values():
        m = re.fullmatch(r"\\([A-Za-z]+)|\\operatorname\{(.+)\}", r.latex or "")
        if m and m.group(1):
            commands[m.group(1)] = r.printed
        elif m:
            plain = m.group(2).replace("\\_", "_")
            for spelled_as in (m.group(2), plain, plain.upper(), plain.capitalize()):
                braced[spelled_as] = r.printed
    return commands, braced


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
