"""Short names for the values of a network, so that a formula reads as a person writes it.

In `-sum(Y .* log(softmax_rows(relu(relu(X*W1 + b1')*W2 + b2')*W3 + b3')))/m` the activations are
named as the seed posts and the training demo name them: Z1, Z2, ... the pre-activations, A1, A2, ...
= relu(Z1), relu(Z2), ..., S = softmax_rows(Z3); matcalc's answer for W3 then prints as
`(1/m)*A2'*(S - Y)`. Names the expression already uses are never taken.
"""

from __future__ import annotations

from ...language import expr as E
from ...language.expr import Node
from ...language.printing import to_text


class Names:
    """The naming of one expression: `text(node)` prints a node with the names; `legend` defines them."""

    def __init__(self, root: Node, taken):
        taken = set(taken)
        self.mapping: dict[Node, Node] = {}
        self.labels: dict[Node, str] = {}
        order: list[tuple[str, Node]] = []
        relus = [n for n in E.walk(root) if n.op == "fn" and n.attr == "relu"]   # innermost first
        softmax = [n for n in E.walk(root) if n.op == "fn" and n.attr in ("softmax_rows", "softmax")]
        if not relus and not (softmax and len(to_text(softmax[0])) > 30):
            self.legend: list[tuple[str, str]] = []
            return
        k = 0
        for k, r in enumerate(relus, 1):
            order += [(f"Z{k}", r.args[0]), (f"A{k}", r)]
        if len(softmax) == 1:
            s = softmax[0]
            if s.args[0].op != "sym":
                order.append((f"Z{k + 1}", s.args[0]))
            order.append(("S" if s.attr == "softmax_rows" else "s", s))
        for name, node in order:
            if name in taken or node in self.mapping:
                continue
            self.mapping[node] = E.sym(name, node.shape)
            self.labels[node] = name
        self.legend = [(self.labels[n], to_text(E.substitute(n, {m: s for m, s in self.mapping.items() if m is not n})))
                       for _, n in order if n in self.labels]

    def __bool__(self) -> bool:
        return bool(self.mapping)

    def named(self, node: Node) -> Node:
        return E.substitute(node, self.mapping) if self.mapping else node

    def text(self, node: Node) -> str:
        return to_text(self.named(node))

    def legend_text(self) -> str:
        return ", ".join(f"{name} = {text}" for name, text in self.legend)


__all__ = ["Names"]
