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


class Program:
    """Roots evaluated together: their nodes in one topological order, found once and reused for every
    instance (the guard evaluates the same expression at x + hV and x - hV)."""

    def __init__(self, roots: list[Node], dim_scalars=()):
        self.roots = list(roots)
        self.dim_scalars = set(dim_scalars)
        order, seen = [], set()
        for root in self.roots:
            for n in walk(root):
                if id(n) not in seen:
                    seen.add(id(n))
                    order.append(n)
        index = {id(n): i for i, n in enumerate(order)}
        self.order = [(n, tuple(index[id(a)] for a in n.args)) for n in order]
        self.out = [index[id(r)] for r in self.roots]

    def __call__(self, arrays: dict, dims: dict, fixed: dict | None = None) -> list[np.ndarray]:
        """The roots' 2-D values; `fixed` ({node index: value}) holds nodes already known (the parts of the
        expression that do not move along a direction), which are not evaluated again."""
        table = functions()
        values: list = [None] * len(self.order)
        with np.errstate(all="ignore"):
            for i, (n, args) in enumerate(self.order):
                if fixed is not None and i in fixed:
                    values[i] = fixed[i]
                    continue
                values[i] = _one(n, [values[k] for k in args], arrays, dims, self.dim_scalars, table)
        self.last = values
        return [values[i] for i in self.out]

    def moving(self, name: str) -> set[int]:
        """The indices of the nodes whose value depends on the name (found once per name)."""
        cache = self.__dict__.setdefault("_moving", {})
        if name not in cache:
            found: set[int] = set()
            for i, (n, args) in enumerate(self.order):
                if (n.op == "sym" and n.attr == name) or any(k in found for k in args):
                    found.add(i)
            cache[name] = found
        return cache[name]

    def along(self, arrays: dict, dims: dict, name: str):
        """f(value) with every name but `name` fixed: the nodes that do not depend on it are evaluated once."""
        self(arrays, dims)
        moving = self.moving(name)
        fixed = {i: v for i, v in enumerate(self.last) if i not in moving}

        def at(value):
            local = dict(arrays)
            local[name] = value
            return self(local, dims, fixed)

        return at

    def named(self, names: list[str]):
        """A callable like a compiled plan's: keyword arrays (dimension sizes among them, as ints) in, a dict
        of plain values (floats, 1-D vectors, matrices) out — so the sampler can probe kinks with it."""
        def run(**arrays):
            dims = {k: v for k, v in arrays.items() if isinstance(v, (int, np.integer)) and not isinstance(v, bool)}
            out = self(arrays, dims)
            return {name: as_plain(v, r.shape) for name, v, r in zip(names, out, self.roots)}
        return run


def evaluate(roots: list[Node], arrays: dict, dims: dict, dim_scalars=()) -> list[np.ndarray]:
    """The 2-D value of each root on the arrays (vectors 1-D or 2-D, matrices 2-D, scalars floats); `dims`
    gives every dimension's size, `dim_scalars` the dimension names used as numbers (1/m)."""
    return Program(roots, dim_scalars)(arrays, dims)


def compile_probe(outputs: dict, dim_scalars=()):
    """The sampler's probe (kink arguments, the sides of stated equations) on this evaluator, and on the
    compiled plan where this evaluator cannot go (an operation it does not know)."""
    names = list(outputs)
    direct = Program([outputs[k] for k in names], dim_scalars).named(names)
    fallback: list = []

    def probe(**arrays):
        if not fallback:
            try:
                return direct(**arrays)
            except (Unsized, KeyError, ValueError, TypeError, IndexError, AttributeError):
                from ..compile.codegen import compile_nodes

                fallback.append(compile_nodes(dict(outputs), dim_scalars))
        return fallback[0](**arrays)

    return probe


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
    if op == "vpow":                                  # x.^p, p a scalar symbol
        return np.power(args[0], args[1])
    if op == "fn":
        return _function(table[n.attr], args, n.shape)
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


_KINDS = ("elementwise", "reduce", "vector", "rows", "rowreduce", "tovector", "tomatrix", "square")


def _function(row, args: list, shape) -> np.ndarray:
    f = resolve(row.numpy)
    kind = row.kind
    a = args[0]
    if row.axis or kind not in _KINDS:
        raise ValueError(f"{row.name}: left to the compiled plan")     # sum(X, 2), ismax: the plan knows them
    if len(args) > 1:                      # a function of several arguments: entrywise on all of them
        return np.asarray(f(*args), dtype=float).reshape(np.broadcast(*args).shape)
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


__all__ = ["Program", "evaluate", "compile_probe", "as_matrix", "as_plain", "Unsized"]
