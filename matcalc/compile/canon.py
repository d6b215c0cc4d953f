"""Passes 1 and 2 of the code generator, on the expression DAG (equal subtrees are one node):

1. **Canonical form up to transposition.** The engine pushes transposes down to the leaves, so the
   bias gradient arrives as `(S' - Y')*ones(m)` while the weight gradients hold `S - Y`: the same
   values, transposed. Every node is rewritten as `r` or `r'` where `r` is the first orientation in
   which its value was met (sums and Hadamard products with their operands sorted), so `S' - Y'`
   *is* `(S - Y)'` and is computed once. `log(softmax_rows(Z))` becomes `log_softmax_rows(Z)`,
   which is shifted by the row maximum and never takes the log of an underflowed 0.
2. **Scalars where they are cheapest.** A scalar factor such as `1/m` in front of a gradient is
   moved, through the linear operations (matrix products, Hadamard products, transposes), onto the
   operand that most gradients share -- `(S - Y)/m`, once, the way a hand-written backward pass
   scales the output error -- or else onto the smallest array.

The small helpers every later pass shares (`_rep`, `_kind`, `_size`) live here too.
"""

from __future__ import annotations

import keyword
from fractions import Fraction

from ..errors import MatcalcError
from ..language.expr import Node, walk
from ..language.functions import row as function_row

DEFAULT_SIZE = 32  # assumed size of an unknown dimension when ordering products and placing scalars

# fused functions the plan introduces (not in the language): name -> kind
_FUSED = {"log_softmax": "vector", "log_softmax_rows": "rows", "softplus": "elementwise",
          "log1p": "elementwise"}
_LOG_OF = {"softmax": "log_softmax", "softmax_rows": "log_softmax_rows"}
_INVARIANT_KINDS = ("reduce", "tovector")  # f(X') = f(X)
_FUSED_SPELLING = {"log1p": "np.log1p"}


def _rep(shape) -> str:
    r, c = shape
    if r == 1 and c == 1:
        return "scalar"
    if c == 1:
        return "col"
    if r == 1:
        return "row"
    return "mat"


def _py_name(name: str) -> str:
    return name + "_" if keyword.iskeyword(name) or name in ("np", "cp", "jnp", "jax", "torch") else name


def _number(v) -> str:
    v = Fraction(v)
    if v.denominator == 1:
        return f"{v.numerator}.0"
    text = repr(float(v))
    return text if len(text) < 12 else f"({v.numerator} / {v.denominator})"


def _float_text(value: float) -> str:
    return f"{value:.1f}" if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


def _kind(fname: str) -> str:
    if fname in _FUSED:
        return _FUSED[fname]
    return function_row(fname).kind


def _spelling(fname: str) -> str:
    if fname in _FUSED:
        return _FUSED_SPELLING.get(fname, fname)
    return function_row(fname).numpy


# ================================================================ pass 1: canonical form


def _T(r: Node) -> Node:
    if r.is_scalar:
        return r
    if r.op == "T":
        return r.args[0]
    return Node("T", (r,), None, (r.shape[1], r.shape[0]))


def _orient(r: Node, flipped: bool) -> Node:
    return _T(r) if flipped else r


def _by_key(nodes):
    return tuple(sorted(nodes, key=lambda n: n.key))


def _scalars_first_numbers(nodes):
    """Scalar factors of a product in a fixed order, the number first (as the engine keeps it)."""
    return tuple(sorted(nodes, key=lambda n: (n.op != "num", n.key)))


def _transposes(nodes) -> int:
    return sum(1 for n in nodes if n.op == "T")


class _Canon:
    """Engine node -> (r, flipped): its value is r, or r' when flipped."""

    def __init__(self):
        self.memo: dict[int, tuple[Node, bool]] = {}
        self.known: dict[int, Node] = {}

    def _register(self, P: Node, Q: Node | None = None, prefer_fewer_transposes: bool = True) -> tuple[Node, bool]:
        """P is the value, Q its transpose: whichever was met first stands for both. A value met for the
        first time takes the orientation with fewer transposed operands (`S - Y` rather than `S' - Y'`)."""
        if id(P) in self.known:
            return P, False
        if Q is not None and id(Q) in self.known:
            return Q, True
        if prefer_fewer_transposes and Q is not None and Q is not P and _transposes(Q.args) < _transposes(P.args):
            self.known[id(Q)] = Q
            return Q, True
        self.known[id(P)] = P
        return P, False

    def __call__(self, root: Node) -> tuple[Node, bool]:
        for n in walk(root):
            if id(n) not in self.memo:
                self.memo[id(n)] = self._one(n)
        return self.memo[id(root)]

    def _one(self, n: Node) -> tuple[Node, bool]:
        op = n.op
        kids = [self.memo[id(a)] for a in n.args]
        tshape = (n.shape[1], n.shape[0])
        if not kids:
            return self._register(n)
        if op == "T":
            r, t = kids[0]
            return (r, False) if n.is_scalar else (r, not t)
        if op in ("add", "had"):
            P = Node(op, _by_key(_orient(r, t) for r, t in kids), None, n.shape)
            Q = None if n.is_scalar else Node(op, _by_key(_orient(r, not t) for r, t in kids), None, tshape)
            return self._register(P, Q)
        if op == "mul":
            scal = [r for (r, _), a in zip(kids, n.args) if a.is_scalar]
            chain = [(r, t) for (r, t), a in zip(kids, n.args) if not a.is_scalar]
            scal = list(_scalars_first_numbers(scal))
            P = Node("mul", tuple(scal + [_orient(r, t) for r, t in chain]), None, n.shape)
            if not chain:
                return self._register(P)
            Q = Node("mul", tuple(scal + [_orient(r, not t) for r, t in reversed(chain)]), None,
                     n.shape if n.is_scalar else tshape)
            return self._register(P, Q)
        if op == "pow":
            return self._register(Node("pow", (kids[0][0],), n.attr, n.shape))
        if op == "epow":
            r, t = kids[0]
            node, _ = self._register(Node("epow", (r,), n.attr, r.shape))
            return node, t
        if op == "vpow":                         # x.^p: the exponent is a scalar, the base keeps its turn
            r, t = kids[0]
            node, _ = self._register(Node("vpow", (r, kids[1][0]), None, r.shape))
            return node, t and not n.is_scalar
        if op == "fn" and len(kids) > 1:         # max(a, b): its operands as they are, in order
            return self._register(Node("fn", tuple(_orient(r, t) for r, t in kids), n.attr, n.shape))
        if op == "bcast":
            r, t = kids[0]
            P = Node("bcast", (_orient(r, t),), None, n.shape)
            Q = None if n.is_scalar else Node("bcast", (_orient(r, not t),), None, tshape)
            return self._register(P, Q, prefer_fewer_transposes=False)   # b' over rows stays `+ b`
        if op == "fn":
            return self._fn(n, kids[0])
        if op in ("vec", "unvec", "kron"):       # no transpose moves through these
            return self._register(Node(op, tuple(_orient(r, t) for r, t in kids), n.attr, n.shape))
        raise MatcalcError(f"cannot compile the operation {op!r}")

    def _fn(self, n: Node, kid) -> tuple[Node, bool]:
        r, t = kid
        name = n.attr
        kind = _kind(name)
        if name == "log" and n.args[0].op == "fn" and n.args[0].attr in _LOG_OF:
            inner = self.memo[id(n.args[0])][0]            # softmax(z), never flipped
            return self._register(Node("fn", inner.args, _LOG_OF[inner.attr], inner.shape))
        if kind == "elementwise" or kind == "square":
            node, _ = self._register(Node("fn", (r,), name, r.shape))
            return node, t and not n.is_scalar
        if kind in _INVARIANT_KINDS:
            return self._register(Node("fn", (r,), name, n.shape))
        return self._register(Node("fn", (_orient(r, t),), name, n.shape))


# ================================================================ pass 2: scalar placement


def _scalars_and_chain(n: Node):
    scal = tuple(a for a in n.args if a.is_scalar)
    chain = tuple(a for a in n.args if not a.is_scalar)
    return scal, chain


def _linear_candidates(node: Node, depth: int, out: list):
    """Nodes a scalar factor can be moved onto through linear operations, with their depth."""
    while node.op == "T":
        node = node.args[0]
    if node.op in ("ones", "eye", "zero", "num", "bcast"):
        return
    out.append((node, depth))
    if node.op == "mul" and not node.is_scalar:
        for f in _scalars_and_chain(node)[1]:
            _linear_candidates(f, depth + 1, out)
    elif node.op == "had":
        for f in node.args:
            if f.op != "epow":
                _linear_candidates(f, depth + 1, out)


def _size(shape, sizes: dict) -> int:
    total = 1
    for d in shape:
        total *= d if isinstance(d, int) else sizes.get(d, DEFAULT_SIZE)
    return total


def _scaled(scal: tuple, node: Node) -> Node:
    if node.op == "mul":
        s2, chain = _scalars_and_chain(node)
        return Node("mul", _scalars_first_numbers(scal + s2) + chain, None, node.shape)
    return Node("mul", scal + (node,), None, node.shape)


def _replace_once(node: Node, target: Node, scal: tuple):
    """node with the first linear occurrence of target multiplied by scal; (new, found)."""
    if node is target:
        return _scaled(scal, node), True
    if node.op == "T":
        inner, found = _replace_once(node.args[0], target, scal)
        return (_T(inner), True) if found else (node, False)
    if (node.op == "mul" and not node.is_scalar) or node.op == "had":
        args = list(node.args)
        for i, a in enumerate(args):
            if a.is_scalar or a.op == "epow":
                continue
            new, found = _replace_once(a, target, scal)
            if found:
                args[i] = new
                return Node(node.op, tuple(args), node.attr, node.shape), True
    return node, False


def _place_scalars(roots: list[Node], sizes: dict) -> list[Node]:
    order: list[Node] = []
    seen: set[int] = set()
    for root in roots:
        for n in walk(root):
            if id(n) not in seen:
                seen.add(id(n))
                order.append(n)
    scaled = {}
    votes: dict[tuple, int] = {}
    for n in order:
        if n.op != "mul" or n.is_scalar:
            continue
        scal, chain = _scalars_and_chain(n)
        if not scal or not chain or (len(scal) == 1 and scal[0].op == "num" and scal[0].attr == -1):
            continue
        cands: list = [(n, 0)]
        for f in chain:
            _linear_candidates(f, 1, cands)
        scaled[id(n)] = (scal, cands)
        for c in {id(c): c for c, _ in cands}.values():
            votes[(scal, id(c))] = votes.get((scal, id(c)), 0) + 1
    if not scaled:
        return roots
    targets = {}
    for key, (scal, cands) in scaled.items():
        best = max(cands, key=lambda cd: (votes[(scal, id(cd[0]))], -_size(cd[0].shape, sizes), -cd[1]))
        targets[key] = best[0]
    memo: dict[int, Node] = {}
    for n in order:
        args = tuple(memo[id(a)] for a in n.args)
        new = n if all(a is b for a, b in zip(args, n.args)) else Node(n.op, args, n.attr, n.shape)
        target = targets.get(id(n))
        if target is not None and target is not n:
            target = memo[id(target)]
            scal, chain = _scalars_and_chain(new)
            body = chain[0] if len(chain) == 1 else Node("mul", chain, None, new.shape)
            moved, found = _replace_once(body, target, scal)
            if found:
                new = moved
        memo[id(n)] = new
    return [memo[id(r)] for r in roots]

