"""The differential dF of any expression, matrix-valued ones included: dF = A*dX*B + C*dX'*D + …

Why a forward walk beside the adjoint one: the differential method (Magnus & Neudecker) writes the
derivative of a matrix function as its differential, `d inv(X) = -inv(X)*dX*inv(X)`, a form that exists
for every shape, where the adjoint walk needs a scalar to start from. Each node's differential is built
from its children's by the forward rules: linearity for sums, the product rule for `*` and `.*`,
`d(X') = dX'`, and for a function the `derivative` (elementwise: f'(X) .* dX) or `differential` column
of rules/functions.toml — the same tables, read the other way.
"""

from __future__ import annotations

from ..errors import MatcalcError
from ..language import expr as E
from ..language.expr import Node
from ..language.printing import to_latex, to_text_bounded
from .definitions import as_variable
from .derive import prepare, read_input
from .forward_walk import Forward  # noqa: F401  (re-exported: the forward walk lives there)
from .simplify import Simplifier, table_rules


class DifferentialResult:
    """dF as a typed expression in the differential symbol, with what it needs to be printed and evaluated."""

    def __init__(self, expression: str, wrt: str, node: Node, dx: Node, typed, assumptions):
        self.expression, self.wrt, self.node, self.dx, self.typed = expression, wrt, node, dx, typed
        self.assumptions = assumptions

    @property
    def text(self) -> str:
        return f"d{'f'} = {to_text_bounded(self.node, set(self.typed.names) | {self.dx.attr})}"

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<matcalc differential of {self.expression!r} in d{self.wrt}: {self.text}>"

    @property
    def latex(self) -> str:
        """dF in LaTeX, the differential of the variable written d followed by its name."""
        d = r"\mathrm{d}" + to_latex(self.typed.names[self.wrt])
        return to_latex(self.node).replace(to_latex(self.dx), d)

    def _repr_latex_(self) -> str:
        f = "f" if self.typed.root.is_scalar else "F"
        return f"$$d{f} = {self.latex}$$"


def differential(expression: str, wrt: str, shapes=None, assume=(), input: str = "auto") -> DifferentialResult:
    """The differential of the expression in d`wrt` (`dX`): `inv(X)` gives `df = -inv(X)*dX*inv(X)`."""
    expression, shapes = as_variable(read_input(expression, input), wrt, shapes)
    typed, a = prepare(expression, shapes, assume)
    if wrt not in typed.names:
        raise MatcalcError(f"cannot differentiate with respect to {wrt!r}: it does not appear in {expression!r}")
    x = typed.names[wrt]
    name = next(c for c in (f"d{wrt}", f"d{wrt}_", f"dd{wrt}") if c not in typed.names)
    dx = E.sym(name, x.shape)
    node = Forward(x, dx)(typed.root)
    simplify = Simplifier(a.rules + table_rules())
    node = simplify(node)
    if typed.root.is_scalar:
        node = _shorter(node, _from_gradient(typed.root, x, dx, simplify), set(typed.names) | {name})
    return DifferentialResult(expression, wrt, node, dx, typed, a)


def _from_gradient(f: Node, x: Node, dx: Node, simplify: Simplifier) -> Node | None:
    """df = tr(G'*dX) with G the simplified gradient: the textbook form when the assumptions cancel terms
    (`(s - y)'*dz` rather than `y'*((s*s'*dz) ./ s) - y'*dz`)."""
    from .derive import _first_derivative

    try:
        G = _first_derivative(f, x, simplify, None, [])
    except MatcalcError:
        return None
    if x.is_scalar:
        return simplify(E.mul(G, dx))
    if x.is_vector:
        return simplify(E.mul(E.transpose(G), dx))
    from ..language.expr import apply

    return simplify(apply("tr", E.mul(E.transpose(G), dx)))


def _shorter(a: Node, b: Node | None, taken: set) -> Node:
    if b is None:
        return a
    return b if len(to_text_bounded(b, taken)) < len(to_text_bounded(a, taken)) else a
