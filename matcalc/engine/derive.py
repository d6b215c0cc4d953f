"""A derivative and how it was derived: `derive` types the expression, runs the adjoint walk
(adjoint.py) from the output down to the variable, reads a Jacobian off where the function is a
vector (jacobian.py), goes once more for a Hessian, and returns a Derivation — the result in the
layout asked for, every step with its rule and source, and the result's texts (ASCII, LaTeX, index
notation, the differential method's lines).

Layouts: the walk yields the denominator layout (a gradient has the variable's shape; ∂y/∂x of
vectors is n×m); the numerator layout is its transpose.

The Derivation here is symbolic. What `matcalc.derive` returns is api.Derivation, the same record
with the compiled code and the notebook renderings added on top (matcalc/api/derivation.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import budget as _budget
from ..errors import MatcalcError, UnsupportedError
from ..language import expr as E
from ..language.arguments import check_assume, check_name, check_shapes, check_text
from ..language.expr import Node
from ..language.index_print import _axes
from ..language.functions import declared, declared_functions
from ..language.latex import latex_to_ascii, looks_like_latex
from ..language.named import Renamer, program_text
from ..language.printing import (
    MAX_INLINE,
    _latex_name,
    inline_size,
    to_latex_bounded,
    to_text_bounded,
    to_text_shared,
)
from ..language.shapes import Typed, elaborate_many
from .adjoint import Step, _Walk
from .assumptions import Assumptions, bind, parse_assumptions
from .definitions import as_variable
from .definitions import held as held_simplifier
from .definitions import transposed
from .differential import differential_steps
from .index_matrix import to_index, to_matrix
from . import matrix_form
from .jacobian import linear_coefficient
from .simplify import Simplifier, table_rules

LAYOUTS = ("denominator", "numerator")
SEED = "G"


def _denominator_shape(f: Node, x: Node) -> tuple:
    if f.is_scalar:
        return x.shape
    if x.is_scalar:
        return (f.shape[1], f.shape[0]) if f.shape[1] != 1 else (1, f.shape[0])
    return (x.shape[0], f.shape[0])


def kind_of(f: Node, x: Node) -> str:
    def word(n: Node) -> str:
        if n.is_scalar:
            return "scalar"
        if n.shape[1] == 1:
            return "vector"
        if n.shape[0] == 1:
            return "row vector"
        return "matrix"

    return f"{word(f)}-by-{word(x)}"


# ---------------------------------------------------------------- the public result


@dataclass
class Derivation:
    """The derivative of `expression` with respect to `wrt`, with the steps that produced it."""

    expression: str
    wrt: str
    layout: str
    result: Node
    typed: Typed
    assumptions: Assumptions
    steps: list[Step] = field(default_factory=list)
    denominator: Node | None = None
    order: int = 1
    direction: str | None = None
    held: list = field(default_factory=list)   # (dh2, ∂f/∂h2): adjoints of definitions, written once
    functions: tuple = ()                      # the abstract functions declared (f: f' and f'' in results)

    def __str__(self) -> str:
        if E.is_zero(self.result):
            return to_text_bounded(self.result, self.taken)      # a zero keeps its shape: zeros(n)
        body, held = self.program()
        if not held:
            return to_text_bounded(body, self.taken)
        defs, text = self.statements()
        return program_text(text, defs)

    def statements(self, node: Node | None = None) -> tuple[list[tuple[str, str]], str]:
        """([(name, text)], body): the result as statements that read back as one input — the held
        adjoints it uses (dh2 = …), then, for a large part, its repeated subexpressions named (z1 = …)."""
        body, held = self.program(node)
        taken = set(self.taken)
        defs: list[tuple[str, str]] = []

        def bounded(n: Node) -> str:
            if inline_size(n) <= MAX_INLINE:
                return to_text_bounded(n, taken)
            text, parts = to_text_shared(n, taken)
            defs.extend(parts)
            taken.update(name for name, _ in parts)
            return text

        for name, d in held:
            defs.append((name, bounded(d)))
        return defs, bounded(body)

    def program(self, node: Node | None = None) -> tuple[Node, list[tuple[str, Node]]]:
        """The result (or `node`) written with the user's names, and the held adjoints it uses
        (dh2 = ..., in order): `dh2 = 2*h2; (dh2 .* (1 - tanh(A1*h1).^2))*h1'` reads back as it is."""
        body = self.names(self.result if node is None else node)
        held = {n for n, _ in self.held}
        used = [(n, d) for n, d in self.names.used(body) if n in held]
        if not used:
            return body, []
        uses: dict[str, int] = {}                    # a held adjoint used once is written in place
        for root in [body] + [d for _, d in used]:
            for n in E.walk(root):
                for a in n.args:
                    if a.op == "sym" and a.attr in held:
                        uses[a.attr] = uses.get(a.attr, 0) + 1
            if root.op == "sym" and root.attr in held and root is body:
                uses[root.attr] = uses.get(root.attr, 0) + 1
        placed: dict[Node, Node] = {}
        kept = []
        for n, d in used:
            d = E.substitute(d, placed) if placed else d
            if uses.get(n, 0) <= 1:
                placed[E.sym(n, d.shape)] = d
            else:
                kept.append((n, d))
        if placed:
            body = E.substitute(body, placed)
            kept = [(n, E.substitute(d, placed)) for n, d in kept]
        return body, kept

    @property
    def names(self) -> Renamer:
        """The user's definitions (h = tanh(W*x); …) and the held adjoints (dh = ∂f/∂h), by which
        results and steps are written."""
        found = self.__dict__.get("_names")
        if found is None:
            found = self.__dict__["_names"] = Renamer({**self.typed.definitions, **dict(self.held)},
                                                      self.typed.names)
        return found

    @property
    def taken(self) -> set[str]:
        """The names a printed form may not give to a part of the result: variables and definitions."""
        return set(self.typed.names) | set(self.typed.definitions) | {n for n, _ in self.held}

    def __repr__(self) -> str:
        return f"Derivation({self.expression!r}, wrt={self.wrt!r}, layout={self.layout!r}) = {self}"

    @property
    def text(self) -> str:
        return str(self)

    @property
    def shared(self) -> tuple[str, list[tuple[str, str]]]:
        """The result with repeated subexpressions named once: (text, [(name, definition)])."""
        body, held = self.program()
        if not held:
            return to_text_shared(body, self.taken)
        defs, text = self.statements()
        return text, defs

    @property
    def latex(self) -> str:
        body, held = self.program()
        parts = [f"{_latex_name(n)} = {to_latex_bounded(d, self.taken)}" for n, d in held]
        return ",\\quad ".join(parts + [to_latex_bounded(body, self.taken)])

    @property
    def shape(self) -> tuple:
        return self.result.shape

    @property
    def differentials(self) -> list:
        """The steps written by the differential method: df = tr(G' dZ), line by line (differential.py);
        scalar functions, first order."""
        return differential_steps(self)

    @property
    def index(self) -> str:
        """The result entry by entry, saying which entry it is, as the blog posts write it:
        `df/dW_ij = (softmax(W*x + b)_i - y_i)*x_j`. The left side carries the layout: in numerator
        layout the Jacobian's entry (i, j) is df_i/dx_j, in denominator layout df_j/dx_i."""
        if inline_size(self.result) > MAX_INLINE:
            raise MatcalcError(f"the result is about {inline_size(self.result):,} characters inlined, too long to "
                               f"write entry by entry; the text format shows it with repeated parts named")
        letters = ("i", "j")[:len(_axes(self.result.shape))]
        f, x = self.typed.root, self.typed.names[self.wrt]

        def sub(name: str, idx: str) -> str:
            return f"{name}_{idx}" if idx else name

        if self.order == 2:
            lhs = f"(H*{self.direction})_i" if self.direction else "d2f/dx_i dx_j".replace("x", self.wrt)
        elif f.is_scalar:
            idx = "".join(letters)
            if self.layout == "numerator" and len(idx) == 2:
                idx = idx[::-1]
            lhs = f"df/d{sub(self.wrt, idx)}"
        elif x.is_scalar:
            lhs = f"d{sub('f', letters[0])}/d{self.wrt}"
        else:
            fi, xi = letters if self.layout == "numerator" else letters[::-1]
            lhs = f"d{sub('f', fi)}/d{sub(self.wrt, xi)}"
        return f"{lhs} = {to_index(self.result, letters)}"

    @property
    def kind(self) -> str:
        return kind_of(self.typed.root, self.typed.names[self.wrt])

    @property
    def shapes(self) -> dict[str, tuple]:
        return {n: node.shape for n, node in self.typed.names.items()}

    def in_layout(self, layout: str) -> Node:
        check_layout(layout)
        den = self.denominator if self.denominator is not None else self.result
        return den if layout == "denominator" else E.transpose(den)

    def as_dict(self) -> dict:
        return {
            "expression": self.expression,
            "wrt": self.wrt,
            "layout": self.layout,
            "kind": self.kind,
            "result": self.text,
            "latex": self.latex,
            "shape": [str(d) for d in self.shape],
            "shapes": {n: [str(d) for d in s] for n, s in self.shapes.items()},
            "assumptions": list(self.assumptions.texts),
            "steps": [s.as_dict() for s in self.steps],
        }


def check_layout(layout: str) -> None:
    if layout not in LAYOUTS:
        raise MatcalcError(f"unknown layout {layout!r}; use 'numerator' or 'denominator'")


def read_input(expression: str, input: str = "auto", sums=to_matrix) -> str:
    """ASCII passes through; LaTeX (detected, or forced with input="latex") is translated first. A LaTeX
    sum over indices with no direct matrix reading goes to `sums` (index notation to matrix form);
    the checker and the library's entry points pass the conversion that is checked numerically
    (check/reading.py)."""
    if input not in ("auto", "ascii", "latex"):
        raise MatcalcError(f"unknown input kind {input!r}; use auto, ascii or latex")
    if not isinstance(expression, str):
        raise TypeError(f"the expression must be a str, got {type(expression).__name__}")
    # bounded before the LaTeX translator runs: a 4 MB line must not reach it
    check_text(expression, "the expression")
    if input == "latex" or (input == "auto" and looks_like_latex(expression)):
        return latex_to_ascii(expression, sums)
    return expression


def prepare(expression: str, shapes=None, assume=()):
    """Type the expression together with the assumptions' expressions (they share names)."""
    a = parse_assumptions(assume)
    typed, extra = elaborate_many(expression, shapes, a.expressions())
    a = bind(a, typed.names, extra)
    return typed, a


def _second_derivative(f, x, grad, direction, typed, simplifier, plain, steps, names=None, held=None) -> Node:
    """The Hessian of a scalar function of a vector (the Jacobian of its gradient); for a matrix
    variable, whose Hessian is a 4-tensor, the Hessian-vector product H[V] = ∂ sum(V .* ∇f)/∂X."""
    if not f.is_scalar:
        raise UnsupportedError(f"the second derivative of a {E.shape_text(f.shape)} expression is a "
                               f"higher-order tensor; matcalc derives Hessians of scalar expressions")
    if direction is None and not (x.is_vector or x.is_scalar):
        raise UnsupportedError(
            f"the Hessian of a scalar function of the {E.shape_text(x.shape)} matrix {x.attr} is a 4-tensor, "
            f"which matrix notation cannot show; ask for the Hessian-vector product instead: "
            f"direction='V' (CLI: --direction V) gives H[V], the directional second derivative, "
            f"a {E.shape_text(x.shape)} matrix")
    if held:           # the gradient's held adjoints (dh2) are held in its own derivative too
        names = Renamer({**typed.definitions, **dict(held)}, typed.names)
        simplifier, plain = held_simplifier(simplifier, names), held_simplifier(plain, names)
    steps.append(Step("∇f", None, "the gradient; now its derivative", "", "result", grad, names=names))
    if direction is None:
        return _first_derivative(grad, x, simplifier, plain, steps, names, held)
    if not isinstance(direction, str) or not direction.isidentifier() or direction in typed.names:
        raise MatcalcError(f"the direction must be a new name (not one of {', '.join(sorted(typed.names))}); "
                           f"got {direction!r}")
    V = E.sym(direction, x.shape)
    typed.names[direction] = V
    inner = E.fn("sum", E.hadamard(V, grad), E.SCALAR) if not x.is_scalar else E.mul(V, grad)
    steps.append(Step(f"sum({direction} .* ∇f)", None,
                      "Hessian-vector product: H[V] is the gradient of <V, ∇f>", "Hessian symmetry", "result",
                      inner, names=names))
    return _first_derivative(inner, x, simplifier, plain, steps, names, held)


def derive(expression: str, wrt: str, shapes=None, assume=(), layout: str = "denominator",
           order: int = 1, input: str = "auto", direction: str | None = None,
           budget: _budget.Budget | None = None, functions=None) -> Derivation:
    """Differentiate `expression` with respect to the name `wrt`.

    shapes: {"W": ("c", "d"), "x": ("d",), "lam": ()} declares shapes (inferred otherwise);
    assume: texts such as "sum(y) = 1", "A symmetric"; layout: "denominator" (default) or "numerator";
    order: 1 for the gradient or Jacobian, 2 for the Hessian of a scalar function of a vector;
    direction: with order=2, a new name V: the Hessian-vector product H[V] (for a matrix variable).
    budget: a matcalc.budget.Budget (time, memory); default 10 s and 1 GB, or MATCALC_TIME_LIMIT and
    MATCALC_MEMORY_LIMIT. Work past it stops with BudgetExceeded (a MatcalcError).
    functions: names of abstract elementwise functions (["f"]): f(z), and f'(z), f''(z) in results.
    """
    with _budget.limit(budget), declared(functions):
        return _derive(expression, wrt, shapes, assume, layout, order, input, direction)


def _derive(expression, wrt, shapes, assume, layout, order, input, direction) -> Derivation:
    if not isinstance(layout, str):
        raise TypeError(f"layout must be a str ('denominator' or 'numerator'), got {type(layout).__name__}")
    check_layout(layout)
    if isinstance(order, bool) or order not in (1, 2):
        raise MatcalcError(f"order must be 1 or 2, got {order!r}")
    if not isinstance(input, str):
        raise TypeError(f"input must be a str ('auto', 'ascii' or 'latex'), got {type(input).__name__}")
    check_name(wrt, "wrt")
    if direction is not None:
        check_name(direction, "direction")
        if order != 2:
            raise MatcalcError("a direction (the Hessian-vector product H[V]) needs order=2 (CLI: --order 2)")
    shapes = check_shapes(shapes)
    assume = check_assume(assume)
    expression = read_input(expression, input)
    expression, shapes = as_variable(expression, wrt, shapes)   # ∂f/∂h of a defined name h: f of h
    typed, a = prepare(expression, shapes, assume)
    if not isinstance(wrt, str) or wrt not in typed.names:
        names = ", ".join(sorted(typed.names)) or "none"
        raise MatcalcError(f"cannot differentiate with respect to {wrt!r}: it does not appear in "
                           f"{expression!r} (its names: {names})")
    x = typed.names[wrt]
    f = typed.root
    rules = a.rules + table_rules()
    names = Renamer(typed.definitions, typed.names)
    simplifier = held_simplifier(Simplifier(rules), names)
    plain = held_simplifier(Simplifier(table_rules()), names) if a.rules else None
    steps: list[Step] = [Step("f", None, f"{kind_of(f, x)} derivative, {layout} layout", "", "result", f,
                              names=names)]
    held: list = []
    den = _first_derivative(f, x, simplifier, plain, steps, names, held)
    if order == 2:
        den = _second_derivative(f, x, den, direction, typed, simplifier, plain, steps, names, held)
    shown = Renamer({**typed.definitions, **dict(held)}, typed.names) if held else None
    result = den if layout == "denominator" else transposed(simplifier, den, shown)
    if layout == "numerator" and not result.is_scalar:
        steps.append(Step("numerator layout", None, "transpose of the denominator-layout result",
                          "Wikipedia: Matrix calculus, Layout conventions", "layout", result, names=names))
    steps.append(Step(f"∂f/∂{wrt}", None, f"result ({layout} layout)", "", "result", result, names=names))
    return Derivation(expression, wrt, layout, result, typed, a, steps, den, order, direction, held,
                      tuple(sorted(declared_functions())))


def _first_derivative(f: Node, x: Node, simplifier: Simplifier, plain, steps: list[Step], names=None,
                      held: list | None = None) -> Node:
    if f.shape[0] == 1 and f.shape[1] != 1:
        f = E.transpose(f)       # a row vector has its transpose's Jacobian: the same entries ∂f_i/∂x_j
    if f.shape[1] != 1 and not f.is_scalar and x.is_scalar:      # a matrix by a scalar: F's shape
        return _read_off(f, x, simplifier, steps, names)
    if f.shape[1] != 1 and not f.is_scalar:
        axes = 3 if x.is_vector else 4
        raise UnsupportedError(
            f"the derivative of the {E.shape_text(f.shape)} matrix expression with respect to the "
            f"{E.shape_text(x.shape)} {'vector' if x.is_vector else 'matrix'} {x.attr} has {axes} axes (a "
            f"higher-order tensor), so no matrix writes it: --format kron gives it as the vec/Kronecker Jacobian ∂vec(F)/∂vec({x.attr})' "
            f"(kron(B', A) for A*X*B), --format index entry by entry (df_ij/d{x.attr}_kl = ...); or "
            f"differentiate a scalar function of it such as sum(...) or tr(...)")
    if not f.is_scalar and not (x.is_scalar or x.is_vector):
        raise UnsupportedError(
            f"the derivative of a vector with respect to the {E.shape_text(x.shape)} matrix {x.attr} has 3 axes, "
            f"so no matrix writes it: --format kron gives it as ∂vec(f)/∂vec({x.attr})', --format index entry "
            f"by entry (df_i/d{x.attr}_kl = ...); or differentiate a scalar such as a'*(...) instead")
    walk = _Walk(f, x, simplifier, plain, names)
    if f.is_scalar:
        grad = walk.run(E.num(1))
        steps.extend(walk.steps)
        if held is not None:
            held.extend(walk.held)
        return grad
    G = E.sym("@G", f.shape)
    adjoint = walk.run(G)
    try:
        jac = linear_coefficient(adjoint, G, simplifier)
    except UnsupportedError:     # the seed inside a product of dependent matrices: read dF off instead
        return _read_off(f, x, simplifier, steps, names)
    steps.extend(walk.steps)
    if x.is_scalar:
        jac = simplifier(E.transpose(jac)) if jac.shape[1] == 1 and jac.shape[0] != 1 else jac
    steps.append(Step("Jacobian", None, "read off x̄ = J'*G (denominator layout: J')",
                      "Wikipedia: Matrix calculus, Vector-by-vector", "result", jac, names=names))
    return jac


def _read_off(f: Node, x: Node, simplifier, steps: list[Step], names=None) -> Node:
    """The derivative from the differential (matrix_form.py), in denominator layout: a matrix or vector
    by a scalar is the transpose of dF/dα, a vector by a vector the transpose of the Jacobian."""
    if x.is_scalar:
        forward = matrix_form.by_scalar(f, x, simplifier)
        steps.append(Step(f"dF/d{x.attr}", None, matrix_form.RULE_SCALAR, matrix_form.SOURCE, "chain",
                          forward, names=names))
    else:
        def gradient(s, dx):
            return _first_derivative(s, dx, simplifier, None, [])

        forward = matrix_form.by_vector(f, x, simplifier, gradient)
        steps.append(Step("Jacobian", None, matrix_form.RULE_VECTOR, matrix_form.SOURCE, "chain", forward,
                          names=names))
    den = transposed(simplifier, forward)
    steps.append(Step("Jacobian", None, "the denominator layout is its transpose",
                      "Wikipedia: Matrix calculus, Layout conventions", "result", den, names=names))
    return den


__all__ = ["derive", "Derivation", "Step", "LAYOUTS"]
