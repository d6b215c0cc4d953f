"""A Jacobian the adjoint walk cannot read off, read off the differential instead.

The walk gives x̄ = J'*G, linear in the seed G, and jacobian.py cuts J' out of it term by term; where G
sits inside a product of matrices that depend on the variable (`(A'*y)*(x'*y)*y` wrt y in a Hessian,
`(E - beta)*cos(z)` wrt beta), no cut exists. Every such derivative still has a matrix form, and the
forward walk finds it:

- by a scalar α (a vector or a matrix F): the differential with dα = 1 is ∂F/∂α itself, F's shape
  (numerator layout; the denominator layout is its transpose);
- by a vector x: dF is linear in dx, and each of its terms is read as a Kronecker matrix times dx
  (kron_reader.py: vec(A dx B) = (B' ⊗ A) dx, vec(E .* M) = diag(vec(E)) vec(M), a scalar term's
  row from its gradient), which never fails; the simplifier then writes the Kronecker products of
  vectors as the matrix products they are (kron(b', a) = a*b'), so the result reads as matrix algebra.

Both are checked against finite differences and autograd in tests/test_matrix_forms.py.
"""

from __future__ import annotations

from ..language import expr as E
from ..language.expr import Node, apply
from .forward_walk import Forward
from .kron_reader import KronReader

RULE_SCALAR = "the differential with dα = 1: d(X + Y) = dX + dY, the product rule, dF = f'(X) .* dX"
RULE_VECTOR = "read off the differential: vec(A*dx*B) = (B' ⊗ A)*dx, vec(E .* M) = diag(vec(E))*vec(M)"
SOURCE = "Magnus & Neudecker, Matrix Differential Calculus, ch. 5 and 9 (first identification theorem)"


def by_scalar(f: Node, x: Node, simplifier) -> Node:
    """∂F/∂α for a scalar α: F's shape (numerator layout)."""
    return simplifier(Forward(x, E.num(1))(f))


def by_vector(f: Node, x: Node, simplifier, gradient) -> Node:
    """The Jacobian ∂f/∂x (numerator layout, len(f)×len(x)) of a vector f; `gradient(s, dx)` is ∂s/∂dx for
    a scalar s linear in dx (the adjoint walk, which always reads a scalar's gradient)."""
    dx = E.sym("@dx", x.shape)
    df = simplifier(Forward(x, dx)(f))
    reader = _Reader(dx, simplifier, gradient)
    expanded = simplifier.expand(df)
    terms = expanded.args if expanded.op == "add" else (expanded,)
    parts = [reader.coef(t) for t in terms if reader.has(t)]
    if not parts:
        return E.zero((f.shape[0], x.shape[0]))
    return simplifier(E.add(*parts))


class _Reader(KronReader):
    """M with t = M*dx for a column (or scalar) t linear in the vector dx, written as matrix algebra.

    The cases are those a hand derivation meets; through a matrix that depends on dx the reading goes
    by the vector it multiplies: `right(U, r)` is M with U*r = M*dx, `left(l, U)` M with U'*l = M*dx —

        (A*U*B)*r = A*(U*(B*r))            (s*C)*r = (C*r)*row(s)          U'*r = left(r, U)
        (P .* (u*w'))*r = diag(P*(w .* r))*u       (P .* (w*u'))*r = diag(w)*P*diag(r)*u
        diag(v)*r = diag(r)*v              (P .* (s*C))*r = ((P .* C)*r)*row(s)
        (P .* diag(v))*r = diag(diag(P) .* r)*v

    (u, v the parts holding dx, read in turn). A structure these do not reach is read by the Kronecker
    rules (vec(U)*r = kron(r', I)*vec(U)), which never fail."""

    def __init__(self, dx, simplifier, gradient):
        super().__init__(dx, simplifier)
        self.gradient = gradient
        self._has: dict[Node, bool] = {}

    def row(self, s: Node) -> Node:
        return E.transpose(E.vec(self.gradient(s, self.dx)))

    def has(self, n: Node) -> bool:
        found = self._has.get(n)
        if found is None:
            for m in E.walk(n):
                if m not in self._has:
                    self._has[m] = m is self.dx or any(self._has[a] for a in m.args)
            found = self._has[n]
        return found

    def coef(self, t: Node) -> Node:
        """M with t = M*dx (t a column or a scalar)."""
        if t is self.dx:
            return E.eye(self.dx.shape[0])
        if t.is_scalar:
            return self.row(t)
        if t.op == "add":
            return E.add(*(self.coef(a) for a in t.args if self.has(a)))
        if t.op == "had":
            inside = [a for a in t.args if self.has(a)]
            others = [a for a in t.args if not self.has(a)]
            if len(inside) == 1:
                scale = E.hadamard(*others) if others else None
                inner = self.coef(inside[0])
                if scale is None:
                    return inner
                return E.mul(scale, inner) if scale.is_scalar else E.mul(apply("diag", scale), inner)
        if t.op == "mul":
            return self._product(t, None)
        if t.op == "bcast" and t.args[0].is_scalar:
            return E.mul(E.ones(t.shape[0]), self.row(t.args[0]))
        return self.term(t)

    def _product(self, U: Node, r: Node | None) -> Node:
        """M with U*r = M*dx for a product U (r None: U itself, a column)."""
        scalars = [a for a in U.args if a.is_scalar]
        chain = [a for a in U.args if not a.is_scalar]
        inside = [a for a in scalars if self.has(a)]
        if inside:                           # (s*C)*r = (C*r)*row(s)
            s = inside[0]
            rest = E.mul(*[a for a in U.args if a is not s], *([r] if r is not None else []))
            return E.mul(rest, self.row(s))
        idx = [i for i, a in enumerate(chain) if self.has(a)]
        if len(idx) != 1:
            return self._kron(U, r)
        i = idx[0]
        c = E.mul(*scalars) if scalars else E.num(1)
        tail = chain[i + 1:] + ([r] if r is not None else [])
        inner = self.right(chain[i], E.mul(*tail)) if tail else self.coef(chain[i])
        return E.mul(c, *chain[:i], inner) if (i or scalars) else inner

    def _kron(self, U: Node, r: Node | None) -> Node:
        if r is None:
            return self.term(U)
        return E.mul(E.kron(E.transpose(r), E.eye(U.shape[0])), self.term(U))

    def right(self, U: Node, r: Node) -> Node:
        """M with U*r = M*dx, U linear in dx and r constant (a column; a scalar for a column U)."""
        if r.is_scalar and U.shape[1] == 1:
            return E.mul(r, self.coef(U))
        op = U.op
        if op == "add":
            return E.add(*(self.right(a, r) for a in U.args if self.has(a)))
        if op == "T":
            return self.left(r, U.args[0])
        if op == "mul":
            return self._product(U, r)
        if op == "fn" and U.attr == "diag" and U.args[0].shape[1] == 1:      # diag(v)*r = diag(r)*v
            return E.mul(apply("diag", r) if not r.is_scalar else r, self.coef(U.args[0]))
        if op == "had":
            inside = [a for a in U.args if self.has(a)]
            if len(inside) == 1:
                P = E.hadamard(*[a for a in U.args if a is not inside[0]])
                found = self._masked(P, inside[0], r)
                if found is not None:
                    return found
        if op == "bcast" and U.args[0].is_scalar:     # s*ones*ones'*r = ones*sum(r)*row(s)
            return E.mul(E.ones(U.shape[0]), apply("sum", r), self.row(U.args[0]))
        return self._kron(U, r)

    def left(self, l: Node, U: Node) -> Node:
        """M with U'*l = M*dx (l constant)."""
        if U.op == "T":
            return self.right(U.args[0], l)
        if U.op == "fn" and U.attr == "diag":
            return self.right(U, l)
        if U.op in ("add", "mul", "had"):
            flipped = E.transpose(U)
            if flipped.op != "T":
                return self.right(flipped, l)
        if U.shape[1] == 1 and l.is_scalar:                 # a row U': U'*l
            return E.mul(l, self.coef(U))
        return E.mul(E.kron(E.eye(U.shape[1]), E.transpose(l)), self.term(U))

    def _masked(self, P: Node, V: Node, r: Node):
        """(P .* V)*r for V linear in dx, or None where no rule reaches V."""
        if P.is_scalar:
            return E.mul(P, self.right(V, r))
        if V.op == "mul" and len(V.args) >= 2:
            scalars = [a for a in V.args if a.is_scalar]
            chain = [a for a in V.args if not a.is_scalar]
            if any(self.has(a) for a in scalars):
                return None
            c = E.mul(*scalars) if scalars else E.num(1)
            u, w = E.mul(*chain[:-1]), chain[-1]
            if w.shape[0] == 1 and u.shape[1] == 1:              # V = c*u*w' (an outer product)
                if self.has(u) and not self.has(w):              # (P .* (u*w'))*r = diag(P*(w .* r))*u
                    return E.mul(c, apply("diag", E.mul(P, E.hadamard(E.transpose(w), r))), self.coef(u))
                if self.has(w) and not self.has(u):              # (P .* (u*w'))*r = diag(u)*P*diag(r)*w
                    wt = E.transpose(w)
                    return E.mul(c, apply("diag", u), P, apply("diag", r), self.coef(wt))
        if V.op == "add":
            parts = [self._masked(P, a, r) for a in V.args if self.has(a)]
            return None if any(p is None for p in parts) else E.add(*parts)
        if V.op == "had":
            inside = [a for a in V.args if self.has(a)]
            if len(inside) == 1:
                return self._masked(E.hadamard(P, *[a for a in V.args if a is not inside[0]]), inside[0], r)
        if V.op == "fn" and V.attr == "diag" and V.args[0].shape[1] == 1:   # (P .* diag(v))*r
            return E.mul(apply("diag", E.hadamard(apply("diagvec", P), r)), self.coef(V.args[0]))
        return None


__all__ = ["by_scalar", "by_vector", "RULE_SCALAR", "RULE_VECTOR", "SOURCE"]
