"""The function table of rules/functions.toml as the language needs it: a function's row, the shape
its argument must have (an argument of the wrong shape is a ShapeError naming both), and the shape of
its result, which follows the row's `kind`. Building the call node is expr.apply."""

from __future__ import annotations

from ..errors import ShapeError
from ..tables import FunctionRow, functions
from .nodes import SCALAR, shape_text


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
