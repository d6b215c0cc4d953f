r"""Index notation: typing, numeric values entry by entry, and SymPy objects.

Why: hand derivations are written entrywise (∂ŷ_i/∂z_k = ŷ_i(δ_ik − ŷ_k), ∂CE/∂W_ij = (ŷ_i − y_i) x_j).
To judge such a claim the checker needs every entry of it as numbers, on the same random instances as
the finite differences of the original expression; and to print or read it next to matrix results it
needs the index ↔ matrix rewrites (index_matrix.py).  Parsing is index_parse.py.

Semantics (the docstrings below refer to these):
  * an index letter means the same range wherever it appears in one expression (`sum_k` binds k for
    its summand; there is no implicit Einstein summation — a repeated letter without `sum` is free);
  * terms with fewer indices broadcast (`delta_ik - s_k` is the matrix with entries δ_ik − s_k);
  * `e_i` is the unit vector with entries δ_iρ, and an unindexed column vector `s` has entries s_ρ,
    where ρ is a hidden row axis (the value of `x_j*e_i` at [i, j] is a whole vector);
  * names are shaped as in matcalc (uppercase a matrix, lowercase a vector, Greek a scalar, unless
    declared in `shapes`), pieces in matrix form (`softmax(W*x + b)_i`) by matcalc's own parser.

SymPy is imported lazily (only by to_sympy and to_matrix), so `matcalc derive` keeps starting fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ..errors import ParseError, ShapeError
from .index_parse import HIDDEN, IX, parse_index, parse_index_derivative

__all__ = ["parse_index", "parse_index_derivative", "IndexExpr", "analyze", "index_values", "derivative_values",
           "free_indices", "to_sympy"]

RHO = HIDDEN[0]


@dataclass
class IndexExpr:
    """A typed index expression.

    root: the tree; leaves: id(mexpr node) -> typed matcalc Node; names: entry name -> shape (dims);
    ranges: index letter -> its dimension (a name or an int); free: the free indices in order of first
    appearance (the hidden axis ρ last, if present); dims: dimension names that are scalars in matcalc."""

    text: str
    root: IX
    leaves: dict[int, object]
    names: dict[str, tuple]
    ranges: dict[str, object]
    free: tuple[str, ...]
    dims: set = field(default_factory=set)
    elab_names: dict = field(default_factory=dict)


# ---------------------------------------------------------------- walking

def _walk(node: IX):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if n.kind == "sum":
            stack.append(n.args[1])
        elif n.kind in ("add", "mul", "neg"):
            stack.extend(reversed(n.args))
        elif n.kind in ("div",):
            stack.extend((n.args[1], n.args[0]))
        elif n.kind == "pow":
            stack.append(n.args[0])
        elif n.kind == "fn":
            stack.append(n.args[1])


def _node_indices(n: IX) -> tuple[str, ...]:
    if n.kind in ("entry", "mexpr"):
        return n.args[1]
    if n.kind == "delta":
        return (n.args[0], n.args[1])
    if n.kind == "unit":
        return (n.args[0], RHO)
    return ()


def free_indices(node: IX, leaves: dict | None = None) -> tuple[str, ...]:
    """The free indices in order of first appearance (summed ones excluded), the hidden axis last."""
    order: list[str] = []

    def visit(n: IX, bound: frozenset):
        if n.kind == "sum":
            visit(n.args[1], bound | set(n.args[0]))
            return
        idx = _node_indices(n)
        if n.kind == "mexpr" and not idx and leaves is not None and id(n) in leaves \
                and not leaves[id(n)].is_scalar:
            idx = (RHO,)
        for i in idx:
            if i not in bound and i not in order:
                order.append(i)
        for c in _children(n):
            visit(c, bound)

    visit(node, frozenset())
    if RHO in order:
        order.remove(RHO)
        order.append(RHO)
    return tuple(order)


def _children(n: IX):
    if n.kind in ("add", "mul"):
        return n.args
    if n.kind == "neg":
        return n.args
    if n.kind == "div":
        return n.args
    if n.kind == "pow":
        return n.args[:1]
    if n.kind == "fn":
        return n.args[1:]
    if n.kind == "sum":
        return n.args[1:]
    return ()


# ---------------------------------------------------------------- typing

class _UF:
    """Union-find over index letters and dimensions; a dimension value is a rigid name or an int."""

    def __init__(self):
        self.parent: dict = {}
        self.value: dict = {}
        self.why: dict = {}

    def find(self, k):
        self.parent.setdefault(k, k)
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = self.parent[k]
        return k

    def union(self, a, b, what: str, text: str):
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        va, vb = self.value.get(ra), self.value.get(rb)
        if va is not None and vb is not None and va != vb:
            raise ShapeError(f"{text}: index {what} runs over {self.why.get(ra, va)} and {self.why.get(rb, vb)}")
        self.parent[ra] = rb
        if vb is None and va is not None:
            self.value[rb], self.why[rb] = va, self.why.get(ra, va)


def _axes(shape) -> tuple:
    """The axes that entries index: scalar (), column (rows,), row (cols,), matrix (rows, cols)."""
    r, c = shape
    if r == 1 and c == 1:
        return ()
    if c == 1:
        return (0,)
    if r == 1:
        return (1,)
    return (0, 1)


def analyze(text: str | IX, shapes: dict | None = None) -> IndexExpr:
    """Parse (if text) and type an index expression; ShapeError when an index runs over two sizes.
    Typed expressions are cached by (text, shapes): a claim checked on several instances is typed once."""
    if isinstance(text, str):
        from .shapes import parse_shape_spec

        items = []
        for k, v in (shapes or {}).items():
            if not isinstance(k, str):
                raise ShapeError(f"cannot declare the shape of {k!r}: not a name")
            items.append((k, parse_shape_spec(v)))
        return _analyze_cached(text, tuple(sorted(items)))
    return _analyze(text, shapes)


@lru_cache(maxsize=256)
def _analyze_cached(text: str, items: tuple) -> IndexExpr:
    return _analyze(text, dict(items))


def _analyze(text, shapes) -> IndexExpr:
    from .shapes import elaborate_many, parse_shape_spec

    root = parse_index(text) if isinstance(text, str) else text
    src = text if isinstance(text, str) else ""
    shapes = dict(shapes or {})
    for n in _walk(root):  # a name divided by is a scalar, as in matcalc (x/m)
        den = n.args[1] if n.kind == "div" else None
        if den is not None and den.kind == "mexpr" and not den.args[1] and den.args[0].isidentifier():
            shapes.setdefault(den.args[0], ())
    mexprs = [n for n in _walk(root) if n.kind == "mexpr"]
    entries = [n for n in _walk(root) if n.kind == "entry"]

    def elaborate(declared):
        if not mexprs:
            return {}, {}, set()
        texts = [n.args[0] for n in mexprs]
        typed, built = elaborate_many(texts[0], declared or None, tuple(texts[1:]))
        nodes = [typed.root] + list(built)
        return {id(n): node for n, node in zip(mexprs, nodes)}, typed.names, set(typed.dims)

    leaves, elab_names, dims = elaborate(shapes)
    for n in entries:
        if n.args[0] in dims:
            raise ParseError(f"{n.args[0]} is a dimension here, it has no entries", src, n.pos + 1)
    uf = _UF()
    rigid = {d for spec in shapes.values() for d in (parse_shape_spec(spec) if isinstance(spec, (str, tuple, list))
                                                      else ())}
    name_dims: dict[str, list] = {}

    def dim_key(d, label: str):
        if isinstance(d, int) or d in rigid:
            k = ("dim", d)
            r = uf.find(k)
            uf.value.setdefault(r, d)
            uf.why.setdefault(r, f"{label} = {d}")
            return k
        return ("soft", d)

    def bind(idx: tuple, shape, label: str, pos: int):
        axes = _axes(shape)
        if len(idx) != len(axes):
            what = {0: "a scalar", 1: "a vector", 2: "a matrix"}[len(axes)]
            raise ShapeError(f"{src + ': ' if src else ''}{label} is {what}, so it takes {len(axes)} "
                             f"{'index' if len(axes) == 1 else 'indices'}, got {len(idx)}"
                             + (f" (column {pos + 1})" if src else ""))
        for i, ax in zip(idx, axes):
            side = "entries" if len(axes) == 1 else "rows" if ax == 0 else "columns"
            uf.union(("idx", i), dim_key(shape[ax], f"{side} of {label}"), i, src or label)

    for n in mexprs:
        node = leaves[id(n)]
        idx = n.args[1]
        if not idx and not node.is_scalar:
            if node.shape[1] != 1:
                raise ShapeError(f"{n.args[0]} is {node.shape[0]}×{node.shape[1]} and has no indices: write its "
                                 f"entries, e.g. {_entry_hint(n.args[0])}")
            idx = (RHO,)
        bind(idx, node.shape, n.args[0], n.pos)
    for n in entries:
        name, idx = n.args
        if name in elab_names:
            shape = elab_names[name].shape
        elif name in shapes:
            spec = parse_shape_spec(shapes[name])
            shape = {0: (1, 1), 1: (spec[0], 1) if spec else (1, 1)}.get(len(spec), spec)
        else:
            shape = {1: (f"len({name})", 1), 2: (f"rows({name})", f"cols({name})")}.get(len(idx), (1, 1))
        name_dims.setdefault(name, list(shape))
        bind(idx, shape, name, n.pos)
    for n in _walk(root):
        if n.kind == "delta":
            uf.union(("idx", n.args[0]), ("idx", n.args[1]), f"{n.args[0]} (= {n.args[1]} in delta)", src)
        elif n.kind == "unit":
            uf.union(("idx", n.args[0]), ("idx", RHO), n.args[0], src)
    # every index letter: a dimension (rigid value, else a stable name)
    ranges: dict[str, object] = {}
    letters = [k[1] for k in list(uf.parent) if k[0] == "idx"]
    for i in letters:
        r = uf.find(("idx", i))
        ranges[i] = uf.value.get(r, _soft_name(uf, r))
    names = {}
    for name, shape in name_dims.items():
        names[name] = tuple(d if (isinstance(d, int) or d in rigid) else _range_of(uf, ("soft", d)) for d in shape)
    for name, node in elab_names.items():
        names.setdefault(name, tuple(d if (isinstance(d, int) or d in rigid) else _range_of(uf, ("soft", d))
                                     for d in node.shape))
    # if soft dimensions were merged, type the matrix pieces again over one consistent set of names
    if mexprs:
        declared = dict(shapes)
        for name, shape in names.items():
            if name in elab_names or name in shapes:
                declared[name] = tuple(d for d in shape if d != 1) if shape != (1, 1) else ()
        leaves, elab_names, dims = elaborate(declared)
    free = free_indices(root, leaves)
    return IndexExpr(src, root, leaves, names, ranges, free, dims, elab_names)


def _entry_hint(text: str) -> str:
    return f"{text}_i" if text.isidentifier() else f"({text})_i"


def _soft_name(uf: _UF, r) -> str:
    members = sorted(str(k[1]) for k in uf.parent if uf.find(k) == r and k[0] == "soft" and str(k[1]).isidentifier())
    if members:
        return members[0]
    idx = sorted(str(k[1]) for k in uf.parent if uf.find(k) == r and k[0] == "idx")
    return f"n_{idx[0]}" if idx else "n"


def _range_of(uf: _UF, key):
    r = uf.find(key)
    return uf.value.get(r, _soft_name(uf, r))


# ---------------------------------------------------------------- numeric values

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
    from ..tables import functions
    from ..compile.runtime import resolve

    row = next(r for r in functions().values() if r.printed == name and r.kind == "elementwise")
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
            from ..compile.codegen import evaluate

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


# ---------------------------------------------------------------- SymPy

def to_sympy(text: str | IndexExpr, shapes: dict | None = None):
    """The index expression as SymPy objects: IndexedBase entries, Idx indices over Symbol ranges,
    KroneckerDelta, Sum over 0..n-1; entries of matrix-form pieces are IndexedBase named by their
    matcalc text (`softmax(z)`); elementwise functions are SymPy's where it has them."""
    import sympy as sp

    ix = text if isinstance(text, IndexExpr) else analyze(text, shapes)
    rng = {i: (sp.Integer(d) if isinstance(d, int) else sp.Symbol(str(d), integer=True, positive=True))
           for i, d in ix.ranges.items()}
    idx = {i: sp.Idx(i, rng[i]) for i in rng}
    funcs = {"exp": sp.exp, "log": sp.log, "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "tanh": sp.tanh,
             "arcsin": sp.asin, "arccos": sp.acos, "arctan": sp.atan, "sqrt": sp.sqrt, "abs": sp.Abs,
             "sign": sp.sign}

    def conv(n: IX):
        k, a = n.kind, n.args
        if k == "num":
            return sp.Rational(a[0].numerator, a[0].denominator)
        if k in ("entry", "mexpr"):
            ind = a[1] or ((RHO,) if k == "mexpr" and not ix.leaves[id(n)].is_scalar else ())
            if not ind:
                return sp.Symbol(a[0])
            return sp.IndexedBase(a[0])[tuple(idx[i] for i in ind)]
        if k == "delta":
            return sp.KroneckerDelta(idx[a[0]], idx[a[1]])
        if k == "unit":
            return sp.KroneckerDelta(idx[a[0]], idx[RHO])
        if k == "neg":
            return -conv(a[0])
        if k == "add":
            return sp.Add(*[conv(c) for c in a])
        if k == "mul":
            return sp.Mul(*[conv(c) for c in a])
        if k == "div":
            return conv(a[0]) / conv(a[1])
        if k == "pow":
            return conv(a[0]) ** sp.Rational(a[1].numerator, a[1].denominator)
        if k == "fn":
            f = funcs.get(a[0]) or sp.Function(a[0])
            return f(conv(a[1]))
        if k == "sum":
            return sp.Sum(conv(a[1]), *[(idx[i], 0, rng[i] - 1) for i in a[0]])
        raise ValueError(k)

    return conv(ix.root)
