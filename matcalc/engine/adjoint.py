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
from ..language.named import Renamer, inline
from ..language.printing import inline_size, to_latex_bounded, to_text_bounded
from ..language.shapes import Builder
from ..tables import operators
from .simplify import Simplifier


class Step:
    """One line of the derivation: the adjoint of `target`, and the identity that gave it.

    The text of a step with a node is printed when first read: a deep network's steps are large DAGs
    whose printed forms (with repeated parts named) cost more than the derivation, and most callers
    never look at them."""

    __slots__ = ("target", "_expression", "rule", "source", "kind", "node", "target_node", "names")
    FIELDS = ("target", "expression", "rule", "source", "kind")

    def __init__(self, target: str, expression: str | None, rule: str, source: str, kind: str = "chain",
                 node: Node | None = None, target_node: Node | None = None, names: Renamer | None = None):
        self.target, self._expression, self.rule, self.source = target, expression, rule, source
        self.kind = kind      # chain | simplify | assumption | layout | result
        self.node, self.target_node = node, target_node
        self.names = names    # the user's definitions (h = tanh(W*x)), written as their names

    @property
    def expression(self) -> str:
        if self._expression is None:
            node = self.names(self.node) if self.names else self.node
            self._expression = to_text_bounded(node, self.names.taken if self.names else frozenset())
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
        if self.node is None:
            return self.expression
        return to_latex_bounded(self.names(self.node) if self.names else self.node)

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


def _bracketed(node: Node, names: Renamer | None = None) -> str:
    if names:
        node = names(node)
    text = to_text_bounded(node, names.taken if names else frozenset())
    return text if node.op in ("sym", "fn") else f"({text})"


HOLD_SIZE = 160     # characters (about) of a defined name's adjoint past which it is held as a name


class _Walk:
    """The adjoint walk for one expression and one variable."""

    def __init__(self, root: Node, wrt: Node, simplifier: Simplifier, plain: Simplifier | None,
                 names: Renamer | None = None):
        self.root = root
        self.wrt = wrt
        self.simplify = simplifier
        self.plain = plain
        self.steps: list[Step] = []
        self.names = names
        # the adjoint of a defined name that goes on to two or more operands is held as a name of its
        # own (dh2 = ∂f/∂h2), as backprop writes each layer's δ once: every adjoint sent on stays small
        self.held: list[tuple[str, Node]] = []        # (name, its adjoint), in the order computed
        self._held_back: dict[Node, Node] = {}        # the held symbol -> its adjoint
        self._held_memo: dict = {}
        self._held_target: dict[Node, str] = {}
        self._back_memo: dict = {}

    def run(self, seed: Node) -> Node:
        order = E.walk(self.root)
        depends: set[Node] = set()
        for node in order:
            if node is self.wrt or any(a in depends for a in node.args):
                depends.add(node)
        if self.root not in depends:
            return E.zero(self.wrt.shape)
        hold = self.names is not None and bool(self.names) and seed.op == "num"
        taken = set(self.names.taken) if hold else set()
        incoming: dict[Node, list[tuple[Node, str, str]]] = {self.root: [(seed, "seed", "")]}
        for node in reversed(order):
            if node not in depends:
                continue
            _budget.check("walking the adjoints")
            parts = incoming.pop(node, [])
            first = len(self.steps)
            adjoint = self._settle(node, parts)
            name = self.names.name_of(node) if hold and node is not self.wrt else None
            if name is not None and not E.is_zero(adjoint) and self._holds(node, adjoint, parts, depends):
                held = f"d{name}"
                while held in taken:
                    held += "_"
                taken.add(held)
                self._held_target[node] = held
                if first < len(self.steps):
                    self.steps[first].target = f"{held} = {self.steps[first].target}"
                symbol = E.sym(held, node.shape)
                real = inline(adjoint, self._held_back, self._held_memo)
                self._held_back[symbol] = real
                self.held.append((symbol.attr, real))
                adjoint = symbol
            if node is self.wrt:
                return self.inlined(adjoint)
            for child, contribution, rule, source in self._send(node, adjoint, depends):
                incoming.setdefault(child, []).append((contribution, rule, source))
        return E.zero(self.wrt.shape)

    def _holds(self, node: Node, adjoint: Node, parts, depends) -> bool:
        """Whether a defined name's adjoint is held as a name of its own: where it goes on to two or more
        operands (it would be copied into each), comes from two or more (it is a sum), is a sum that the
        simplifier would distribute over whatever multiplies it next ((W2'*dz) .* (1 - h.^2) stays so), or
        has grown long (a chain of a thousand definitions would carry each layer's factors into the next:
        held, every adjoint stays the size of one layer's rule)."""
        if sum(1 for a in set(node.args) if a in depends) >= 2 or len(parts) >= 2:
            return True
        core = adjoint.args[-1] if adjoint.op == "mul" and adjoint.args[0].op == "num" and \
            len(adjoint.args) == 2 else adjoint
        return core.op == "add" or inline_size(self.names(adjoint)) > HOLD_SIZE

    def inlined(self, node: Node) -> Node:
        """`node` with every held adjoint (dh2) put back as the expression it holds."""
        return inline(node, self._held_back, self._held_memo) if self._held_back else node

    def _settle(self, node: Node, parts) -> Node:
        if self.names and len(parts) > 1:    # h + h, not the terms of h twice over
            raw = inline(E.add(*(self.names(p[0]) for p in parts)), self.names.back, self._back_memo)
        else:
            raw = E.add(*(p[0] for p in parts)) if parts else E.zero(node.shape)
        if parts and parts[0][1] == "seed":
            return raw
        target = f"∂f/∂{_bracketed(node, self.names)}" if node is not self.wrt else f"∂f/∂{node.attr}"
        rules = "; ".join(dict.fromkeys(p[1] for p in parts))
        sources = "; ".join(dict.fromkeys(p[2] for p in parts))
        self.steps.append(Step(target, None, rules, sources, "chain", raw, node, self.names))
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
        self.steps.append(Step("", None, "; ".join(names), "; ".join(sources), kind, new, names=self.names))

    def _send(self, node: Node, G: Node, depends: set[Node]):
        """(child, what it receives, rule, source) for each operand of `node` that depends on the variable.
        With definitions, the contributions are built over the user's names (a defined product stays one
        factor, G*h' rather than G*x'*W') and put back as the nodes the names stand for."""
        if not self.names:
            args, F, back = node.args, node, None
        else:
            args = tuple(self.names(a) for a in node.args)
            F, G, back = self.names(node), self.names(G), self.names.back
        for i, contribution, rule, source in self._parts(node, args, F, G, depends):
            if back is not None:
                contribution = inline(contribution, back, self._back_memo)
            yield node.args[i], contribution, rule, source

    def _parts(self, node: Node, args: tuple, F: Node, G: Node, depends: set[Node]):
        op = node.op
        live = [a in depends for a in node.args]
        if op == "add":
            r = operators()[("add", "term")]
            for i in range(len(args)):
                if live[i]:
                    yield i, G, r.rule, r.source
        elif op == "mul":
            for i, child in enumerate(args):
                if not live[i]:
                    continue
                others = args[:i] + args[i + 1:]
                if child.is_scalar:
                    r = operators()[("mul", "scalar")]
                    P = E.mul(*others) if others else E.num(1)
                    yield i, self._op(r, G=G, P=P), r.rule, r.source
                else:
                    r = operators()[("mul", "matrix")]
                    L = E.mul(*args[:i]) if i else E.eye(child.shape[0])
                    R = E.mul(*args[i + 1:]) if i + 1 < len(args) else E.eye(child.shape[1])
                    yield i, self._op(r, G=G, L=L, R=R), r.rule, r.source
        elif op == "had":
            r = operators()[("had", "factor")]
            for i in range(len(args)):
                if live[i]:
                    others = args[:i] + args[i + 1:]
                    yield i, self._op(r, G=G, P=E.hadamard(*others)), r.rule, r.source
        elif op in ("T", "pow", "epow"):
            slot = "operand" if op == "T" else "base"
            r = operators()[(op, slot)]
            env = {"G": G, "X": args[0]}
            if op != "T":
                env["p"] = E.num(node.attr)
            yield 0, self._op(r, **env), r.rule, r.source
        elif op == "bcast":
            child = args[0]
            slot = "scalar" if child.is_scalar else ("row" if child.shape[0] == 1 else "column")
            r = operators()[("bcast", slot)]
            yield 0, self._op(r, G=G, m=node.shape[0], c=node.shape[1]), r.rule, r.source
        elif op == "fn" and len(node.args) > 1:
            row = function_row(node.attr)
            for i, child in enumerate(args):
                if live[i]:
                    adj = times_slope(row, child, G, args, i)
                    if not E.is_zero(adj):
                        yield i, adj, f"{row.printed}: {row.rule}", row.source
        elif op == "vpow":
            X, p = args
            for i, slot in ((0, "base"), (1, "exponent")):
                if live[i]:
                    r = operators()[("vpow", slot)]
                    yield i, self._op(r, G=G, X=X, p=p, F=F), r.rule, r.source
        elif op == "fn":
            row = function_row(node.attr)
            X = args[0]
            dims = {"m": X.shape[0], "c": X.shape[1]}
            if row.kind == "elementwise":
                adj = times_slope(row, X, G)
                if E.is_zero(adj):
                    return
            else:
                adj = instantiate(row.adjoint, {"G": G, "X": X, "F": F}, dims)
            yield 0, adj, f"{row.printed}: {row.rule}", row.source
        elif op in ("vec", "unvec"):
            r = operators()[(op, "operand")]
            X = args[0] if op == "vec" else F
            yield 0, self._op(r, G=G, m=X.shape[0], c=X.shape[1]), r.rule, r.source
        elif op == "kron":
            A, B = args
            dims = dict(p=A.shape[0], q=A.shape[1], r=B.shape[0], s=B.shape[1])
            for i, slot in ((0, "left"), (1, "right")):
                if live[i]:
                    r = operators()[("kron", slot)]
                    yield i, self._op(r, G=G, A=A, B=B, **dims), r.rule, r.source
        else:
            raise UnsupportedError(f"no adjoint rule for the operation {op!r}")

    @staticmethod
    def _op(row, **env) -> Node:
        dims = {k: v for k, v in env.items() if not isinstance(v, Node)}
        nodes = {k: v for k, v in env.items() if isinstance(v, Node)}
        return instantiate(row.adjoint, nodes, dims)
