"""The adjoint walk: reverse-mode differentiation on the expression DAG, by the rows of rules/.

Walk the nodes from the output down (parents before children); each node's adjoint G — the gradient
of the output with respect to that node, in denominator layout — is the sum of what its parents sent
it, simplified once; then each child that depends on the variable receives the adjoint that the
parent's rule (operators.toml / functions.toml) gives. Shared subexpressions are visited once, so the
cost grows with the DAG, not with the tree written out. Every adjoint is recorded as a Step, with the
rule and the source that gave it.

The walk never names a function or an operator's derivative itself: those are rows of the tables.
"""

from __future__ import annotations

from functools import lru_cache

from .. import budget as _budget
from ..errors import UnsupportedError
from ..language import expr as E
from ..language.expr import Node
from ..language.functions import row as function_row
from ..language.parse import parse
from ..language.printing import to_latex_bounded, to_text_bounded
from ..language.shapes import Builder
from ..tables import operators
from .simplify import Simplifier


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


def times_slope(row, X: Node, v: Node, args: tuple = (), which: int = 0) -> Node:
    """v .* f'(X) for an elementwise function f (a product when X is a scalar): what the adjoint walk
    sends back (v = G) and what the forward walk sends on (v = dX); f' is the table's `derivative`.
    For f(x, y) of two arguments (`args`), the partial in argument `which`: `derivative` or `derivative2`."""
    env = dict(zip(("x", "y"), args)) if args else {"x": X}
    text = row.derivative2 if which == 1 else row.derivative
    slope = instantiate(text, env, {"m": X.shape[0], "c": X.shape[1]})
    if E.is_zero(slope):
        return E.zero(v.shape)
    return E.mul(v, slope) if X.is_scalar else E.hadamard(v, slope)


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
        elif op == "fn" and len(node.args) > 1:
            row = function_row(node.attr)
            for i, child in enumerate(node.args):
                if child in depends:
                    adj = times_slope(row, child, G, node.args, i)
                    if not E.is_zero(adj):
                        yield child, adj, f"{row.printed}: {row.rule}", row.source
        elif op == "vpow":
            X, p = node.args
            for child, slot in ((X, "base"), (p, "exponent")):
                if child in depends:
                    r = operators()[("vpow", slot)]
                    yield child, self._op(r, G=G, X=X, p=p, F=node), r.rule, r.source
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
