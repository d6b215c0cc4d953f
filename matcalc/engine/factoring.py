"""Factoring, the simplifier's last pass: collect like terms, then pull out the factor that most
terms share (to the left, right, as a scalar or as a Hadamard factor) and repeat on what is left, so
that `A*x + A'*x` becomes `(A + A')*x`.

Kept apart from the rewriter (simplify.py) because it is a different job: it never applies a rule,
only regroups, and it must terminate on any input — each round replaces two or more terms by one,
and it recurses only on terms it has made strictly smaller.
"""

from __future__ import annotations

from fractions import Fraction
from math import gcd
from weakref import WeakKeyDictionary

from ..language import expr as E
from ..language.expr import Node


def collect(terms: list[Node], shape) -> Node:
    """Sum like terms: `2*a + 3*a` is `5*a`."""
    coefs: dict[Node, Fraction] = {}
    order: list[Node] = []
    for t in terms:
        c, rest = E.split_scalar(t)
        key = rest if rest is not None else E.num(1)
        if key not in coefs:
            order.append(key)
            coefs[key] = Fraction(0)
        coefs[key] += c
    out = []
    for key in order:
        c = coefs[key]
        if c == 0:
            continue
        out.append(E.num(c) if key.op == "num" else E.scaled(c, key, shape))
    if not out:
        return E.zero(shape)
    if len(out) == 1:
        return out[0]
    return E.add(*out)


# ---------------------------------------------------------------- factoring


def _split_scalars(t: Node) -> tuple[list[Node], list[Node]]:
    """Scalar factors (scalar-valued chains such as x'*y included) and the matrix chain."""
    if t.op != "mul":
        return [], [t]
    return [a for a in t.args if a.is_scalar], [a for a in t.args if not a.is_scalar]


def _pieces(t: Node):
    """How a monomial can be factored: (kind, factor) candidates. A power offers its base too, so
    `s - s^2` can become `s*(1 - s)`."""
    scal, chain = _split_scalars(t)
    out = []
    for s in scal:
        if s.op == "num":
            continue
        out.append(("scalar", s))
        if s.op == "pow" and s.attr > 1:
            out.append(("scalar", s.args[0]))
    if chain:
        if chain[0].op != "eye":
            out.append(("left", chain[0]))
        if chain[-1].op != "eye":
            out.append(("right", chain[-1]))
        if len(chain) == 1 and chain[0].op == "had":
            for f in chain[0].args:
                out.append(("had", f))
                if f.op == "epow" and f.attr > 1:
                    out.append(("had", f.args[0]))
        elif len(chain) == 1 and chain[0].op == "epow" and chain[0].attr > 1:
            out.append(("had", chain[0].args[0]))
        elif len(chain) == 1 and chain[0].op not in ("eye", "mul"):
            out.append(("had", chain[0]))
    return out


def _remove(t: Node, kind: str, f: Node) -> Node:
    if kind == "scalar":
        return E.mul(t, E.power(f, -1))
    if kind == "had":
        return E.hadamard(t, E.epow(f, -1))
    coef, _ = E.split_scalar(t)
    scal, chain = _split_scalars(t)
    scal = [a for a in scal if a.op != "num"]
    if kind == "left":
        rest = chain[1:]
        if not rest:
            n = f.shape[1]
            rest = [E.eye(n) if n != 1 else E.num(1)]
        return E.mul(E.num(coef), *scal, *rest)
    rest = chain[:-1]
    if not rest:
        n = f.shape[0]
        rest = [E.eye(n) if n != 1 else E.num(1)]
    return E.mul(E.num(coef), *scal, *rest)


def _rebuild_factored(kind: str, f: Node, inner: Node) -> Node:
    if kind == "left":
        return E.mul(f, inner)
    if kind == "right":
        return E.mul(inner, f)
    if kind == "scalar":
        return E.mul(f, inner)
    return E.hadamard(f, inner)


_factor_memo: dict[Node, Node] = {}  # rebound per Simplifier call (see Simplifier.__call__)


def factor(node: Node) -> Node:
    found = _factor_memo.get(node)
    if found is not None:
        return found
    result = _factor(node)
    _factor_memo[node] = result
    return result


def _gather_linear(terms: list[Node]) -> list[Node]:
    """c1*f(u1) + c2*f(u2) = f(c1*u1 + c2*u2) for a linear f of the table (diag, sum, tr)."""
    from ..language.functions import row as function_row

    groups: dict[tuple, list[tuple[Node, Node]]] = {}     # by function and argument shape: sum(y) + sum(x)
                                                           # of different lengths stay two sums
    rest: list[Node] = []
    for t in terms:
        scal, chain = _split_scalars(t)
        f = chain[0] if len(chain) == 1 else None
        if f is not None and f.op == "fn" and function_row(f.attr).linear:
            groups.setdefault((f.attr, f.args[0].shape), []).append((E.mul(*scal) if scal else E.num(1), f))
        else:
            rest.append(t)
    for items in groups.values():
        if len(items) < 2:
            rest.extend(E.mul(c, f) for c, f in items)
            continue
        inner = factor(collect([E.mul(c, f.args[0]) for c, f in items], items[0][1].args[0].shape))
        rest.append(E.rebuild(items[0][1], (inner,)))
    return rest


def _factor(node: Node) -> Node:
    """Pull out the factor most terms share, and repeat on what is left. Terminates: each round
    replaces two or more terms by one, and the recursion is on terms made strictly smaller (a
    removal that does not shrink them, as `a ./ (c*u)` times `c*u` when the constructors keep the
    coefficient apart, is refused). Ties go to the first piece met, in the terms' order: never to
    an address or a per-process hash."""
    if node.op != "add":
        return node
    terms = _gather_linear(list(node.args))
    if len(terms) == 1:
        return terms[0]
    refused: set = set()
    while True:
        pieces_of = [list(dict.fromkeys(_pieces(t))) for t in terms]
        counts: dict = {}
        for pieces in pieces_of:
            for piece in pieces:
                counts[piece] = counts.get(piece, 0) + 1
        best = None
        for piece, n in counts.items():
            if n < 2 or piece in refused:
                continue
            if best is None or n > best[1] or (n == best[1] and _prefer(piece, best[0])):
                best = (piece, n)
        if best is None:
            break
        kind, f = best[0]
        inside = [t for t, pieces in zip(terms, pieces_of) if best[0] in pieces]
        outside = [t for t, pieces in zip(terms, pieces_of) if best[0] not in pieces]
        removed = [_remove(t, kind, f) for t in inside]
        if sum(map(_tree_size, removed)) >= sum(map(_tree_size, inside)):
            refused.add(best[0])
            continue
        inner = collect(removed, _inner_shape(kind, f, node.shape))
        if inner is node:
            break
        inner = factor(inner)
        grouped = _rebuild_factored(kind, f, _pull_coefficient(inner))
        if not outside:
            return _order(grouped)
        terms = outside + [grouped]
        if len(terms) == 1:
            return _order(terms[0])
    return _order(_pull_coefficient(E.add(*terms)) if len(terms) > 1 else terms[0])


_sizes: WeakKeyDictionary[Node, int] = WeakKeyDictionary()


def _tree_size(root: Node) -> int:
    """Nodes in the expression written out as a tree (shared subtrees counted each time), without
    recursion: the measure that factoring must decrease."""
    stack = [root]
    while stack:
        n = stack[-1]
        if n in _sizes:
            stack.pop()
            continue
        missing = [a for a in n.args if a not in _sizes]
        if missing:
            stack.extend(missing)
            continue
        stack.pop()
        _sizes[n] = 1 + sum(_sizes[a] for a in n.args)
    return _sizes[root]


def _rank(piece) -> int:
    """Prefer pulling out what leaves a scalar behind: a column vector on the left, a row on the right."""
    kind, f = piece
    if kind == "scalar":
        return 0
    if kind == "had":
        return 3
    if (kind == "left" and f.shape[1] == 1) or (kind == "right" and f.shape[0] == 1):
        return 1
    if (kind == "left" and f.shape[0] == 1) or (kind == "right" and f.shape[1] == 1):
        return 4
    return 2


def _prefer(a, b) -> bool:
    return _rank(a) < _rank(b)


def _inner_shape(kind: str, f: Node, shape):
    if kind == "left":
        return (f.shape[1], shape[1]) if not f.is_scalar else shape
    if kind == "right":
        return (shape[0], f.shape[0]) if not f.is_scalar else shape
    return shape


def _pull_coefficient(node: Node) -> Node:
    """`2*a - 2*b` is `2*(a - b)`; `-a - b` is `-(a + b)`."""
    if node.op != "add":
        return node
    coefs = [E.split_scalar(t)[0] for t in node.args]
    num = 0
    den = 1
    for c in coefs:
        num = gcd(num, c.numerator)
        den = den * c.denominator // gcd(den, c.denominator)
    g = Fraction(num, den)
    if all(c < 0 for c in coefs):
        g = -g
    if g == 1 or g == 0:
        return node
    inner = E.add(*(E.scaled(E.split_scalar(t)[0] / g, E.split_scalar(t)[1], node.shape) for t in node.args))
    return E.mul(E.num(g), _order(inner))


def _order(node: Node) -> Node:
    """Terms keep the order they arrived in (the user's own order for a forward expression such as
    X*W1 + b1', so that it stays one node with the forward pass); a term without a minus leads."""
    if node.op != "add":
        if node.op == "mul" and any(a.op == "add" for a in node.args):
            return E.mul(*(_order(a) if a.op == "add" else a for a in node.args))
        return node
    args = sorted(node.args, key=_transposes)  # stable: A + A', never A' + A
    return node if list(args) == list(node.args) else E.Node("add", tuple(args), None, node.shape)


def _transposes(term: Node) -> int:
    """Transposes at the top of a term (A' or c*A'*B), not those deep inside its arguments."""
    if term.op == "T":
        return 1
    return sum(1 for a in term.args if a.op == "T") if term.op == "mul" else 0
