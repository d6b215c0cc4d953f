r"""Index notation evaluated entry by entry: the value of `s_i*(delta_ik - s_k)` or of a claimed
`dL/dW_ij = (s_i - y_i)*x_j` as a NumPy array, on the same random instances as the finite differences
of the original expression (the index judge compares the two). Pieces in matrix form
(`softmax(W*x + b)_i`) are evaluated by the code generator; the semantics are language/index.py's.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParseError, ShapeError
from ..language.index import RHO, IndexExpr, analyze
from ..language.index_parse import HIDDEN, IX, parse_index_derivative
from ..language.functions import abstract_row
from ..tables import functions
from .codegen import evaluate
from .runtime import resolve

__all__ = ["index_values", "derivative_values"]


def _sizes(ix: IndexExpr, arrays: dict, ranges: dict | None) -> dict[str, int]:
    """Every dimension's size, read off the arrays (and explicit `ranges` / dimension scalars)."""
    size: dict = {}
    source: dict = {}

    def note(d, n, why):
        if isinstance(d, int):
            if d != n:
                raise ShapeError(f"{why} has size {n}, expected {d}")
            return
        if d in size and size[d] != n:
            raise ShapeError(f"{why} has size {n}, but {source[d]} has size {size[d]} along the same index")
        size[d] = n
        source.setdefault(d, why)

    for name, shape in ix.names.items():
        if name not in arrays:
            continue
        a = np.asarray(arrays[name])
        dims = [d for d in shape if d != 1]
        got = [s for s in a.shape if s != 1] if a.ndim and len(a.shape) != len(dims) else list(a.shape)
        if len(got) != len(dims):
            raise ShapeError(f"the array for {name} has shape {a.shape}, expected {len(dims)} axes")
        for d, n in zip(dims, got):
            note(d, int(n), f"the array for {name}")
    for name, node in ix.elab_names.items():
        if name in arrays and name not in ix.names:
            a = np.asarray(arrays[name])
            dims = [d for d in node.shape if d != 1]
            for d, n in zip(dims, a.shape):
                note(d, int(n), f"the array for {name}")
    for d in list(ix.dims) + [v for v in ix.ranges.values() if isinstance(v, str)]:
        if d not in size and d in arrays and np.ndim(arrays[d]) == 0:
            size[d] = int(arrays[d])
    for i, n in (ranges or {}).items():
        d = ix.ranges.get(i)
        if d is not None:
            note(d, int(n), f"index {i} (as given)")
    out = {}
    for i, d in ix.ranges.items():
        if ranges and i in ranges:
            out[i] = int(ranges[i])
        elif isinstance(d, int):
            out[i] = d
        elif d in size:
            out[i] = size[d]
    out["__dims__"] = size
    return out


def _align(val, labels, target):
    """Reorder/expand an array labelled `labels` to the axis order `target` (size-1 where absent)."""
    arr = np.asarray(val, dtype=float)
    if not labels:
        return arr.reshape((1,) * len(target)) if target else arr
    perm = [labels.index(t) for t in target if t in labels]
    arr = np.transpose(arr, perm)
    shape = [arr.shape[perm.index(labels.index(t))] if t in labels else 1 for t in target]
    return arr.reshape(shape)


def _union(*label_lists):
    out: list[str] = []
    for ls in label_lists:
        for x in ls:
            if x not in out:
                out.append(x)
    return tuple(out)


def _numpy_function(name: str):
    row = next(r for r in functions().values() if r.printed == name and r.kind == "elementwise" and r.arity == 1)
    f = resolve(row.numpy)
    return lambda a: f(np.array(a, dtype=float, copy=True))


class _Evaluator:
    def __init__(self, ix: IndexExpr, arrays: dict, sizes: dict):
        self.ix, self.arrays, self.sizes = ix, arrays, sizes
        self.leaf_values: dict[int, np.ndarray] = {}

    def size(self, i: str) -> int:
        if i not in self.sizes:
            raise ShapeError(f"the range of index {i} is unknown: give an array it indexes, or its size")
        return self.sizes[i]

    def leaf(self, n: IX):
        if id(n) not in self.leaf_values:
            node = self.ix.leaves[id(n)]
            env = dict(self.arrays)
            env.update({d: v for d, v in self.sizes["__dims__"].items() if d not in env})
            self.leaf_values[id(n)] = np.asarray(evaluate(node, self.ix.dims, env), dtype=float)
        return self.leaf_values[id(n)]

    def entry(self, arr, idx, label: str):
        arr = np.asarray(arr, dtype=float)
        if arr.ndim == 2 and len(idx) == 1:
            arr = arr.reshape(-1)
        if arr.ndim != len(idx):
            raise ShapeError(f"{label}: the array has {arr.ndim} axes but {len(idx)} indices are given")
        if len(idx) == 2 and idx[0] == idx[1]:
            return np.diagonal(arr).copy(), (idx[0],)
        return arr, tuple(idx)

    def ev(self, n: IX):
        k, a = n.kind, n.args
        if k == "num":
            return float(a[0]), ()
        if k == "entry":
            if a[0] not in self.arrays:
                raise ShapeError(f"no array given for {a[0]}")
            return self.entry(self.arrays[a[0]], a[1], a[0])
        if k == "mexpr":
            v = self.leaf(n)
            idx = a[1]
            if not idx and v.ndim:
                idx = (RHO,)
            return self.entry(v, idx, a[0])
        if k in ("delta", "unit"):
            i, j = (a[0], a[1]) if k == "delta" else (a[0], RHO)
            if i == j:
                return 1.0, ()
            return np.eye(self.size(i)), (i, j)
        if k == "neg":
            v, ls = self.ev(a[0])
            return -np.asarray(v), ls
        if k == "fn":
            v, ls = self.ev(a[1])
            row = abstract_row(a[0])
            if row is not None:                 # a declared abstract function: the instance's callable
                return np.asarray(self.arrays[row.keyword](np.asarray(v, dtype=float)), dtype=float), ls
            return _numpy_function(a[0])(v), ls
        if k == "pow":
            v, ls = self.ev(a[0])
            return np.power(np.asarray(v, dtype=float), float(a[1])), ls
        if k in ("add", "mul", "div"):
            vals = [self.ev(c) for c in a]
            labels = _union(*(ls for _, ls in vals))
            arrs = [_align(v, ls, labels) for v, ls in vals]
            if k == "add":
                out = arrs[0]
                for x in arrs[1:]:
                    out = out + x
            elif k == "mul":
                out = arrs[0]
                for x in arrs[1:]:
                    out = out * x
            else:
                out = arrs[0] / arrs[1]
            shape = tuple(self.size(l) for l in labels)
            return np.broadcast_to(out, shape) if labels else out, labels
        if k == "sum":
            v, ls = self.ev(a[1])
            v = np.asarray(v, dtype=float)
            for i in a[0]:
                if i in ls:
                    ax = ls.index(i)
                    v = v.sum(axis=ax)
                    ls = ls[:ax] + ls[ax + 1:]
                else:
                    v = v * self.size(i)
            return v, ls
        raise ValueError(k)


def index_values(text: str | IndexExpr, free: tuple[str, ...] | None = None, shapes: dict | None = None,
                 arrays: dict | None = None, ranges: dict | None = None) -> np.ndarray:
    """Every entry of an index expression: an array with one axis per free index, in the order of
    `free`, then the hidden row axis ρ (len of the vector) if the expression is vector-valued
    (`x_j*e_i`, `s_k*(e_k - s)`).

    free:   the free indices, in the order of the result's axes; None infers them: the free indices of
            the expression in order of first appearance (so `s_i*(delta_ik - s_k)` gives [i, k]).
            An index in `free` that the expression does not use broadcasts (its size from `ranges`).
            An index the expression leaves free but `free` omits is an error (a forgotten sum_k?).
    shapes: name -> shape spec, as for matcalc.derive; arrays: name -> NumPy array (vectors 1-D or
            (n, 1)), plus dimension sizes by name where a dimension is used as a scalar;
    ranges: index -> size, for indices no array determines (only needed for a broadcast index).

    For derivative claims use derivative_values, which fixes the axes from the left side."""
    ix = text if isinstance(text, IndexExpr) else analyze(text, shapes)
    arrays = dict(arrays or {})
    sizes = _sizes(ix, arrays, ranges)
    value, labels = _Evaluator(ix, arrays, sizes).ev(ix.root)
    want = tuple(free) if free is not None else tuple(i for i in ix.free if i not in HIDDEN)
    hidden = [h for h in HIDDEN if h in labels and h not in want]
    extra = [l for l in labels if l not in want and l not in HIDDEN]
    if extra:
        raise ShapeError(f"index {extra[0]} is free in {ix.text or 'the expression'} but not among the free indices "
                         f"({', '.join(want) or 'none'}): did you mean sum_{extra[0]}?")
    target = want + tuple(hidden)
    out = _align(value, labels, target)
    shape = []
    for t in target:
        if t in labels:
            shape.append(out.shape[target.index(t)])
        else:
            if ranges and t in ranges:
                shape.append(int(ranges[t]))
            elif t in sizes:
                shape.append(sizes[t])
            else:
                raise ShapeError(f"index {t} does not appear in the expression: give its size in ranges")
    return np.array(np.broadcast_to(out, tuple(shape)), dtype=float)


def derivative_values(lhs: str, rhs: str, shapes: dict | None = None, arrays: dict | None = None,
                      shape_of: dict | None = None) -> np.ndarray:
    """The entries of a claimed derivative `lhs = rhs`, arranged as the numerator-layout array
    (numerator axes first, then denominator axes): for `dL/dW_ij` (L scalar) entry [i, j] is ∂L/∂W_ij;
    for `ds_i/dz_k` entry [i, k] is ∂s_i/∂z_k; for `dz/dW_ij` (z a vector, the right side
    vector-valued, e.g. `x_j*e_i`) entry [r, i, j] is ∂z_r/∂W_ij.

    numeric.finite_difference returns the denominator layout (the variable's axes first, then the
    function's): for ds_i/dz_k compare with fd.T, for dz/dW_ij with np.moveaxis(values, 0, -1).
    Ranges of left-side indices come from `arrays` (or `shape_of`: name -> array shape), so an index
    the right side does not use still gets its size, and one it uses over a different size is a
    ShapeError (a claim with swapped indices, `dL/dW_ij = (s_j - y_j)*x_i`, fails that way)."""
    num, num_idx, den, den_idx = parse_index_derivative(lhs)
    free = tuple(num_idx) + tuple(den_idx)
    if len(set(free)) != len(free):
        raise ParseError(f"the same index letter on both sides of {lhs}: use distinct letters (ds_i/dz_k)")
    ranges = {}
    for name, idx in ((num, num_idx), (den, den_idx)):
        shp = (shape_of or {}).get(name)
        if shp is None and arrays and name in arrays:
            shp = np.shape(arrays[name])
        if shp is not None:
            dims = [d for d in shp if d != 1] if len(idx) <= 1 else list(shp)
            if not idx and len(dims) == 1 and name == num:
                idx = (RHO,)
            for i, d in zip(idx, dims):
                ranges[i] = int(d)
    values = index_values(rhs, free, shapes, arrays, ranges)
    if values.ndim > len(free):  # a vector-valued right side: its hidden axis is the numerator's
        if num_idx:
            raise ShapeError(f"{rhs} is a vector for each entry, but {lhs} names an entry of {num}")
        values = np.moveaxis(values, -1, 0)
    return values
