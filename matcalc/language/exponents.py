"""Exponents as the text writes them: a number (`x.^2`, `X^-1`, `x.^(1/2)`), or a scalar expression in
names (`x.^p`, `alpha^p`, `x.^(p - 1)`), which shapes.py builds as a power with a symbolic exponent."""

from __future__ import annotations

from .parse import Syntax


def exponent_names(node: Syntax) -> set[str]:
    """The lowercase names in an exponent (x.^p, x.^(p - 1)): each is a scalar, as a divisor is (a name
    with an uppercase initial stays a matrix, so x.^(A*x) is an error, not a new meaning of x)."""
    out, todo = set(), [node]
    while todo:
        n = todo.pop()
        if n.kind == "name" and not n.value[0].isupper():
            out.add(n.value)
        elif n.kind != "call":
            todo.extend(n.args)
    return out


def is_constant(node: Syntax) -> bool:
    """Whether an exponent is a number (`2`, `-1`, `1/2`) rather than an expression in names (`p`)."""
    todo = [node]
    while todo:
        n = todo.pop()
        if n.kind == "num":
            continue
        if n.kind not in ("neg", "div", "mul", "add", "sub"):
            return False
        todo.extend(n.args)
    return True


def bound_constant(node: Syntax, env: dict) -> bool:
    """An exponent that is a number, or (in a rule template) a name bound to a number."""
    if node.kind == "name" and env and node.value in env:
        return env[node.value].op == "num"
    if node.kind == "num":
        return True
    if node.kind in ("neg", "div", "mul", "add", "sub"):
        return all(bound_constant(a, env) for a in node.args)
    return False
