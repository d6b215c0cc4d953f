"""The forward walk: the differential dF of every node of an expression, given d of the variable.

Each node's differential is built from its children's by the forward rules: linearity for sums, the
product rule for `*` and `.*`, `d(X') = dX'`, and for a function the `derivative` (elementwise:
f'(X) .* dX) or `differential` column of rules/functions.toml. Used by the differential method
(forward.py), the Kronecker form (kronecker.py) and, where the adjoint walk cannot read a Jacobian
off, by derive.py (with dX a direction, or dα = 1 for a scalar variable).
"""

from __future__ import annotations

from fractions import Fraction

from .. import budget as _budget
from ..errors import UnsupportedError
from ..language import expr as E
from ..language.expr import Node
from ..language.functions import row as function_row
from .adjoint import instantiate, times_slope


def _powers(base: Node, k: int) -> list[Node]:
    """base^0 … base^k as products (I for the zeroth)."""
    out = [E.eye(base.shape[0])]
    for _ in range(k):
        out.append(E.mul(out[-1], base) if out[-1].op != "eye" else base)
    return out


class Forward:
    """dF for every node of one expression, given d of the variable."""

    def __init__(self, x: Node, dx: Node):
        self.x, self.dx = x, dx
        self.memo: dict[Node, Node] = {}

    def __call__(self, root: Node) -> Node:
        for node in E.walk(root):                       # children before parents: no recursion depth
            _budget.check("taking the differential")
            self.memo[node] = self._rule(node)
        return self.memo[root]

    def d(self, node: Node) -> Node:
        return self.memo[node]

    def _rule(self, n: Node) -> Node:
        op = n.op
        if n is self.x:
            return self.dx
        if op in ("sym", "num", "eye", "ones", "zero", "comm"):
            return E.zero(n.shape)
        if all(E.is_zero(self.d(a)) for a in n.args):
            return E.zero(n.shape)
        if op == "add":
            return E.add(*(self.d(a) for a in n.args))
        if op in ("mul", "had"):
            join = E.mul if op == "mul" else E.hadamard
            terms = []
            for i, a in enumerate(n.args):
                if not E.is_zero(self.d(a)):
                    terms.append(join(*n.args[:i], self.d(a), *n.args[i + 1:]))
            return E.add(*terms)
        if op == "T":
            return E.transpose(self.d(n.args[0]))
        if op == "bcast":
            return E.bcast(self.d(n.args[0]), n.shape)
        if op == "epow":
            u, p = n.args[0], n.attr
            slope = E.mul(E.num(p), E.epow(u, p - 1)) if p != 1 else E.num(1)
            return E.mul(slope, self.d(u)) if u.is_scalar else E.hadamard(slope, self.d(u))
        if op == "pow":
            u, p = n.args[0], n.attr
            if u.is_scalar:
                return E.mul(E.num(p), E.power(u, p - 1), self.d(u)) if p != 1 else self.d(u)
            if Fraction(p).denominator == 1 and p > 0:     # d(X^k) = sum_a X^a dX X^(k-1-a)
                k = int(p)
                pw = _powers(u, k - 1)
                return E.add(*(E.mul(pw[a], self.d(u), pw[k - 1 - a]) for a in range(k)))
            raise UnsupportedError(f"no differential rule for the matrix power ^{p}")
        if op == "vec":
            return E.vec(self.d(n.args[0]))
        if op == "unvec":
            return E.unvec(self.d(n.args[0]), *n.attr)
        if op == "kron":
            A, B = n.args
            return E.add(E.kron(self.d(A), B), E.kron(A, self.d(B)))
        if op == "vpow":                       # d(u.^p) = p*u.^(p - 1) .* du + u.^p .* log(u)*dp
            u, p = n.args
            terms = []
            if not E.is_zero(self.d(u)):
                slope = E.mul(p, E.vpow(u, E.sub(p, E.num(1))))
                terms.append(E.mul(slope, self.d(u)) if u.is_scalar else E.hadamard(slope, self.d(u)))
            if not E.is_zero(self.d(p)):
                terms.append(E.mul(E.hadamard(n, E.apply("log", u)), self.d(p)))
            return E.add(*terms)
        if op == "fn" and len(n.args) > 1:
            row = function_row(n.attr)
            return E.add(*(times_slope(row, a, self.d(a), n.args, i) for i, a in enumerate(n.args)
                           if not E.is_zero(self.d(a))))
        if op == "fn":
            row = function_row(n.attr)
            u = n.args[0]
            dims = {"m": u.shape[0], "c": u.shape[1]}
            if row.kind == "elementwise":
                return times_slope(row, u, self.d(u))
            if not row.differential:
                raise UnsupportedError(f"rules/functions.toml has no differential for {row.printed}")
            return instantiate(row.differential, {"X": u, "F": n, "dX": self.d(u)}, dims)
        raise UnsupportedError(f"no differential rule for the operation {op!r}")
