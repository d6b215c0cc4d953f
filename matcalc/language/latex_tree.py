r"""The small tree latex.py builds from LaTeX (`_N`), and how it is printed as matcalc's ASCII language (`_show`:
an explicit `*` for every product, generous parentheses, `1^T v` as sum(v)). Kept apart from the grammar's
callbacks so that neither module outgrows the 700-line rule.
"""

from __future__ import annotations

from .latex_tokens import LatexError as _Err   # (one error class: the token pass raises it too)


class _N:
    """A node: kind in name num ones call norm neg add minus mul had ediv div pow epow tr group."""

    __slots__ = ("kind", "args", "pos", "paren", "head", "isum")

    def __init__(self, kind: str, *args, pos: int = 0, paren: bool = False):
        self.kind, self.args, self.pos, self.paren, self.head = kind, args, pos, paren, None
        self.isum = None  # for \sum_i: (subscripts of the summand's names before stripping, indices summed)


def _name(base: str, sub: str, pos: int) -> _N:
    return _N("name", base, sub, pos=pos)


def _product(factors, pos: int) -> _N:
    flat = []
    for f in factors:
        flat.extend(f.args[0] if f.kind == "mul" else [f])
    return flat[0] if len(flat) == 1 else _N("mul", flat, pos=pos)


class _Sub(str):
    """A subscript's text, and its items as written: groups split at commas, each group's words split
    at spaces (`{m n, p}` -> [["m", "n"], ["p"]]), which is how matcalc prints sizes (`I_{m n}`, `K_{m,n}`)."""

    groups: list


# ---------------------------------------------------------------- printing

_ATOMIC = {"name", "num", "call", "calln", "norm", "kron"}


def _show(n: _N) -> str:
    k, a = n.kind, n.args
    if k == "xentry":
        raise _Err("an entry of an expression ((AB)_{ij}, softmax(z)_j) is read in index notation only", n.pos)
    if k == "name":
        return "I" if a[0] == "I" else a[0] + a[1]
    if k == "num":
        return a[0]
    if k == "ones":
        raise _Err("\\mathbf{1} (the ones vector) has no size here: write \\mathbf{1}^T v for sum(v), "
                   "or ones(n) in the ASCII language", n.pos)
    if k == "call":
        return f"{a[0]}({_show(a[1])})"
    if k == "calln":
        return f"{a[0]}({', '.join(_show(x) for x in a[1:])})"
    if k == "norm":
        return f"norm{a[1] or '2'}({_show(a[0])})"
    if k == "tr":
        return _tight(a[0]) + "'"
    if k in ("pow", "epow"):
        e = a[1]
        exp = _show(e) if e.kind in ("num", "name") else f"({_show(e)})"
        return _tight(a[0]) + ("^" if k == "pow" else ".^") + exp
    if k == "mul":
        return "*".join(_show(f) if f.kind in _ATOMIC | {"tr", "pow", "epow"} else f"({_show(f)})"
                        for f in _ones_to_sum(a[0]))
    if k == "neg":
        s = _show(a[0])
        return "-" + (s if _safe_after_minus(a[0]) else f"({s})")
    if k == "kron":
        return f"kron({_show(a[0])}, {_show(a[1])})"
    if k in ("had", "ediv", "div"):
        op = {"had": " .* ", "ediv": " ./ ", "div": "/"}[k]
        return f"({_show(a[0])}){op}({_show(a[1])})"
    r = _show(a[1])
    if a[1].kind in ("add", "minus", "neg"):
        r = f"({r})"
    return f"{_show(a[0])} {'+' if k == 'add' else '-'} {r}"


def _tight(n: _N) -> str:
    s = _show(n)
    return s if n.kind in _ATOMIC else f"({s})"


def _safe_after_minus(n: _N) -> bool:
    if n.kind == "mul":
        return _safe_after_minus(n.args[0][0])
    return n.kind in _ATOMIC or n.kind == "tr"


def _ones_to_sum(factors: list) -> list:
    """1^T v -> sum(v); 1^T M 1 -> sum(M)."""
    for k, f in enumerate(factors):
        if f.kind == "tr" and f.args[0].kind == "ones":
            rest = factors[k + 1 :]
            if rest and rest[-1].kind == "ones":
                rest = rest[:-1]
            if not rest:
                raise _Err("\\mathbf{1}^T needs a vector after it", f.pos)
            return factors[:k] + [_N("call", "sum", _product(rest, rest[0].pos), pos=f.pos)]
    return factors
