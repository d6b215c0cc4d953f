"""Applies a function of rules/functions.toml to a typed argument: the result's shape follows the
row's `kind`, and an argument of the wrong shape is a ShapeError naming both."""

from __future__ import annotations

from ..errors import ShapeError
from .expr import SCALAR, Node, fn, shape_text
from ..tables import FunctionRow, functions


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
    if kind in ("square", "vector", "rows"):
        return shape
    if kind == "rowreduce":
        return (rows, 1)
    if kind == "tomatrix":
        return (rows, rows)
    if kind == "tovector":
        return (rows, 1)
    raise ValueError(f"unknown function kind {kind!r} in rules/functions.toml")


def apply(name: str, arg: Node, where: str = "") -> Node:
    r = row(name)
    check_argument(r, arg.shape, where)
    if r.kind == "reduce" and r.linear and arg.is_scalar:
        return arg  # sum and trace of a scalar are the scalar
    if r.kind in ("tomatrix", "vector") and arg.is_scalar:
        # diag of a scalar is itself; a one-entry softmax is 1
        return arg if r.kind == "tomatrix" else fn(name, arg, SCALAR)
    return fn(name, arg, result_shape(r, arg.shape))
