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

from ..language import expr as E
from ..language.expr import Node, apply_jacobian, shape_text
from ..language.expr import as_shape as _as_shape
from ..language.printing import to_latex, to_text_bounded
from .derive import _first_derivative, check_layout
from .forward import differential
from .kron_reader import KronReader
from .simplify import Simplifier, table_rules


class _Reader(KronReader):
    """A scalar's row is vec(G)' with G its gradient, from the adjoint walk."""

    def row(self, s: Node) -> Node:
        G = _first_derivative(s, self.dx, self.simplify, None, [])
        return E.transpose(E.vec(G))


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
