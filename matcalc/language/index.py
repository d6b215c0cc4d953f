r"""Index notation: typing, and SymPy objects (numeric values entry by entry: compile/index_eval.py).

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

SymPy is imported lazily (only by to_sympy), so `matcalc derive` keeps starting fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from ..errors import ParseError, ShapeError
from .index_parse import HIDDEN, IX, parse_index, parse_index_derivative

__all__ = ["parse_index", "parse_index_derivative", "IndexExpr", "analyze", "free_indices", "to_sympy"]

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
