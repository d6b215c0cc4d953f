"""Exponents as the text writes them, and the bounds on them: a number (`x.^2`, `X^-1`, `x.^(1/2)`), or a scalar expression in
names (`x.^p`, `alpha^p`, `x.^(p - 1)`), which shapes.py builds as a power with a symbolic exponent."""

from __future__ import annotations

from fractions import Fraction

from ..errors import ShapeError, UnsupportedError
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


MAX_EXPONENT = 1000          # |p| in x^p and x.^p, and its denominator
MAX_ELEMENTWISE_EXPONENT = 10**12  # |p| in u.^p when u mentions a name: nothing is folded or expanded
MAX_MATRIX_POWER = 64        # X^k is k factors X*X*…*X: its derivative has k terms of k factors


def check_exponent(node: Syntax, p: Fraction, matrix: bool = False,
                   elementwise_of_variable: bool = False) -> None:
    """Bound an exponent of the user's text up front: `2^1e10` would fold into a ten-billion-bit number
    and `X^1e6` would expand into a million factors.

    An elementwise power of a variable, `x.^1000000`, is neither folded nor expanded: it stays one node
    whose derivative is `1000000*x.^999999`, and its values overflow only where |x| > 1 (the checker
    draws smaller instances when it meets non-finite values). So it gets a far larger bound — only
    enough to keep the coefficients it produces exact and printable; its denominator keeps the small one.
    """
    if matrix and abs(p) > MAX_MATRIX_POWER:
        matrix_power_error(node, p)
    largest = MAX_ELEMENTWISE_EXPONENT if elementwise_of_variable else MAX_EXPONENT
    if abs(p) > largest or p.denominator > MAX_EXPONENT:
        shown = str(p) if len(str(p)) <= 24 else f"{float(p):.3g}"
        raise UnsupportedError(f"{node.source[:60]}: the exponent {shown} is out of range; matcalc takes "
                               f"exponents up to {largest:g} in size (denominators up to {MAX_EXPONENT})"
                               + ("" if elementwise_of_variable else
                                  f"; an elementwise power of a variable, x.^p, may go up to "
                                  f"{MAX_ELEMENTWISE_EXPONENT:g}"))


def mentions_a_name(node: Syntax) -> bool:
    """Whether the base of a power is a variable expression (a name or a call appears in it) rather than
    a constant that would be folded into one number. A loop, not recursion: any depth of nesting."""
    todo = [node]
    while todo:
        n = todo.pop()
        if n.kind in ("name", "call"):
            return True
        todo.extend(n.args)
    return False


def matrix_power_error(node: Syntax, p: Fraction):
    shown = str(p) if len(str(p)) <= 24 else f"{float(p):.3g}"
    raise UnsupportedError(
        f"{node.source[:60]}: a matrix power X^k is expanded into k factors, and matcalc takes k up to "
        f"{MAX_MATRIX_POWER} in size (got {shown}); write the product you mean, or differentiate through a "
        f"decomposition")


def constant_exponent(node: Syntax, env: dict | None = None) -> Fraction:
    """Exponents are numbers: `x^2`, `X^-1`, `x.^(1/2)` (in rule templates, a bound number `p`)."""
    k = node.kind
    if k == "num":
        return node.value
    if k == "name" and env and node.value in env and env[node.value].op == "num":
        return env[node.value].attr
    if k == "neg":
        return -constant_exponent(node.args[0], env)
    if k in ("div", "mul", "add", "sub"):
        a, b = (constant_exponent(x, env) for x in node.args)
        if k == "div":
            if b == 0:
                raise ShapeError(f"{node.source}: division by zero in an exponent")
            return a / b
        return {"mul": a * b, "add": a + b, "sub": a - b}[k]
    raise UnsupportedError(f"{node.source}: an exponent must be a number (got {node.source!r})")
