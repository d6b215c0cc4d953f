"""Reverse-mode differentiation on the expression DAG, by the rows of rules/.

Walk the nodes from the output down (parents before children); each node's adjoint G — the gradient
of the output with respect to that node, in denominator layout — is the sum of what its parents sent
it, simplified once; then each child that depends on the variable receives the adjoint that the
parent's rule (operators.toml / functions.toml) gives. Shared subexpressions are visited once. For a
vector-valued expression the seed is a symbolic vector G, and the Jacobian is read off the result,
which is linear in G (`x̄ = J'*G`).

Layouts: the walk yields the denominator layout (a gradient has the variable's shape; ∂y/∂x of
vectors is n×m); the numerator layout is its transpose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from .. import budget as _budget
from ..language import expr as E
from ..language.arguments import check_assume, check_name, check_shapes, check_text
from .assumptions import Assumptions, bind, parse_assumptions
from ..errors import MatcalcError, UnsupportedError
from ..language.expr import Node
from ..language.functions import row as function_row
from ..language.parse import parse
from ..language.printing import to_latex_bounded, to_text_bounded
from ..tables import functions, operators
from ..language.shapes import Builder, Typed, elaborate_many
from .simplify import Simplifier, table_rules

LAYOUTS = ("denominator", "numerator")
SEED = "G"


class Step:
    """One line of the derivation: the adjoint of `target`, and the identity that gave it.

    The text of a step with a node is printed when first read: a deep network's steps are large DAGs
    whose printed forms (with repeated parts named) cost more than the derivation, and most callers
    never look at them."""

    __slots__ = ("target", "_expression", "rule", "source", "kind", "node", "target_node")
    FIELDS = ("target", "expression", "rule", "source", "kind")

    def __init__(self, target: str, expression: str | None, rule: str, source: str, kind: str = "chain",
                 node: Node | None = None, target_node: Node | None = None):
        self.target, self._expression, self.rule, self.source = target, expression, rule, source
        self.kind = kind      # chain | simplify | assumption | layout | result
        self.node, self.target_node = node, target_node

    @property
    def expression(self) -> str:
        if self._expression is None:
            self._expression = to_text_bounded(self.node)
        return self._expression

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.FIELDS}

    def __eq__(self, other) -> bool:
        return isinstance(other, Step) and self.as_dict() == other.as_dict()

    __hash__ = None

    def __repr__(self) -> str:
        return "Step(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.FIELDS) + ")"

    @property
    def latex(self) -> str:
        return to_latex_bounded(self.node) if self.node is not None else self.expression

    def __str__(self) -> str:
        return f"{self.target} = {self.expression}    [{self.rule}; {self.source}]"


@lru_cache(maxsize=None)
def _template(text: str):
    return parse(text)


def instantiate(text: str, env: dict[str, Node], dims: dict[str, object]) -> Node:
    return Builder(text, env, dims).build(_template(text))


def times_slope(row, X: Node, v: Node) -> Node:
    """v .* f'(X) for an elementwise function f (a product when X is a scalar): what the adjoint walk
    sends back (v = G) and what the forward walk sends on (v = dX); f' is the table's `derivative`."""
    slope = instantiate(row.derivative, {"x": X}, {"m": X.shape[0], "c": X.shape[1]})
    if E.is_zero(slope):
        return E.zero(v.shape)
    return E.mul(v, slope) if X.is_scalar else E.hadamard(v, slope)


def _denominator_shape(f: Node, x: Node) -> tuple:
    if f.is_scalar:
        return x.shape
    return (x.shape[0], f.shape[0]) if not x.is_scalar else (1, f.shape[0])


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


def _bracketed(node: Node) -> str:
    text = to_text_bounded(node)
    return text if node.op in ("sym", "fn") else f"({text})"


class _Walk:
    """The adjoint walk for one expression and one variable."""

    def __init__(self, root: Node, wrt: Node, simplifier: Simplifier, plain: Simplifier | None):
        self.root = root
        self.wrt = wrt
        self.simplify = simplifier
        self.plain = plain
        self.steps: list[Step] = []

    def run(self, seed: Node) -> Node:
        order = E.walk(self.root)
        depends: set[Node] = set()
        for node in order:
            if node is self.wrt or any(a in depends for a in node.args):
                depends.add(node)
        if self.root not in depends:
            return E.zero(self.wrt.shape)
        incoming: dict[Node, list[tuple[Node, str, str]]] = {self.root: [(seed, "seed", "")]}
        for node in reversed(order):
            if node not in depends:
                continue
            _budget.check("walking the adjoints")
            parts = incoming.pop(node, [])
            adjoint = self._settle(node, parts)
            if node is self.wrt:
                return adjoint
            for child, contribution, rule, source in self._send(node, adjoint, depends):
                incoming.setdefault(child, []).append((contribution, rule, source))
        return E.zero(self.wrt.shape)

    def _settle(self, node: Node, parts) -> Node:
        raw = E.add(*(p[0] for p in parts)) if parts else E.zero(node.shape)
        if parts and parts[0][1] == "seed":
            return raw
        target = f"∂f/∂{_bracketed(node)}" if node is not self.wrt else f"∂f/∂{node.attr}"
        rules = "; ".join(dict.fromkeys(p[1] for p in parts))
        sources = "; ".join(dict.fromkeys(p[2] for p in parts))
        self.steps.append(Step(target, None, rules, sources, "chain", raw, node))
        shown = raw
        if self.plain is not None:
            before = len(self.plain.trace)
            shown = self.plain(raw)
            self._note(target, shown, raw, self.plain.trace[before:], "simplify")
        before = len(self.simplify.trace)
        result = self.simplify(raw)
        fired = self.simplify.trace[before:]
        kind = "assumption" if self.plain is not None else "simplify"
        if self.plain is not None:
            fired = [r for r in fired if r.source.startswith("assumption")]
        self._note(target, result, shown, fired, kind)
        return result

    def _note(self, target, new, old, fired, kind):
        if new is old:
            return
        names = list(dict.fromkeys(r.name for r in fired)) or ["collect and factor terms"]
        sources = list(dict.fromkeys(r.source for r in fired)) or ["algebra"]
        self.steps.append(Step("", None, "; ".join(names), "; ".join(sources), kind, new))

    def _send(self, node: Node, G: Node, depends: set[Node]):
        op = node.op
        if op == "add":
            r = operators()[("add", "term")]
            for child in node.args:
                if child in depends:
                    yield child, G, r.rule, r.source
        elif op == "mul":
            args = node.args
            for i, child in enumerate(args):
                if child not in depends:
                    continue
                others = args[:i] + args[i + 1:]
                if child.is_scalar:
                    r = operators()[("mul", "scalar")]
                    P = E.mul(*others) if others else E.num(1)
                    yield child, self._op(r, G=G, P=P), r.rule, r.source
                else:
                    r = operators()[("mul", "matrix")]
                    L = E.mul(*args[:i]) if i else E.eye(child.shape[0])
                    R = E.mul(*args[i + 1:]) if i + 1 < len(args) else E.eye(child.shape[1])
                    yield child, self._op(r, G=G, L=L, R=R), r.rule, r.source
        elif op == "had":
            r = operators()[("had", "factor")]
            for i, child in enumerate(node.args):
                if child in depends:
                    others = node.args[:i] + node.args[i + 1:]
                    yield child, self._op(r, G=G, P=E.hadamard(*others)), r.rule, r.source
        elif op in ("T", "pow", "epow"):
            slot = "operand" if op == "T" else "base"
            r = operators()[(op, slot)]
            env = {"G": G, "X": node.args[0]}
            if op != "T":
                env["p"] = E.num(node.attr)
            yield node.args[0], self._op(r, **env), r.rule, r.source
        elif op == "bcast":
            child = node.args[0]
            slot = "scalar" if child.is_scalar else ("row" if child.shape[0] == 1 else "column")
            r = operators()[("bcast", slot)]
            yield child, self._op(r, G=G, m=node.shape[0], c=node.shape[1]), r.rule, r.source
        elif op == "fn":
            row = function_row(node.attr)
            X = node.args[0]
            dims = {"m": X.shape[0], "c": X.shape[1]}
            if row.kind == "elementwise":
                adj = times_slope(row, X, G)
                if E.is_zero(adj):
                    return
            else:
                adj = instantiate(row.adjoint, {"G": G, "X": X, "F": node}, dims)
            yield X, adj, f"{row.printed}: {row.rule}", row.source
        elif op in ("vec", "unvec"):
            r = operators()[(op, "operand")]
            X = node.args[0] if op == "vec" else node
            yield node.args[0], self._op(r, G=G, m=X.shape[0], c=X.shape[1]), r.rule, r.source
        elif op == "kron":
            A, B = node.args
            dims = dict(p=A.shape[0], q=A.shape[1], r=B.shape[0], s=B.shape[1])
            for child, slot in ((A, "left"), (B, "right")):
                if child in depends:
                    r = operators()[("kron", slot)]
                    yield child, self._op(r, G=G, A=A, B=B, **dims), r.rule, r.source
        else:
            raise UnsupportedError(f"no adjoint rule for the operation {op!r}")

    @staticmethod
    def _op(row, **env) -> Node:
        dims = {k: v for k, v in env.items() if not isinstance(v, Node)}
        nodes = {k: v for k, v in env.items() if isinstance(v, Node)}
        return instantiate(row.adjoint, nodes, dims)


# ---------------------------------------------------------------- Jacobians of vector expressions


def linear_coefficient(expr: Node, G: Node, simplifier: Simplifier) -> Node:
    """M with expr = M*G, for an expression linear in the vector G (after expansion)."""
    expanded = simplifier.expand(expr)
    terms = expanded.args if expanded.op == "add" else (expanded,)
    # a term without G can only be a zero that did not cancel symbolically (x - x inside a function)
    parts = [_coef(t, G) for t in terms if not E.is_zero(t) and _contains(t, G)]
    if not parts:
        return E.zero((expr.shape[0], G.shape[0]))
    return simplifier(E.add(*parts))


def _contains(node: Node, G: Node) -> bool:
    return any(n is G for n in E.walk(node))


def _coef(t: Node, G: Node) -> Node:
    """M with t = M*G, for a column or scalar t that is linear in the column vector G."""
    if t is G:
        return E.eye(G.shape[0])
    op = t.op
    if op == "mul":
        return _coef_product(list(t.args), t, G)
    if op == "had":
        inside = [a for a in t.args if _contains(a, G)]
        others = [a for a in t.args if not _contains(a, G)]
        if len(inside) != 1:
            raise UnsupportedError("the Jacobian could not be read off: the expression is not linear")
        diag = E.fn("diag", E.hadamard(*others), (t.shape[0], t.shape[0])) if others else E.eye(t.shape[0])
        return E.mul(diag, _coef(inside[0], G))
    if op == "T" and t.is_scalar:
        return _coef(t.args[0], G)
    if op == "fn" and t.attr == "sum":
        u = t.args[0]
        if u.shape[0] != 1 and u.shape[1] != 1:  # the sum of a matrix: ones(m)'*U*ones(n)
            return _coef(_matrix_sum(u), G)
        if u.shape[0] == 1:
            u = E.transpose(u)
        return E.mul(E.transpose(E.ones(u.shape[0])), _coef(u, G))
    if op == "bcast" and t.args[0].is_scalar:
        return E.mul(E.ones(t.shape[0]), _coef(t.args[0], G))
    if op == "add":
        return E.add(*(_coef(a, G) for a in t.args))
    raise UnsupportedError(f"the Jacobian could not be read off a term of kind {op!r}")


def _coef_product(args: list[Node], t: Node, G: Node) -> Node:
    """A product linear in G: cut out the smallest scalar segment around the factor holding G (it is
    r*G for a row r), or find G's factor at the right end of the chain."""
    idx = [i for i, a in enumerate(args) if _contains(a, G)]
    if len(idx) != 1:
        raise UnsupportedError("the Jacobian could not be read off: the expression is not linear")
    i = idx[0]
    f = args[i]
    others = args[:i] + args[i + 1:]
    if f.is_scalar:
        return E.mul(*others, _row(f, G)) if others else _row(f, G)
    chain = [k for k, a in enumerate(args) if not (a.is_scalar and not _scalar_chain_factor(a))]
    pos = chain.index(i)
    if pos == len(chain) - 1:
        return E.mul(*others, _coef(f, G)) if others else _coef(f, G)
    for lo in range(pos, -1, -1):
        for hi in range(pos, len(chain)):
            seg = [args[k] for k in chain[lo:hi + 1]]
            if E._chain_shape(seg) == E.SCALAR and (lo, hi) != (0, len(chain) - 1) or (
                    E._chain_shape(seg) == E.SCALAR and t.is_scalar):
                inside = set(chain[lo:hi + 1])
                rest = [a for k, a in enumerate(args) if k not in inside]
                row = _row(Node("mul", tuple(seg), None, E.SCALAR), G)
                return E.mul(*rest, row) if rest else row
    raise UnsupportedError("the Jacobian could not be read off (the seed sits inside a product)")


def _matrix_sum(u: Node) -> Node:
    """sum(U) of an m×n matrix as the product ones(m)'*U*ones(n), which the readers above take apart."""
    return E.mul(E.transpose(E.ones(u.shape[0])), u, E.ones(u.shape[1]))


def _scalar_chain_factor(a: Node) -> bool:
    return a.op == "mul" and a.is_scalar


def _row(s: Node, G: Node) -> Node:
    """r with s = r*G for a scalar s linear in G (r is a row)."""
    if s.op == "mul":
        args = [a for a in s.args if a.is_scalar and not _scalar_chain_factor(a)]
        chain = [a for a in s.args if not (a.is_scalar and not _scalar_chain_factor(a))]
        if len(chain) == 1 and chain[0].is_scalar:  # c * (inner scalar chain)
            return E.mul(*args, _row(chain[0], G))
        idx = [k for k, a in enumerate(chain) if _contains(a, G)]
        if len(idx) != 1:
            if not chain:
                k = [j for j, a in enumerate(args) if _contains(a, G)][0]
                return E.mul(*(args[:k] + args[k + 1:]), _row(args[k], G))
            raise UnsupportedError("the Jacobian could not be read off: not linear")
        k = idx[0]
        f = chain[k]
        if k == len(chain) - 1:
            return E.mul(*args, *chain[:k], _coef(f, G))
        if k == 0:  # s = s': the factor holding G moves to the right end
            flipped = [E.transpose(a) for a in reversed(chain)]
            return E.mul(*args, *flipped[:-1], _coef(flipped[-1], G))
        left, right = chain[:k], chain[k + 1:]
        if f.op == "fn" and f.attr == "diag":  # u'*diag(h)*v = (u .* v)'*h
            u, v = E.mul(*left), E.mul(*right)
            return E.mul(*args, E.transpose(E.hadamard(E.transpose(u), v)), _coef(f.args[0], G))
        raise UnsupportedError("the Jacobian could not be read off (the seed sits inside a product)")
    if s.op == "T":
        return _row(s.args[0], G)
    if s.op == "fn" and s.attr == "sum":
        if s.args[0].shape[0] != 1 and s.args[0].shape[1] != 1:
            return _row(_matrix_sum(s.args[0]), G)
        u = s.args[0] if s.args[0].shape[1] == 1 else E.transpose(s.args[0])
        return E.mul(E.transpose(E.ones(u.shape[0])), _coef(u, G))
    if s.op == "add":
        return E.add(*(_row(a, G) for a in s.args))
    if s.op == "had":  # a Hadamard product of scalars is a product
        return _row(E.mul(*s.args), G)
    raise UnsupportedError(f"the Jacobian could not be read off a scalar of kind {s.op!r}")


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

    def __str__(self) -> str:
        return "0" if E.is_zero(self.result) else to_text_bounded(self.result, set(self.typed.names))

    def __repr__(self) -> str:
        return f"Derivation({self.expression!r}, wrt={self.wrt!r}, layout={self.layout!r}) = {self}"

    @property
    def text(self) -> str:
        return str(self)

    @property
    def shared(self) -> tuple[str, list[tuple[str, str]]]:
        """The result with repeated subexpressions named once: (text, [(name, definition)])."""
        from ..language.printing import to_text_shared

        return to_text_shared(self.result, set(self.typed.names))

    @property
    def latex(self) -> str:
        return to_latex_bounded(self.result, set(self.typed.names))

    @property
    def shape(self) -> tuple:
        return self.result.shape

    @property
    def differentials(self) -> list:
        """The steps written by the differential method: df = tr(G' dZ), line by line (differential.py);
        scalar functions, first order."""
        from .differential import differential_steps

        return differential_steps(self)

    @property
    def index(self) -> str:
        """The result entry by entry, saying which entry it is, as the blog posts write it:
        `df/dW_ij = (softmax(W*x + b)_i - y_i)*x_j`. The left side carries the layout: in numerator
        layout the Jacobian's entry (i, j) is df_i/dx_j, in denominator layout df_j/dx_i."""
        from .index_matrix import to_index
        from ..language.index_print import _axes
        from ..language.printing import MAX_INLINE, inline_size

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

    def to_numpy(self):
        """A callable: keyword arrays (vectors 1-D, matrices 2-D) in, the derivative out. The sizes of
        dimensions the result alone does not show (I in ∂tr(X)/∂X) are read off the other inputs."""
        from ..compile.codegen import compile_derivation

        return compile_derivation(self)

    def compile(self, backend: str = "numpy"):
        """The derivative as a callable on numpy, torch, jax or cupy arrays (see matcalc/backends.py);
        for a scalar function, `.loss(**arrays)` is differentiable in torch/jax by the derived formula."""
        from ..compile.backends import compile_for

        return compile_for(self, backend)

    def to_torch(self):
        return self.compile("torch")

    def to_jax(self):
        return self.compile("jax")

    def source(self, backend: str = "numpy") -> str:
        """The generated code as text for numpy, torch, jax or cupy."""
        from ..compile.codegen import derivation_source

        return derivation_source(self, backend)

    @property
    def numpy_source(self) -> str:
        from ..compile.codegen import derivation_source

        return derivation_source(self)

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

    def _repr_latex_(self) -> str:
        return f"$$\\frac{{\\partial f}}{{\\partial {self.wrt}}} = {self.latex}$$"

    def _repr_markdown_(self) -> str:
        from ..api.report import markdown_report

        return markdown_report(self)


def check_layout(layout: str) -> None:
    if layout not in LAYOUTS:
        raise MatcalcError(f"unknown layout {layout!r}; use 'numerator' or 'denominator'")


def read_input(expression: str, input: str = "auto") -> str:
    """ASCII passes through; LaTeX (detected, or forced with input="latex") is translated first."""
    if input not in ("auto", "ascii", "latex"):
        raise MatcalcError(f"unknown input kind {input!r}; use auto, ascii or latex")
    if not isinstance(expression, str):
        raise TypeError(f"the expression must be a str, got {type(expression).__name__}")
    # bounded before the LaTeX translator runs: a 4 MB line must not reach it
    check_text(expression, "the expression")
    from ..language.latex import latex_to_ascii, looks_like_latex

    if input == "latex" or (input == "auto" and looks_like_latex(expression)):
        return latex_to_ascii(expression)
    return expression


def prepare(expression: str, shapes=None, assume=()):
    """Type the expression together with the assumptions' expressions (they share names)."""
    a = parse_assumptions(assume)
    typed, extra = elaborate_many(expression, shapes, a.expressions())
    a = bind(a, typed.names, extra)
    return typed, a


def _second_derivative(f, x, grad, direction, typed, simplifier, plain, steps) -> Node:
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
    steps.append(Step("∇f", to_text_bounded(grad), "the gradient; now its derivative", "", "result"))
    if direction is None:
        return _first_derivative(grad, x, simplifier, plain, steps)
    if not isinstance(direction, str) or not direction.isidentifier() or direction in typed.names:
        raise MatcalcError(f"the direction must be a new name (not one of {', '.join(sorted(typed.names))}); "
                           f"got {direction!r}")
    V = E.sym(direction, x.shape)
    typed.names[direction] = V
    inner = E.fn("sum", E.hadamard(V, grad), E.SCALAR) if not x.is_scalar else E.mul(V, grad)
    steps.append(Step(f"sum({direction} .* ∇f)", to_text_bounded(inner),
                      "Hessian-vector product: H[V] is the gradient of <V, ∇f>", "Hessian symmetry", "result"))
    return _first_derivative(inner, x, simplifier, plain, steps)


def derive(expression: str, wrt: str, shapes=None, assume=(), layout: str = "denominator",
           order: int = 1, input: str = "auto", direction: str | None = None,
           budget: _budget.Budget | None = None) -> Derivation:
    """Differentiate `expression` with respect to the name `wrt`.

    shapes: {"W": ("c", "d"), "x": ("d",), "lam": ()} declares shapes (inferred otherwise);
    assume: texts such as "sum(y) = 1", "A symmetric"; layout: "denominator" (default) or "numerator";
    order: 1 for the gradient or Jacobian, 2 for the Hessian of a scalar function of a vector;
    direction: with order=2, a new name V: the Hessian-vector product H[V] (for a matrix variable).
    budget: a matcalc.budget.Budget (time, memory); default 10 s and 1 GB, or MATCALC_TIME_LIMIT and
    MATCALC_MEMORY_LIMIT. Work past it stops with BudgetExceeded (a MatcalcError).
    """
    with _budget.limit(budget):
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
    typed, a = prepare(expression, shapes, assume)
    if not isinstance(wrt, str) or wrt not in typed.names:
        names = ", ".join(sorted(typed.names)) or "none"
        raise MatcalcError(f"cannot differentiate with respect to {wrt!r}: it does not appear in "
                           f"{expression!r} (its names: {names})")
    x = typed.names[wrt]
    f = typed.root
    rules = a.rules + table_rules()
    simplifier = Simplifier(rules)
    plain = Simplifier(table_rules()) if a.rules else None
    steps: list[Step] = [Step("f", to_text_bounded(f), f"{kind_of(f, x)} derivative, {layout} layout", "", "result")]
    den = _first_derivative(f, x, simplifier, plain, steps)
    if order == 2:
        den = _second_derivative(f, x, den, direction, typed, simplifier, plain, steps)
    result = den if layout == "denominator" else simplifier(E.transpose(den))
    if layout == "numerator" and not result.is_scalar:
        steps.append(Step("numerator layout", to_text_bounded(result), "transpose of the denominator-layout result",
                          "Wikipedia: Matrix calculus, Layout conventions", "layout"))
    steps.append(Step(f"∂f/∂{wrt}", to_text_bounded(result), f"result ({layout} layout)", "", "result"))
    return Derivation(expression, wrt, layout, result, typed, a, steps, den, order, direction)


def _first_derivative(f: Node, x: Node, simplifier: Simplifier, plain, steps: list[Step]) -> Node:
    if f.shape[0] == 1 and f.shape[1] != 1:
        f = E.transpose(f)       # a row vector has its transpose's Jacobian: the same entries ∂f_i/∂x_j
    if f.shape[1] != 1 and not f.is_scalar:
        raise UnsupportedError(
            f"the expression is a {E.shape_text(f.shape)} matrix: its derivative is a higher-order tensor. "
            f"matcalc derives scalar-valued expressions (any variable) and vector-valued ones (with respect "
            f"to a scalar or a vector); --format index writes it entry by entry (df_ij/dX_kl = ...), "
            f"--format kron as the vec/Kronecker Jacobian (kron(B', A) for A*X*B), or "
            f"differentiate a scalar function of it such as sum(...) or tr(...)")
    if not f.is_scalar and not (x.is_scalar or x.is_vector):
        raise UnsupportedError(
            f"the derivative of a vector with respect to the {E.shape_text(x.shape)} matrix {x.attr} is a "
            f"3-tensor; --format index writes it entry by entry (df_i/d{x.attr}_kl = ...), --format kron as "
            f"∂vec(f)/∂vec({x.attr})', or differentiate a "
            f"scalar such as a'*(...) instead")
    walk = _Walk(f, x, simplifier, plain)
    if f.is_scalar:
        grad = walk.run(E.num(1))
        steps.extend(walk.steps)
        return grad
    G = E.sym("@G", f.shape)
    adjoint = walk.run(G)
    steps.extend(walk.steps)
    jac = linear_coefficient(adjoint, G, simplifier)
    if x.is_scalar:
        jac = simplifier(E.transpose(jac)) if jac.shape[1] == 1 and jac.shape[0] != 1 else jac
    steps.append(Step("Jacobian", to_text_bounded(jac), "read off x̄ = J'*G (denominator layout: J')",
                      "Wikipedia: Matrix calculus, Vector-by-vector", "result"))
    return jac


__all__ = ["derive", "Derivation", "Step", "LAYOUTS", "functions"]
