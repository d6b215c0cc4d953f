"""Index notation <-> matrix form: `sum_k A_ik*B_kj` -> `A*B`, and `diag(s) - s*s'` -> `s_i*(delta_ik - s_k)`.

Why our own rewriter: SymPy's indexed -> array -> matrix conversion raises on inputs as simple as
`sum_k A_ik*B_kj`.  The rewrite is a small tensor-network contraction: every factor of a product is an
edge between its (at most two) indices — a vector entry x_i is an edge from i to a loose end, so
`x_i*A_ij*y_j` summed over i, j reads as the chain x'*A*y — and each summed index is eliminated by
joining the two edges at it (a third factor there, a vector, goes in as diag(v)); factors over the
same indices multiply entrywise (.*).  Kronecker deltas against a summed index are collapsed first
(a product distributes over a sum only where the sum has no matrix form of its own, so
`(s_i - y_i)*x_j` stays `(s - y)*x'`).  Where no matrix form
exists (three free indices, an index shared by three matrices) the error says so.

The library's to_matrix (check/reading.py) checks every result numerically against the index expression
on a random instance with distinct sizes before it returns it, so a rewrite is right or refused, never
different.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

from ..errors import UnsupportedError
from ..language.index import RHO, IndexExpr, analyze
from ..language.index_parse import HIDDEN, IX, atomic_text, rename_indices

__all__ = ["to_matrix", "to_index", "convert"]


class NoMatrixForm(UnsupportedError):
    """An index expression that no matrix expression of matcalc's language writes."""


# ---------------------------------------------------------------- matrix-form terms

class M:
    """A matrix-form term: op in name num T mul had add neg fn epow div (text printing only)."""

    __slots__ = ("op", "args")

    def __init__(self, op, *args):
        self.op, self.args = op, args


def _name(s: str) -> M:
    return M("name", s)


ONE = M("num", Fraction(1))


def _T(m: M) -> M:
    if m.op == "T":
        return m.args[0]
    if m.op == "scaled":  # a scalar coefficient stays in front, untransposed
        return M("scaled", m.args[0], _T(m.args[1]))
    if m.op == "num" or (m.op == "name" and m.args[0] == "I") or (m.op == "fn" and m.args[0] == "diag"):
        return m
    if m.op == "mul":
        return M("mul", *[_T(a) for a in reversed(m.args)])
    if m.op in ("add",):
        return M("add", *[(sg, _T(a)) for sg, a in m.args])
    if m.op == "neg":
        return M("neg", _T(m.args[0]))
    if m.op == "had":
        return M("had", *[_T(a) for a in m.args])
    return M("T", m)


def _mul(*ms: M) -> M:
    parts = []
    coefs = []
    for m in ms:
        if m.op == "scaled":
            coefs.append(m.args[0])
            m = m.args[1]
        if m.op == "num" and m.args[0] == 1:
            continue
        if m.op == "name" and m.args[0] == "I" and parts:
            continue
        parts.extend(m.args if m.op == "mul" else (m,))
    if len(parts) > 1 and parts[0].op == "name" and parts[0].args[0] == "I":
        parts = parts[1:]
    if coefs:
        core = _mul(*parts) if parts else ONE
        return M("scaled", _mul(*coefs), core) if parts else _mul(*coefs)
    if not parts:
        return ONE
    return parts[0] if len(parts) == 1 else M("mul", *parts)


_PREC = {"add": 1, "neg": 2, "mul": 3, "scaled": 3, "had": 3, "div": 3, "T": 5, "epow": 5, "name": 6, "num": 6, "fn": 6}


def show(m: M) -> str:
    k, a = m.op, m.args
    if k == "name":
        return a[0]
    if k == "num":
        v = a[0]
        return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"
    if k == "fn":
        return f"{a[0]}({show(a[1])})"
    if k == "T":
        return _wrap(a[0], 5) + "'"
    if k == "epow":
        p = a[1]
        ps = str(p.numerator) if p.denominator == 1 else f"({p.numerator}/{p.denominator})"
        return _wrap(a[0], 6) + ".^" + ps
    if k == "neg":
        return "-" + _wrap(a[0], 3)
    if k == "mul":
        return "*".join(_wrap(x, 3 if i == 0 else 4) for i, x in enumerate(a))
    if k == "scaled":
        return show(_mul(a[0], a[1]))
    if k == "had":
        return " .* ".join(_wrap(x, 4) for x in a)
    if k == "div":
        op = " ./ " if a[2] else "/"
        return _wrap(a[0], 3) + op + _wrap(a[1], 4)
    if k == "add":
        out = []
        for n, (sign, x) in enumerate(a):
            s = _wrap(x, 2 if sign > 0 else 3)
            if n == 0:
                out.append(("-" if sign < 0 else "") + s)
            else:
                out.append((" - " if sign < 0 else " + ") + s)
        return "".join(out)
    raise ValueError(k)


def _wrap(m: M, need: int) -> str:
    s = show(m)
    prec = _PREC[m.op]
    if m.op == "num" and m.args[0].denominator != 1:
        prec = 3
    if m.op == "num" and m.args[0] < 0:
        prec = 2
    return s if prec >= need else f"({s})"


# ---------------------------------------------------------------- parts: (matrix, index axes)

class Part:
    """A matrix-form term and the indices of its axes: () scalar, (i,) column vector, (i, j) matrix."""

    __slots__ = ("m", "idx", "broadcast")

    def __init__(self, m: M, idx: tuple):
        self.m, self.idx = m, tuple(idx)
        self.broadcast = False  # a sum with a row/column broadcast: a product distributes over it first

    def oriented(self, idx: tuple) -> M:
        if self.idx == tuple(idx) or len(idx) < 2:
            return self.m
        return _T(self.m)


class _Rewriter:
    def __init__(self, ix: IndexExpr):
        self.ix = ix
        self.ranges = dict(ix.ranges)  # the typed expression is cached: renamed indices go here
        self.fresh = (f"t{n}" for n in itertools.count())

    def size_text(self, i: str) -> str:
        d = self.ranges.get(i)
        if d is None:
            raise NoMatrixForm(f"the range of index {i} is unknown")
        return str(d)

    def ones(self, i: str) -> M:
        return M("fn", "ones", _name(self.size_text(i)))

    # ---- structure
    def conv(self, n: IX) -> Part:
        k, a = n.kind, n.args
        if k == "num":
            return Part(M("num", a[0]), ())
        if k in ("entry", "mexpr"):
            idx = a[1]
            if k == "mexpr" and not idx and not self.ix.leaves[id(n)].is_scalar:
                idx = (RHO,)
            text = a[0]
            leaf = _name(text) if k == "entry" or text.isidentifier() else M("name", f"({text})"
                                                                          if not atomic_text(text) else text)
            if len(idx) == 2 and idx[0] == idx[1]:
                return Part(M("fn", "diag", leaf), (idx[0],))
            if k == "mexpr" and idx:
                shape = self.ix.leaves[id(n)].shape
                if shape[0] == 1 and shape[1] != 1:  # entries of a row vector: its transpose's
                    return Part(_T(leaf), idx)
            return Part(leaf, idx)
        if k == "delta":
            if a[0] == a[1]:
                return Part(ONE, ())
            return Part(_name("I"), (a[0], a[1]))
        if k == "unit":
            return Part(_name("I"), (a[0], RHO))
        if k == "neg":
            p = self.conv(a[0])
            return Part(_neg(p.m), p.idx)
        if k == "fn":
            p = self.conv(a[1])
            return Part(M("fn", a[0], p.m), p.idx)
        if k == "pow":
            p = self.conv(a[0])
            if not p.idx:
                return Part(M("epow", p.m, a[1]) if a[1] != 1 else p.m, ())
            return Part(M("epow", p.m, a[1]), p.idx)
        if k == "div":
            num, den = self.conv(a[0]), self.conv(a[1])
            if not den.idx:
                return Part(M("div", num.m, den.m, False), num.idx)
            if set(den.idx) == set(num.idx):
                return Part(M("div", num.m, den.oriented(num.idx), True), num.idx)
            if not num.idx:
                return Part(M("div", num.m, den.m, True), den.idx)
            return self.product([num, Part(M("epow", den.m, Fraction(-1)), den.idx)], ())
        if k == "add":
            return self.add([self.conv_or_none(c) for c in a], a)
        if k == "mul":
            return self.mul(list(a), ())
        if k == "sum":
            return self.summed(a[0], a[1])
        raise ValueError(k)

    def conv_or_none(self, n: IX):
        try:
            return self.conv(n)
        except NoMatrixForm:
            return None

    def add(self, parts, nodes) -> Part:
        if any(p is None for p in parts):
            raise NoMatrixForm("a sum of terms without a matrix form")
        idx = max((p.idx for p in parts), key=len)
        want = set(idx)
        broadcast = False
        terms = []
        for p in parts:
            if not p.idx or set(p.idx) == want:  # a scalar term broadcasts in matcalc (1 - sigmoid(x))
                m = p.oriented(idx)
            elif len(idx) == 2 and len(p.idx) == 1 and p.idx[0] in want:
                # a vector along one index of a matrix: a column (c) or a row (b') broadcast
                m = p.m if p.idx[0] == idx[0] else _T(p.m)
                broadcast = True
            else:
                raise NoMatrixForm(f"terms over different indices ({', '.join(idx) or 'none'} and "
                                   f"{', '.join(p.idx) or 'none'})")
            if m.op == "neg":
                terms.append((-1, m.args[0]))
            elif m.op == "add":
                terms.extend(m.args)
            else:
                terms.append((1, m))
        part = Part(M("add", *terms), idx)
        part.broadcast = broadcast or any(getattr(p, "broadcast", False) for p in parts)
        return part

    def mul(self, factors: list[IX], summed: tuple) -> Part:
        """A product (summed over `summed`): distribute over sums that have no matrix form of their own."""
        parts = []
        for n, f in enumerate(factors):
            if f.kind == "sum":  # pull a nested sum out: sum_i x_i * sum_j A_ij y_j = sum_{i,j} ...
                inner, body = self._rename_bound(f, factors)
                rest = factors[:n] + factors[n + 1:]
                body_factors = list(body.args) if body.kind == "mul" else [body]
                return self.mul(rest + body_factors, summed + inner)
            if f.kind == "neg":
                p = self.mul(factors[:n] + [f.args[0]] + factors[n + 1:], summed)
                return Part(_neg(p.m), p.idx)
            if f.kind == "mul":
                return self.mul(factors[:n] + list(f.args) + factors[n + 1:], summed)
            if f.kind == "div" and not _all_indices(f.args[1]):  # sum_k a_k/m = (sum_k a_k)/m
                p = self.mul(factors[:n] + [f.args[0]] + factors[n + 1:], summed)
                return Part(M("div", p.m, self.conv(f.args[1]).m, False), p.idx)
            p = self.conv_or_none(f)
            if p is None:
                if f.kind != "add":
                    raise NoMatrixForm("a factor without a matrix form")
                rest = factors[:n] + factors[n + 1:]
                return self.add([self.mul(rest + [t], summed) for t in f.args], f.args)
            parts.append(p)
        if len(factors) > 1 and any(p.broadcast for p in parts):  # s_i*(delta_ik - s_k): distribute
            n = next(n for n, p in enumerate(parts) if p.broadcast)
            if factors[n].kind == "add":
                rest = factors[:n] + factors[n + 1:]
                try:
                    return self.add([self.mul(rest + [t], summed) for t in factors[n].args], factors[n].args)
                except NoMatrixForm:
                    pass
        try:
            return self.product(parts, summed)
        except NoMatrixForm:
            for n, f in enumerate(factors):  # a factor over broadcast terms: distribute it
                if f.kind == "add":
                    rest = factors[:n] + factors[n + 1:]
                    return self.add([self.mul(rest + [t], summed) for t in f.args], f.args)
            raise

    def _rename_bound(self, f: IX, others: list[IX]):
        inner = f.args[0]
        used = set()
        for o in others:
            if o is not f:
                used |= set(_all_indices(o))
        clash = [i for i in inner if i in used]
        body = f.args[1]
        if clash:
            mapping = {}
            for i in clash:
                new = next(c for c in "abcdefghklmnpqrstuvw" if c not in used and c not in inner
                           and c not in mapping.values())
                mapping[i] = new
                self.ranges[new] = self.ranges[i]
            body = rename_indices(body, mapping)
            inner = tuple(mapping.get(i, i) for i in inner)
        return tuple(inner), body

    def summed(self, indices: tuple, body: IX) -> Part:
        if body.kind == "div" and not _all_indices(body.args[1]):
            p = self.summed(indices, body.args[0])
            return Part(M("div", p.m, self.conv(body.args[1]).m, False), p.idx)
        if body.kind == "add":
            return self.add([self.summed(indices, t) for t in body.args], body.args)
        if body.kind == "neg":
            p = self.summed(indices, body.args[0])
            return Part(_neg(p.m), p.idx)
        factors = list(body.args) if body.kind == "mul" else [body]
        return self.mul(factors, tuple(indices))

    # ---- contraction
    def product(self, parts: list[Part], summed: tuple) -> Part:
        scalars = [p.m for p in parts if not p.idx]
        edges = [p for p in parts if p.idx]
        summed = list(summed)
        # collapse deltas against a summed index: sum_k A_ik delta_kj = A_ij
        changed = True
        while changed:
            changed = False
            for e in edges:
                if _is_eye(e.m) and len(e.idx) == 2 and (e.idx[0] in summed or e.idx[1] in summed):
                    k, other = (e.idx[0], e.idx[1]) if e.idx[0] in summed else (e.idx[1], e.idx[0])
                    if sum(k in x.idx for x in edges) < 2:
                        continue
                    edges.remove(e)
                    edges = [Part(x.m, tuple(other if i == k else i for i in x.idx)) for x in edges]
                    summed.remove(k)
                    changed = True
                    break
        edges = [self._diagonal(e) for e in edges]
        scalars += [e.m for e in edges if not e.idx]
        edges = [e for e in edges if e.idx]
        edges = self._merge(edges, matrices_only=True)
        for e in list(edges):  # sum_{i,j} X_ij = sum(X)
            if len(e.idx) == 2 and all(i in summed and sum(i in x.idx for x in edges) == 1 for i in e.idx):
                edges.remove(e)
                scalars.append(M("fn", "sum", e.m))
                summed = [i for i in summed if i not in e.idx]
        while summed:  # the index with the fewest factors first: the others may then join
            k = min(summed, key=lambda i: (sum(i in e.idx for e in self._merge(edges, True)), summed.index(i)))
            summed.remove(k)
            edges, scal = self.eliminate(self._merge(edges, matrices_only=True), k)
            scalars += scal
        edges = self._merge(edges)
        free = []
        for e in edges:
            for i in e.idx:
                if i not in free:
                    free.append(i)
        coef = _mul(*scalars) if scalars else ONE
        if len(free) > 2:
            raise NoMatrixForm(f"{len(free)} free indices ({', '.join(free)}): a matrix has two")
        if not free:
            return Part(coef, ())
        if len(free) == 1:
            (e,) = edges
            return Part(_scale(coef, e.m), free)
        i, j = free
        mats = [e for e in edges if len(e.idx) == 2]
        left = [e for e in edges if e.idx == (i,)]
        right = [e for e in edges if e.idx == (j,)]
        if mats:
            core = mats[0].oriented((i, j))
            core = _mul(*([M("fn", "diag", left[0].m)] if left else []), core,
                        *([M("fn", "diag", right[0].m)] if right else []))
        else:
            lm = left[0].m if left else self.ones(i)
            rm = _T(right[0].m) if right else _T(self.ones(j))
            core = _mul(lm, rm)
        return Part(_scale(coef, core), (i, j))

    def _diagonal(self, e: Part) -> Part:
        return e

    def _merge(self, edges: list[Part], matrices_only: bool = False) -> list[Part]:
        """Factors over the same indices multiply entrywise."""
        out: list[Part] = []
        for e in edges:
            for n, o in enumerate(out):
                if matrices_only and len(e.idx) < 2:
                    continue
                if set(o.idx) == set(e.idx) and len(o.idx) == len(e.idx):
                    out[n] = Part(_had(o.m, e.oriented(o.idx)), o.idx)
                    break
            else:
                out.append(e)
        return out

    def eliminate(self, edges: list[Part], k: str):
        touching = [e for e in edges if k in e.idx]
        rest = [e for e in edges if k not in e.idx]
        if not touching:  # sum_k c = n_k * c
            return rest, [_name(self.size_text(k))]
        if len(touching) > 2:
            touching = self._merge(touching)
        vecs = [e for e in touching if len(e.idx) == 1]
        mats = [e for e in touching if len(e.idx) == 2]
        if len(vecs) > 1 and (mats or len(vecs) > 2):
            merged = vecs[0].m
            for v in vecs[1:]:
                merged = _had(merged, v.m)
            vecs = [Part(merged, (k,))]
        if len(mats) > 2:
            raise NoMatrixForm(f"index {k} is shared by {len(mats)} matrices: no matrix product writes that")
        if len(mats) == 2:
            a, b = mats
            ia = a.idx[0] if a.idx[1] == k else a.idx[1]
            ib = b.idx[0] if b.idx[1] == k else b.idx[1]
            middle = [M("fn", "diag", vecs[0].m)] if vecs else []
            m = _mul(a.oriented((ia, k)), *middle, b.oriented((k, ib)))
            if ia == ib:  # sum_k A_ik B_ki: the diagonal of A*B
                return rest + [Part(M("fn", "diag", m), (ia,))], []
            return rest + [Part(m, (ia, ib))], []
        if len(mats) == 1:
            a = mats[0]
            ia = a.idx[0] if a.idx[1] == k else a.idx[1]
            v = vecs[0].m if vecs else self.ones(k)
            return rest + [Part(_mul(a.oriented((ia, k)), v), (ia,))], []
        if len(vecs) == 2:
            a, b = vecs[0].m, vecs[1].m
            one, other = _mul(_T(a), b), _mul(_T(b), a)
            return rest, [one if _transposes(one) <= _transposes(other) else other]
        v = vecs[0].m
        if v.op == "fn" and v.args[0] == "diag":  # sum_i X_ii
            return rest, [M("fn", "tr", v.args[1])]
        return rest, [M("fn", "sum", v)]


def _transposes(m: M) -> int:
    own = 1 if m.op == "T" else 0
    kids = [x for x in m.args if isinstance(x, M)] + [x[1] for x in m.args if isinstance(x, tuple)]
    return own + sum(_transposes(x) for x in kids)


def _is_eye(m: M) -> bool:
    return m.op == "name" and m.args[0] == "I"


def _neg(m: M) -> M:
    if m.op == "neg":
        return m.args[0]
    if m.op == "num":
        return M("num", -m.args[0])
    return M("neg", m)


def _had(a: M, b: M) -> M:
    if _is_eye(a):
        return M("fn", "diag", M("fn", "diag", b))
    parts = (a.args if a.op == "had" else (a,)) + (b.args if b.op == "had" else (b,))
    return M("had", *parts)


def _scale(coef: M, m: M) -> M:
    if coef.op == "num" and coef.args[0] == 1:
        return m
    if coef.op == "num" and coef.args[0] == -1:
        return _neg(m)
    return M("scaled", coef, m)


def _all_indices(n: IX) -> set:
    out = set()
    stack = [n]
    while stack:
        x = stack.pop()
        if x.kind in ("entry", "mexpr"):
            out |= set(x.args[1])
        elif x.kind == "delta":
            out |= {x.args[0], x.args[1]}
        elif x.kind == "unit":
            out.add(x.args[0])
        elif x.kind == "sum":
            out |= set(x.args[0])
            stack.append(x.args[1])
        elif x.kind in ("add", "mul", "neg", "div"):
            stack.extend(x.args)
        elif x.kind == "pow":
            stack.append(x.args[0])
        elif x.kind == "fn":
            stack.append(x.args[1])
    return out


# ---------------------------------------------------------------- public

def to_matrix(text: str, shapes: dict | None = None, free: tuple[str, ...] | None = None) -> str:
    """The matcalc matrix expression whose entries are the index expression `text` (see convert)."""
    return convert(text, shapes, free)[2]


def convert(text: str, shapes: dict | None = None, free: tuple[str, ...] | None = None) -> tuple:
    """(the typed index expression, the order of its free indices, the matcalc matrix expression whose
    entries it gives).

    The result's rows are indexed by the first free index and its columns by the second: `free`, or
    else the free indices in alphabetical order (so `A_ji` -> `A'`, `s_k*s_i` -> `s*s'`): `a_i*b_j` -> `a*b'`, `sum_k A_ik*B_kj` -> `A*B`,
    `delta_ij` -> `I`, `s_i*(delta_ik - s_k)` -> `diag(s) - s*s'`, `sum_i a_i*b_i` -> `a'*b`,
    `x_i*y_i` -> `x .* y`.  NoMatrixForm (a MatcalcError) where none exists. The library's to_matrix
    (check/reading.py) checks the result numerically against the index expression before it returns it."""
    ix = analyze(text, shapes)
    order = tuple(free) if free is not None else tuple(sorted(i for i in ix.free if i not in HIDDEN)) + \
        tuple(i for i in ix.free if i in HIDDEN)
    if len(order) > 2:
        raise NoMatrixForm(f"{text}: {len(order)} free indices ({', '.join(_show_index(i) for i in order)}); a "
                           f"matrix form has at most two")
    if ix.root.kind == "mexpr" and not ix.root.args[1]:
        return ix, order, ix.root.args[0]
    try:
        part = _Rewriter(ix).conv(ix.root)
    except NoMatrixForm as e:
        raise NoMatrixForm(f"{text}: no matrix form: {e}") from None
    if set(part.idx) != set(order) and part.idx:
        raise NoMatrixForm(f"{text}: free indices {part.idx} do not match {order}")
    m = part.oriented(order) if len(order) == 2 else part.m
    return ix, order, show(m)


def _show_index(i: str) -> str:
    return "the vector's own axis" if i in HIDDEN else i


def to_index(node_or_text, free: tuple[str, ...] | None = None, shapes: dict | None = None) -> str:
    """A matcalc matrix expression (a typed Node of shapes.py, or text with `shapes`) in index notation:
    `diag(s) - s*s'` -> `s_i*(delta_ik - s_k)` with free=('i', 'k'), `(s - y)*x'` -> `(s_i - y_i)*x_j`,
    `A*B` -> `sum_k A_ik*B_kj`, `W*x + b` -> `sum_j W_ij*x_j + b_i`, `inv(X)'` -> `inv(X)_ji`.
    free: the row and column index letters (default i, j; i for a vector)."""
    from ..language.index_print import node_to_index

    return node_to_index(node_or_text, free, shapes)
