"""The function table of rules/functions.toml as the language needs it: a function's row, the shape
its argument must have (an argument of the wrong shape is a ShapeError naming both), and the shape of
its result, which follows the row's `kind`; which row a call means by how it is written (one argument,
two, or a matrix and a dimension: sum(X, 2)); and the LaTeX names the rows print as and are read from.
Building the call node is expr.apply."""

from __future__ import annotations

import re
from functools import lru_cache

from ..errors import ShapeError
from ..tables import FunctionRow, functions
from .nodes import SCALAR, shape_text
from .parse import Syntax


def row(name: str) -> FunctionRow:
    return functions()[name]


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
