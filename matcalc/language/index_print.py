"""A typed matrix expression written in index notation (`--format index`).

Why: hand derivations state results entrywise; printing matcalc's result the same way lets a reader
match `diag(s) - s*s'` with the textbook's `s_i*(delta_ik - s_k)`.  Each operator has its entry rule
(a matrix product sums over a fresh index, a transpose swaps indices, diag(v) is v_i*delta_ij, an
elementwise function applies to the entry); a piece with no entry rule of its own (softmax, inv, a
scalar reduction) is shown as an entry of that piece: `softmax(z)_i`, `inv(X)_ji`, `sum(y)`.
A factor common to every term of a sum is pulled out, as a hand derivation writes it.
"""

from __future__ import annotations

from fractions import Fraction

from ..errors import ShapeError
from .expr import Node
from .index_parse import IX, atomic_text, rename_indices

_LETTERS = "ijklmnpqrstuvwabcdefgh"


def node_to_index(node_or_text, free=None, shapes=None) -> str:
    if isinstance(node_or_text, str):
        from .shapes import elaborate

        node = elaborate(node_or_text, shapes).root
    elif isinstance(node_or_text, Node):
        node = node_or_text
    else:
        raise TypeError(f"expected a typed Node or text, got {type(node_or_text).__name__}")
    axes = _axes(node.shape)
    if free is None:
        free = ("i", "j")[:len(axes)] if len(axes) == 2 else ("i",)[:len(axes)]
    free = tuple(free)
    if len(free) != len(axes):
        raise ShapeError(f"{len(free)} free indices for a {'scalar' if not axes else 'vector' if len(axes) == 1 else 'matrix'}")
    b = _Builder(set(free))
    tree = _factor(_collapse(b.entry(node, free)))
    return show(tree)


def _axes(shape):
    r, c = shape
    return tuple(ax for ax, d in ((0, r), (1, c)) if d != 1)


class _Builder:
    def __init__(self, used: set):
        self.used = set(used)

    def fresh(self) -> str:
        for ch in _LETTERS:
            if ch not in self.used:
                self.used.add(ch)
                return ch
        n = len(self.used)
        self.used.add(f"k{n}")
        return f"k{n}"

    def entry(self, n: Node, idx: tuple) -> IX:
        """The entry of n at idx (one index per non-unit axis)."""
        op = n.op
        full = _full(n.shape, idx)  # (row index or None, column index or None)
        if op == "num":
            return IX("num", n.attr)
        if op == "sym":
            return IX("entry", n.attr, idx) if idx else IX("mexpr", n.attr, ())
        if op == "eye":
            return IX("delta", full[0], full[1])
        if op == "ones" or (op == "bcast" and n.args[0].op == "num" and n.args[0].attr == 1):
            return IX("num", Fraction(1))
        if op == "zero":
            return IX("num", Fraction(0))
        if op == "T":
            inner = n.args[0]
            return self.entry(inner, _pick(inner.shape, (full[1], full[0])))
        if op == "bcast":
            inner = n.args[0]
            r = full[0] if inner.shape[0] != 1 else None
            c = full[1] if inner.shape[1] != 1 else None
            return self.entry(inner, _pick(inner.shape, (r, c)))
        if op == "add":
            return _add([self.entry(t, idx) for t in n.args])
        if op == "had":
            return _mul([self.entry(t, idx) for t in n.args])
        if op == "epow":
            return IX("pow", self.entry(n.args[0], idx), n.attr)
        if op == "pow":
            return IX("pow", self.entry(n.args[0], ()), n.attr)
        if op == "mul":
            return self.product(n, full)
        if op == "fn":
            from .functions import row as function_row

            row = function_row(n.attr)
            arg = n.args[0]
            if row.kind == "elementwise" and row.arity == 1:
                return IX("fn", row.printed, self.entry(arg, idx))
            if row.kind == "tomatrix":  # diag(v)_ij = v_i delta_ij
                return _mul([self.entry(arg, (full[0],)), IX("delta", full[0], full[1])])
        from .printing import to_text

        return IX("mexpr", to_text(n), idx)

    def product(self, n: Node, full) -> IX:
        scalars = [f for f in n.args if f.is_scalar]
        chain = [f for f in n.args if not f.is_scalar]
        factors = [self.entry(s, ()) for s in scalars]
        summed = []
        left = full[0]
        for k, f in enumerate(chain):
            last = k == len(chain) - 1
            if last:
                right = full[1]
            elif f.shape[1] == 1:
                right = None
            else:
                right = self.fresh()
                summed.append(right)
            r = left if f.shape[0] != 1 else None
            c = right if f.shape[1] != 1 else None
            factors.append(self.entry(f, _pick(f.shape, (r, c))))
            left = right
        body = _mul(factors)
        return IX("sum", tuple(summed), body) if summed else body


def _full(shape, idx):
    axes = _axes(shape)
    out = [None, None]
    for ax, i in zip(axes, idx):
        out[ax] = i
    return tuple(out)


def _pick(shape, full):
    return tuple(full[ax] for ax in _axes(shape))


def _mul(factors: list[IX]) -> IX:
    flat = []
    coef = Fraction(1)
    for f in factors:
        for g in (f.args if f.kind == "mul" else (f,)):
            if g.kind == "num":
                coef *= g.args[0]
            else:
                flat.append(g)
    if coef == 0:
        return IX("num", Fraction(0))
    if coef != 1 or not flat:
        if coef == -1 and flat:
            inner = flat[0] if len(flat) == 1 else IX("mul", *flat)
            return IX("neg", inner)
        flat.insert(0, IX("num", coef))
    return flat[0] if len(flat) == 1 else IX("mul", *flat)


def _add(terms: list[IX]) -> IX:
    flat = []
    for t in terms:
        flat.extend(t.args if t.kind == "add" else (t,))
    flat = [t for t in flat if not (t.kind == "num" and t.args[0] == 0)]
    if not flat:
        return IX("num", Fraction(0))
    return flat[0] if len(flat) == 1 else IX("add", *flat)


def _collapse(n: IX) -> IX:
    """A delta against a summed index goes: sum_l x_k*delta_kl*B_lj -> x_k*B_kj (diag inside a product)."""
    k, a = n.kind, n.args
    if k in ("add", "mul", "neg", "div"):
        return IX(k, *[_collapse(c) for c in a])
    if k in ("fn",):
        return IX(k, a[0], _collapse(a[1]))
    if k == "pow":
        return IX(k, _collapse(a[0]), a[1])
    if k != "sum":
        return n
    summed, body = list(a[0]), _collapse(a[1])
    factors = list(body.args) if body.kind == "mul" else [body]
    changed = True
    while changed:
        changed = False
        for f in factors:
            if f.kind == "delta" and (f.args[1] in summed or f.args[0] in summed):
                gone, keep = (f.args[1], f.args[0]) if f.args[1] in summed else (f.args[0], f.args[1])
                factors = [_rename_index(g, gone, keep) for g in factors if g is not f]
                summed.remove(gone)
                changed = True
                break
    body = _mul(factors) if factors else IX("num", Fraction(1))
    return IX("sum", tuple(summed), body) if summed else body


def _rename_index(n: IX, old: str, new: str) -> IX:
    return rename_indices(n, {old: new})


def _key(n: IX) -> str:
    return show(n)


def _factor(n: IX) -> IX:
    """Pull a factor common to every term out of a sum: s_i*delta_ik - s_i*s_k -> s_i*(delta_ik - s_k)."""
    if n.kind in ("mul", "neg", "div", "fn", "add"):
        args = [(_factor(a) if isinstance(a, IX) else a) for a in n.args]
        n = IX(n.kind, *args)
    if n.kind == "sum":
        n = IX("sum", n.args[0], _factor(n.args[1]))
    if n.kind != "add":
        return n
    parts = []
    for t in n.args:
        sign = 1
        if t.kind == "neg":
            sign, t = -1, t.args[0]
        parts.append((sign, list(t.args) if t.kind == "mul" else [t]))
    common = [f for f in parts[0][1] if f.kind != "num"]
    for _, fs in parts[1:]:
        keys = [_key(f) for f in fs]
        common = [f for f in common if _key(f) in keys]
    if not common or any(len(fs) == len(common) for _, fs in parts if False):
        return n
    ck = [_key(f) for f in common]
    terms = []
    for sign, fs in parts:
        rest, removed = [], list(ck)
        for f in fs:
            k = _key(f)
            if k in removed:
                removed.remove(k)
            else:
                rest.append(f)
        term = _mul(rest) if rest else IX("num", Fraction(1))
        terms.append(term if sign > 0 else IX("neg", term))
    return _mul(common + [_add(terms)])


# ---------------------------------------------------------------- printing

def _idx_text(idx) -> str:
    if all(len(i) == 1 for i in idx):
        return "_" + "".join(idx)
    return "[" + ",".join(idx) + "]"


def _atomic(text: str) -> bool:
    return atomic_text(text)


_PREC = {"add": 1, "neg": 2, "sum": 2, "mul": 3, "div": 3, "pow": 5, "num": 6, "entry": 6, "mexpr": 6,
         "delta": 6, "fn": 6, "unit": 6}


def show(n: IX) -> str:
    k, a = n.kind, n.args
    if k == "pow" and a[1] < 0:
        return show(IX("mul", n))
    if k == "num":
        v = a[0]
        return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"
    if k == "entry":
        return a[0] + _idx_text(a[1])
    if k == "mexpr":
        if not a[1]:
            return a[0]
        return (a[0] if _atomic(a[0]) else f"({a[0]})") + _idx_text(a[1])
    if k == "delta":
        return "delta" + _idx_text((a[0], a[1]))
    if k == "unit":
        return "e_" + a[0]
    if k == "fn":
        return f"{a[0]}({show(a[1])})"
    if k == "pow":
        p = a[1]
        ps = str(p.numerator) if p.denominator == 1 else f"({p.numerator}/{p.denominator})"
        return _wrap(a[0], 6) + "^" + ps
    if k == "neg":
        return "-" + _wrap(a[0], 3)
    if k == "mul":
        den = [IX("pow", x.args[0], -x.args[1]) if x.args[1] != -1 else x.args[0]
               for x in a if x.kind == "pow" and x.args[1] < 0]
        if den:
            num = [x for x in a if not (x.kind == "pow" and x.args[1] < 0)]
            top = IX("mul", *num) if len(num) > 1 else (num[0] if num else IX("num", Fraction(1)))
            bottom = IX("mul", *den) if len(den) > 1 else den[0]
            return _wrap(top, 3) + "/" + _wrap(bottom, 4)
        return "*".join(_wrap(x, 3 if i == 0 else 4) for i, x in enumerate(a))
    if k == "div":
        return _wrap(a[0], 3) + "/" + _wrap(a[1], 4)
    if k == "sum":
        idx = a[0][0] if len(a[0]) == 1 and len(a[0][0]) == 1 else "{" + ",".join(a[0]) + "}"
        return f"sum_{idx} " + _wrap(a[1], 3)
    if k == "add":
        if a[0].kind == "neg" and any(t.kind != "neg" for t in a):  # lead with a positive term
            first = next(t for t in a if t.kind != "neg")
            a = (first,) + tuple(t for t in a if t is not first)
        out = [show(a[0])]
        for t in a[1:]:
            if t.kind == "neg":
                out.append(" - " + _wrap(t.args[0], 3))
            else:
                out.append(" + " + _wrap(t, 2))
        return "".join(out)
    raise ValueError(k)


def _wrap(n: IX, need: int) -> str:
    s = show(n)
    prec = _PREC[n.kind]
    if n.kind == "num" and (n.args[0] < 0 or n.args[0].denominator != 1):
        prec = 2
    return s if prec >= need else f"({s})"
