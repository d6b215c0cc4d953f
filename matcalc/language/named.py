"""The user's names in what matcalc prints: `h = tanh(W1*x); z = W2*h + b; ...` defines h and z, and a
result or a step that holds those subexpressions writes them as h and z, the way a book writes the δ of
each layer (`∂f/∂h3 = ...`) rather than the subexpression written out.

The tree is hash-consed, so a defined subexpression *is* one node wherever it occurs: renaming is one
memoised pass over the DAG (never over the inlined tree), shared by every step of a derivation. A
definition that is only another name for a variable (`h0 = x`) is not used: x stays x.

`program_text` writes a node as a pasteable input of the language: the definitions it needs (the user's
and, for a large result, names for its repeated parts), then the body — `z1 = W*x; z1 .* tanh(z1)`.
"""

from __future__ import annotations

from .expr import Node, rebuild, sym, walk

PLAIN = ("sym", "num", "ones", "eye", "zero")


def _unseen(root: Node, memo: dict) -> list[Node]:
    """The nodes below `root` that `memo` does not hold yet, children first: a pass that is called once
    per step of a derivation walks each shared node once in all, not once per step."""
    if root in memo:
        return []
    order: list[Node] = []
    seen: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for child in reversed(node.args):
            if id(child) not in seen and child not in memo:
                stack.append((child, False))
    return order


class Renamer:
    """Replaces each defined subexpression by the name the user gave it. (Its transpose is met as h' by
    whoever builds over the names: the adjoint walk does, so no pushed-down transpose is looked for.)"""

    def __init__(self, definitions: dict[str, Node] | None = None, taken=()):
        self.names: dict[Node, Node] = {}
        self.order: list[tuple[str, Node]] = []       # (name, definition) in the user's order
        self.taken = set(taken) | set(definitions or ())
        for name, node in (definitions or {}).items():
            if node.op in PLAIN or node in self.names:
                continue                               # an alias (h0 = x): x is printed as x
            self.names[node] = sym(name, node.shape)
            self.order.append((name, node))
        self._memo: dict[Node, Node] = {}
        self.back = {named: node for node, named in self.names.items() if named.op == "sym"}

    def __bool__(self) -> bool:
        return bool(self.names)

    def __call__(self, node: Node | None, keep_root: bool = False) -> Node | None:
        """`node` with the user's names put in; with keep_root, the node itself is not replaced (the
        definition of h is printed as its expression, not as h)."""
        if node is None or not self.names:
            return node
        memo = self._memo
        for n in _unseen(node, memo):
            if n in self.names:
                memo[n] = self.names[n]
            elif not n.args:
                memo[n] = n
            else:
                args = tuple(memo[a] for a in n.args)
                memo[n] = n if all(a is b for a, b in zip(args, n.args)) else rebuild(n, args)
        if keep_root and node in self.names:
            if not node.args:
                return node
            args = tuple(memo[a] for a in node.args)
            return node if all(a is b for a, b in zip(args, node.args)) else rebuild(node, args)
        return memo[node]

    def name_of(self, node: Node) -> str | None:
        found = self.names.get(node)
        return found.attr if found is not None and found.op == "sym" else None

    def definitions(self) -> list[tuple[str, Node]]:
        """Each definition written with the names before it (`z = W2*h + b`)."""
        return [(name, self(node, keep_root=True)) for name, node in self.order]

    def used(self, node: Node) -> list[tuple[str, Node]]:
        """The definitions `node` (already renamed) needs, and those they need in turn, in order."""
        need = {n.attr for n in walk(node) if n.op == "sym"}
        out = []
        for name, body in reversed(self.definitions()):
            if name in need:
                out.append((name, body))
                need |= {n.attr for n in walk(body) if n.op == "sym"}
        out.reverse()
        return out


def inline(node: Node, mapping: dict[Node, Node], memo: dict | None = None) -> Node:
    """`node` with each placeholder of `mapping` replaced by its node, and nothing else rebuilt: the
    definitions stay whole nodes (h2 + tanh(A2*h2) keeps h2 as an operand, not flattened into its terms),
    so the adjoint walk meets each defined name as one node and its adjoint is the whole ∂f/∂h2."""
    if not mapping:
        return node
    memo = {} if memo is None else memo
    for n in _unseen(node, memo):
        found = mapping.get(n)
        if found is not None:
            memo[n] = found
        elif not n.args:
            memo[n] = n
        else:
            args = tuple(memo[a] for a in n.args)
            memo[n] = n if all(a is b for a, b in zip(args, n.args)) else Node(n.op, args, n.attr, n.shape)
    return memo[node]


def program_text(body: str, definitions: list[tuple[str, str]]) -> str:
    """`h = ...; z = ...; body`: an input matcalc reads back as the same expression."""
    return "; ".join([f"{n} = {d}" for n, d in definitions] + [body])


__all__ = ["Renamer", "inline", "program_text", "PLAIN"]
