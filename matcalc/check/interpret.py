"""A typed expression's value, node by node, with NumPy: the guard's evaluator.

Why not the code generator's plan: building a plan (reordering chains, placing scalars, lowering) costs
about as much as deriving, and the guard runs on every derivation, so it evaluates the DAG directly —
every value a 2-D array (a column n×1, a row 1×n, a scalar 1×1), each node once, the functions by the
`numpy` column of rules/functions.toml. It shares nothing with compile/ but those helpers, so the
compiled callable can be checked against it too.
"""

from __future__ import annotations

import numpy as np

from ..compile.runtime import commutation, resolve
from ..language.dims import size_of
from ..language.expr import Node, walk
from ..tables import functions


class Unsized(Exception):
    """A dimension whose size the instance does not give."""


def _size(d, dims: dict) -> int:
    value = size_of(d, dims)
    if not isinstance(value, (int, np.integer)):
        raise Unsized(str(d))
    return int(value)


def as_matrix(value, shape) -> np.ndarray:
    """An input (1-D vector, 2-D matrix, float) as the 2-D array of its matcalc shape."""
    a = np.asarray(value, dtype=float)
    r, c = shape
    if a.ndim == 0:
        return a.reshape(1, 1)
    if a.ndim == 1:
        return a.reshape(-1, 1) if c == 1 else a.reshape(1, -1)
    return a


def as_plain(value: np.ndarray, shape):
    """The 2-D value back in the library's convention: a float, a 1-D vector, or a matrix."""
    r, c = shape
    if r == 1 and c == 1:
        return float(value.reshape(-1)[0])
    if r == 1 or c == 1:
        return value.reshape(-1)
    return value


def evaluate(roots: list[Node], arrays: dict, dims: dict, dim_scalars=()) -> list[np.ndarray]:
    """The 2-D value of each root on the arrays (vectors 1-D or 2-D, matrices 2-D, scalars floats); `dims`
    gives every dimension's size, `dim_scalars` the dimension names used as numbers (1/m)."""
    memo: dict[int, np.ndarray] = {}
    table = functions()
    with np.errstate(all="ignore"):
        for root in roots:
            for n in walk(root):
                if id(n) not in memo:
                    memo[id(n)] = _one(n, [memo[id(a)] for a in n.args], arrays, dims, dim_scalars, table)
    return [memo[id(r)] for r in roots]


def _one(n: Node, args: list, arrays: dict, dims: dict, dim_scalars, table) -> np.ndarray:
    op = n.op
    if op == "sym":
        if n.attr in arrays:
            return as_matrix(arrays[n.attr], n.shape)
        if n.attr in dims or n.attr in dim_scalars:
            return np.array([[float(dims[n.attr])]])
        raise KeyError(n.attr)
    if op == "num":
        return np.array([[float(n.attr)]])
    r, c = n.shape
    if op == "ones":
        return np.ones((_size(r, dims), 1))
    if op == "eye":
        return np.eye(_size(r, dims))
    if op == "zero":
        return np.zeros((_size(r, dims), _size(c, dims)))
    if op == "add":
        out = args[0]
        for a in args[1:]:
            out = out + a
        return out
    if op == "mul":
        out = args[0]
        for a in args[1:]:
            out = out * a if out.shape == (1, 1) or a.shape == (1, 1) else out @ a
        return out
    if op == "had":
        out = args[0]
        for a in args[1:]:
            out = out * a
        return out
    if op == "T":
        return args[0].T
    if op == "bcast":
        return np.broadcast_to(args[0], (_size(r, dims), _size(c, dims))).copy()
    if op in ("pow", "epow"):
        return np.power(args[0], float(n.attr))
    if op == "fn":
        return _function(table[n.attr], args[0], n.shape)
    if op == "vec":
        return args[0].reshape(-1, 1, order="F")
    if op == "unvec":
        m, k = (_size(d, dims) for d in n.attr)
        return args[0].reshape((m, k), order="F")
    if op == "kron":
        return np.kron(args[0], args[1])
    if op == "comm":
        m, k = (_size(d, dims) for d in n.attr)
        return commutation(m, k)
    raise ValueError(f"no value for the operation {op!r}")


def _function(row, a: np.ndarray, shape) -> np.ndarray:
    f = resolve(row.numpy)
    kind = row.kind
    if kind == "elementwise":
        return np.asarray(f(a), dtype=float)
    if kind == "reduce":
        return np.asarray(f(a.reshape(-1) if row.arg == "vector" else a), dtype=float).reshape(1, 1)
    if kind == "vector":
        return np.asarray(f(a.reshape(-1)), dtype=float).reshape(-1, 1)
    if kind == "rows":
        return np.asarray(f(a), dtype=float)
    if kind == "rowreduce":
        return np.asarray(f(a), dtype=float).reshape(-1, 1)
    if kind == "tovector":
        return np.asarray(f(a), dtype=float).reshape(-1, 1)
    if kind == "tomatrix":
        return np.asarray(f(a.reshape(-1)), dtype=float)
    if kind == "square":
        return np.asarray(f(a), dtype=float)
    raise ValueError(f"no value for a function of kind {kind!r}")


__all__ = ["evaluate", "as_matrix", "as_plain", "Unsized"]
