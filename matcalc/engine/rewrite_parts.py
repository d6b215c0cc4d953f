"""Pieces of the rewriter (simplify.py) that need no rule table: a power split for a factor row, a
size written as a scalar, a linear function's scalars taken out, the guards of a row (`assume`,
`when`). Kept apart so that simplify.py stays one job, the matching and the simplifier."""

from __future__ import annotations

from fractions import Fraction
from weakref import WeakKeyDictionary

from ..language import expr as E
from ..language.expr import Node

_repeats: WeakKeyDictionary = WeakKeyDictionary()   # by pattern node: a rule of one derivation leaves with it


def repeated(rule) -> frozenset:
    """The pattern names that occur more than once in it."""
    per = _repeats.setdefault(rule.pattern, {})
    found = per.get(rule.wild)
    if found is None:
        seen: dict[str, int] = {}
        stack = [rule.pattern]
        while stack:                     # the tree written out: a shared name counts each time
            n = stack.pop()
            if n.op == "sym" and n.attr in rule.wild:
                seen[n.attr] = seen.get(n.attr, 0) + 1
            stack.extend(n.args)
        found = per[rule.wild] = frozenset(k for k, v in seen.items() if v > 1)
    return found


def split_power(p: Node, t: Node):
    """(pattern base, target base, what is over) when t is a higher whole power of what p is a power of
    (p = s.^2 and t = s.^3: s, s, s; p = s and t = s.^2: s, s, s)."""
    if t.op != "epow" or Fraction(t.attr).denominator != 1:
        return None
    pe = p.attr if p.op == "epow" else 1
    pb = p.args[0] if p.op == "epow" else p
    if Fraction(pe).denominator != 1 or (pe > 0) != (t.attr > 0) or abs(t.attr) <= abs(pe):
        return None
    return pb, t.args[0], E.epow(t.args[0], t.attr - pe)


def is_mean_of(t: Node, v: Node, negated: bool = False) -> bool:
    """Whether t is (1/n)*sum(v) repeated over v's n entries (-(1/n)*sum(v) with negated)."""
    if negated:
        if not (t.op == "mul" and len(t.args) == 2 and t.args[0] is E.num(-1)):
            return False
        t = t.args[1]
    if t.op == "bcast":
        t = t.args[0]
    return t is E.mul(E.power(dimension_scalar(v.shape[0]), -1), E.apply("sum", v))


def dimension_scalar(d) -> Node:
    """A dimension used as a scalar: a whole number, a name (m), or a product of them (2*m*n)."""
    whole, names = E.dim_factors(d)
    return E.mul(E.num(whole), *(E.sym(n, E.SCALAR) for n in names))


def guarded(rule, m, holds) -> bool:
    """A row's `assume` and `when` ("S symmetric", "S fixed-on y"), asked of what its names matched."""
    if not rule.guards:
        return True
    if holds is None:
        return False
    for name, prop, *other in rule.guards:
        if name not in m.nodes or any(o not in m.nodes for o in other):
            return False
        if not holds(prop, m.nodes[name], *(m.nodes[o] for o in other)):
            return False
    return True


def scaled_term(a: Node) -> bool:
    return (a.op == "mul" and any(f.is_scalar for f in a.args) and not a.is_scalar) or \
        (a.op == "bcast" and a.args[0].is_scalar)


def linear_of(name: str, a: Node) -> tuple[Node, Node]:
    """f(a) for a linear f as (scale, f(rest)): its scalar factors (a scalar chain such as x'*y among
    them) taken out, a repeated scalar written as the scalar times ones: sum(c*x) = c*sum(x),
    sum(c repeated) = c*sum(ones(m))."""
    if a.op == "bcast" and a.args[0].is_scalar:
        r, c = a.shape
        unit = E.ones(r) if c == 1 else E.transpose(E.ones(c)) if r == 1 else E.mul(E.ones(r), E.transpose(E.ones(c)))
        return a.args[0], E.apply(name, unit)
    if a.op == "mul" and not a.is_scalar:
        scal = [f for f in a.args if f.is_scalar]
        if scal:
            rest = [f for f in a.args if not f.is_scalar]
            return E.mul(*scal), E.apply(name, rest[0] if len(rest) == 1 else E.mul(*rest))
    return E.num(1), E.apply(name, a)


def linear(name: str) -> bool:
    """A linear function of all its argument's entries (sum, tr): not one along an axis, nor an abstract f."""
    from ..language.functions import row

    r = row(name)
    return bool(getattr(r, "linear", False)) and not getattr(r, "axis", None)
