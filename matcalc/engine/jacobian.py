"""Reading a Jacobian off an adjoint: for a vector-valued f the walk starts from a symbolic seed G and
ends with x̄ = J'*G, an expression linear in G; the matrix J' is cut out of it term by term (a product
around G, a Hadamard factor as diag, a sum as ones(n)')."""

from __future__ import annotations

from ..errors import UnsupportedError
from ..language import expr as E
from ..language.expr import Node
from .simplify import Simplifier


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
    raise UnsupportedError("the Jacobian could not be read off the adjoint (G sits inside a product)")


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
        raise UnsupportedError("the Jacobian could not be read off the adjoint (G sits inside a product)")
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
