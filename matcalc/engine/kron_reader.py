"""Reading the vec/Kronecker Jacobian off a differential, term by term (Magnus & Neudecker ch. 2, 9):

    vec(A dX B)  = (B' ⊗ A) vec(dX)             vec(dX')     = K(m,n) vec(dX)
    vec(E .* dX) = diag(vec(E)) vec(dX)         vec(s M)     = vec(M) vec(G)' vec(dX)   for s = tr(G' dX)

Every operation of the language has such a rule, so the reading never fails for a linear dF: kronecker.py
uses it for ∂vec(F)/∂vec(X)', derive.py for a Jacobian or Hessian the adjoint walk could not read off
(the simplifier then turns the Kronecker products of vectors into the matrix products they are).
"""

from __future__ import annotations

from ..errors import UnsupportedError
from ..language import expr as E
from ..language.expr import Node, apply
from ..language.printing import to_text_bounded


def _contains(node: Node, x: Node) -> bool:
    return any(n is x for n in E.walk(node))


def _size(shape) -> E.Dim:
    return E.dim_product(*shape)


class KronReader:
    """Terms of dF, linear in dX, to matrices J with vec(term) = J vec(dX). `row(s)` (a scalar linear in
    dX as r*vec(dX)) is the caller's: the gradient of s, vec'd and transposed."""

    def __init__(self, dx: Node, simplifier):
        self.dx, self.simplify = dx, simplifier

    def jacobian(self, dF: Node) -> Node:
        expanded = self.simplify.expand(dF)
        terms = expanded.args if expanded.op == "add" else (expanded,)
        parts = [self.term(t) for t in terms if _contains(t, self.dx)]
        if not parts:
            return E.zero((_size(dF.shape), _size(self.dx.shape)))
        return E.add(*parts)

    def row(self, s: Node) -> Node:
        """r with s = r*vec(dX), for a scalar s linear in dX: vec(G)' where G is ∂s/∂dX."""
        raise NotImplementedError

    def term(self, t: Node) -> Node:
        dx = self.dx
        if t is dx:
            return E.eye(_size(dx.shape))
        if t.is_scalar:
            return self.row(t)
        op = t.op
        if op == "add":                          # a sum the expansion left whole (past its term bound)
            return E.add(*(self.term(a) for a in t.args if _contains(a, dx)))
        if op == "T":
            inner = t.args[0]
            return E.mul(E.commutation(*inner.shape), self.term(inner))
        if op == "mul":
            return self.product(t)
        if op == "had":
            inside = [a for a in t.args if _contains(a, dx)]
            others = [a for a in t.args if not _contains(a, dx)]
            if len(inside) != 1:
                raise UnsupportedError("no Kronecker form: the differential is not linear in d" + dx.attr)
            inner = self.term(inside[0])
            if not others:
                return inner
            scale = E.hadamard(*others)
            return E.mul(apply("diag", E.vec(E.bcast(scale, t.shape) if scale.is_scalar else scale)), inner)
        if op == "bcast":
            s = t.args[0]
            if s.is_scalar:
                return E.mul(E.ones(_size(t.shape)), self.row(s))
            # a row repeated down r rows (or a column across c columns) is kron(ones, ·) of it
            r, c = t.shape
            if s.shape[0] == 1:     # vec(ones(r)*s) = kron(s', ones(r)) ... as a map of vec(s'): kron(I(c), ones(r))
                return E.mul(E.kron(E.eye(c), E.ones(r)), self.term(E.transpose(s)))
            return E.mul(E.kron(E.ones(c), E.eye(r)), self.term(s))
        if op == "vec":
            return self.term(t.args[0])
        if op == "unvec":
            return self.term(t.args[0])
        if op == "kron":
            return self.kron_term(t)
        if op == "fn" and t.attr == "diag":     # diag(v) = the columns e_i v_i: vec(diag(v)) = S v
            v = t.args[0]
            n = v.shape[0]
            select = apply("diag", E.vec(E.eye(n)))
            return E.mul(select, E.kron(E.ones(n), E.eye(n)), self.term(v))
        raise UnsupportedError(f"no Kronecker form for a term of the differential of kind {op!r} "
                               f"({to_text_bounded(t)}); --format index writes the derivative entry by entry")

    def product(self, t: Node) -> Node:
        dx = self.dx
        scalars = [a for a in t.args if a.is_scalar]
        chain = [a for a in t.args if not a.is_scalar]
        inside_scalars = [a for a in scalars if _contains(a, dx)]
        if inside_scalars:                      # s*M with s linear in dX: vec(M)*row(s)
            s = inside_scalars[0]
            rest = E.mul(*[a for a in t.args if a is not s])
            return E.mul(E.vec(rest), self.row(s))
        idx = [i for i, a in enumerate(chain) if _contains(a, dx)]
        if len(idx) != 1:
            raise UnsupportedError("no Kronecker form: the differential is not linear in d" + dx.attr)
        i = idx[0]
        f = chain[i]
        left = E.mul(*chain[:i]) if i else E.eye(f.shape[0])
        right = E.mul(*chain[i + 1:]) if i + 1 < len(chain) else E.eye(f.shape[1])
        c = E.mul(*scalars) if scalars else E.num(1)
        return E.mul(c, E.kron(E.transpose(right), left), self.term(f))

    def kron_term(self, t: Node) -> Node:
        """vec(A ⊗ B) = (I_q ⊗ K_{s,p} ⊗ I_r)(vec A ⊗ vec B), linear in the operand holding dX."""
        A, B = t.args
        (p, q), (r, s) = A.shape, B.shape
        P = E.kron(E.kron(E.eye(q), E.commutation(s, p)), E.eye(r))
        parts = []
        if _contains(A, self.dx):
            parts.append(E.mul(P, E.kron(E.eye(E.dim_product(p, q)), E.vec(B)), self.term(A)))
        if _contains(B, self.dx):
            parts.append(E.mul(P, E.kron(E.vec(A), E.eye(E.dim_product(r, s))), self.term(B)))
        return E.add(*parts)
