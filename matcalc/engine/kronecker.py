"""The vec/Kronecker Jacobian ∂vec(F)/∂vec(X)' of any expression, and its product with a direction.

Why from the differential: dF (forward.py) exists for every shape, and vec turns each of its terms into
a matrix times vec(dX) (Magnus & Neudecker, ch. 2 and 9; Matrix Cookbook §10.2):

    vec(A dX B)  = (B' ⊗ A) vec(dX)             vec(dX')     = K(m,n) vec(dX)
    vec(E .* dX) = diag(vec(E)) vec(dX)         vec(s M)     = vec(M) vec(G)' vec(dX)   for s = tr(G' dX)

so the Jacobian is read off term by term, in the language (`kron`, `vec`, `K(m, n)`), in numerator
layout; the denominator layout is its transpose. A scalar's row is vec(G)' with G its gradient, from
the adjoint walk.

Why `jvp`: a Kronecker Jacobian applied to a direction is never formed. (B' ⊗ A) vec(V) is vec(A V B),
K(m,n) vec(V) is vec(V'), diag(vec(E)) vec(V) is vec(E .* V): `jvp` pushes vec(V) through the Jacobian
so that compiled code computes A @ V @ B, O(mnp) work where the Kronecker product has (mn)² entries.
"""

from __future__ import annotations

from ..errors import UnsupportedError
from ..language import expr as E
from ..language.expr import Node, apply, apply_jacobian, shape_text
from ..language.expr import as_shape as _as_shape
from ..language.printing import to_latex, to_text_bounded
from .derive import _first_derivative, check_layout
from .forward import differential
from .simplify import Simplifier, table_rules


def _contains(node: Node, x: Node) -> bool:
    return any(n is x for n in E.walk(node))


def _size(shape) -> E.Dim:
    return E.dim_product(*shape)


class _Reader:
    """Terms of dF, linear in dX, to matrices J with vec(term) = J vec(dX)."""

    def __init__(self, dx: Node, simplifier: Simplifier):
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
        G = _first_derivative(s, self.dx, self.simplify, None, [])
        return E.transpose(E.vec(G))

    def term(self, t: Node) -> Node:
        dx = self.dx
        if t is dx:
            return E.eye(_size(dx.shape))
        if t.is_scalar:
            return self.row(t)
        op = t.op
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


# ---------------------------------------------------------------- the public result


class KroneckerJacobian:
    """∂vec(F)/∂vec(X)' (numerator layout) or its transpose ∂vec(F)'/∂vec(X) (denominator layout)."""

    def __init__(self, expression: str, wrt: str, layout: str, numerator: Node, typed, dF, simplifier):
        self.expression, self.wrt, self.layout = expression, wrt, layout
        self.numerator, self.typed, self.differential = numerator, typed, dF
        self._simplify = simplifier
        self.node = numerator if layout == "numerator" else E.transpose(numerator)

    @property
    def label(self) -> str:
        f = "F" if not self.typed.root.is_scalar else "f"
        if self.layout == "numerator":
            return f"∂vec({f})/∂vec({self.wrt})'"
        return f"∂vec({f})'/∂vec({self.wrt})"

    @property
    def text(self) -> str:
        return to_text_bounded(self.node, set(self.typed.names))

    @property
    def latex(self) -> str:
        return to_latex(self.node)

    @property
    def shape(self) -> tuple:
        return self.node.shape

    def direction_name(self) -> str:
        return next(c for c in ("V", "V_", "dV", "VV") if c not in self.typed.names)

    def jvp(self, direction: str | None = None) -> Node:
        """F's change along a direction V of the variable: the matrix with vec = J*vec(V), as an expression
        in V with no Kronecker product or commutation matrix left (A*V*B for A*X*B)."""
        x = self.typed.names[self.wrt]
        V = E.sym(direction or self.direction_name(), x.shape)
        M = apply_jacobian(self.numerator, V)
        return self._simplify(_as_shape(M, self.typed.root.shape))

    def jvp_text(self) -> str:
        name = self.direction_name()
        return to_text_bounded(self.jvp(name), set(self.typed.names) | {name})

    def plan_outputs(self, materialize: bool = False) -> tuple[dict, set]:
        """What code for it computes (api.KroneckerJacobian compiles it): by default the Jacobian-vector
        product, F's change along a direction V; materialized, the Jacobian matrix itself (np.kron)."""
        if materialize:
            return {"jacobian": self.node}, set(self.typed.dims)
        return {"jvp": self.jvp(self.direction_name())}, set(self.typed.dims)

    def plan_names(self, materialize: bool = False) -> tuple[str, str]:
        """The generated function's name and docstring."""
        if materialize:
            return f"jacobian_{self.wrt}", f"{self.label} of {self.expression}, formed with np.kron"
        name = self.direction_name()
        return (f"jvp_{self.wrt}",
                f"{self.label} applied to {name}: vec(result) = J vec({name}); no Kronecker product formed")

    def report(self) -> str:
        """What `matcalc derive --format kron` prints: the Jacobian, its layout and shape, its product."""
        name = self.direction_name()
        return "\n".join([
            f"{self.label} = {self.text}",
            f"    ({self.layout} layout, {shape_text(self.shape)}; vec stacks columns)",
            f"applied to a direction {name} of {self.wrt} (vec of the result = J*vec({name}), no Kronecker "
            f"product formed):",
            f"    {self.jvp_text()}"])

    def __str__(self) -> str:
        return f"{self.label} = {self.text}"


def kronecker(expression: str, wrt: str, shapes=None, assume=(), layout: str = "numerator",
              input: str = "auto") -> KroneckerJacobian:
    """The vec/Kronecker Jacobian of `expression` with respect to `wrt`: `A*X*B` gives kron(B', A)."""
    check_layout(layout)
    dF = differential(expression, wrt, shapes, assume, input)
    simplifier = Simplifier(dF.assumptions.rules + table_rules())
    J = _Reader(dF.dx, simplifier).jacobian(dF.node)
    return KroneckerJacobian(expression, wrt, layout, J, dF.typed, dF, simplifier)
