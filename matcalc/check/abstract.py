"""Random smooth functions for the declared abstract functions of a check (`--function f`).

A claim about an arbitrary elementwise f — `sum(f(W*x))` wrt W is `f'(W*x)*x'` — must hold whatever f
is, so it is judged on instances that each draw f anew: a different smooth function every time, with
its derivatives in closed form, so that f' and f'' in a claim are exact and the truth (autograd and
finite differences of the expression, which calls f) is measured as for any expression. A claim true for
one particular f only is then WRONG: tanh's f' = 1 - f^2, an odd f's f'(-z) = f'(z), a linear f's
f'' = 0 — each instance's f is none of these. The family

    f(z) = c0 + c1 z + c2 z^2/2 + c3 z^3/6 + a sin(w z + p) + b exp(k z)

has every coefficient random (a, w of moderate size, |k| < 0.7 so nothing overflows at the checker's
spreads), so f, f' and f'' are never proportional to one another nor to any fixed function, and no
symmetry holds. Where the expression needs f > 0 (under a log or a square root), the positive family
c0 + c2 z^2 + a (1 + sin(w z + p)) + b exp(k z) with positive coefficients is drawn instead.

The functions are written with autograd.numpy, so HIPS autograd differentiates through them; they take
NumPy arrays as well. `SmoothFunction(rng)` is the library's entry for anyone who needs such an f.
"""

from __future__ import annotations

import math

from ..language.expr import walk
from ..language.functions import AbstractRow, callable_keyword
from ..language.functions import row as function_row

MAX_ORDER = 6          # derivatives provided beyond those a text writes: f, f', … up to this order


class SmoothFunction:
    """One random smooth function and all its derivatives: `f.derivative(k)` is f^(k), exact."""

    def __init__(self, rng, positive: bool = False):
        self.positive = positive
        if positive:
            self.poly = [float(rng.uniform(0.5, 1.5)), 0.0, float(rng.uniform(0.1, 0.6)), 0.0]
            self.a = float(rng.uniform(0.2, 0.8))
            self.b = float(rng.uniform(0.1, 0.6))
            self.lift = self.a                    # a*(1 + sin(...)) >= 0
        else:
            self.poly = [float(c) for c in rng.normal(0.0, 0.8, size=4)]
            self.a = float(rng.uniform(0.5, 1.5) * rng.choice([-1.0, 1.0]))
            self.b = float(rng.normal(0.0, 0.5))
            self.lift = 0.0
        self.w = float(rng.uniform(0.6, 1.8))
        self.p = float(rng.uniform(0.0, 2 * math.pi))
        self.k = float(rng.uniform(0.2, 0.7) * rng.choice([-1.0, 1.0]))
        self._cache: dict[int, object] = {}

    def derivative(self, order: int):
        """f^(order) as a function of an array (autograd.numpy, so autograd can differentiate it)."""
        found = self._cache.get(order)
        if found is None:
            found = self._cache[order] = self._make(order)
        return found

    def __call__(self, z):
        return self.derivative(0)(z)

    def _make(self, order: int):
        import autograd.numpy as anp

        # c_j z^j / j!: its order-th derivative shifts the coefficients down
        coefs = [c for c in self.poly[order:]]
        a_k = self.a * self.w ** order
        phase = self.p + order * math.pi / 2
        b_k = self.b * self.k ** order
        lift = self.lift if order == 0 else 0.0
        w, k = self.w, self.k

        def f(z):
            total = lift + a_k * anp.sin(w * z + phase) + b_k * anp.exp(k * z)
            power = 1.0
            for j, c in enumerate(coefs):
                if j:
                    power = power * z / j
                total = total + c * power
            return total

        f.__name__ = f"f{'_' + str(order) if order else ''}"
        return f


def abstract_bases(roots) -> dict[str, int]:
    """The declared abstract functions the roots call: base name -> the highest derivative written."""
    out: dict[str, int] = {}
    for root in roots:
        for n in walk(root):
            if n.op == "fn":
                row = function_row(n.attr)
                if isinstance(row, AbstractRow):
                    out[row.base] = max(out.get(row.base, 0), row.order)
    return out


def positive_bases(roots) -> set[str]:
    """The abstract functions whose values must be positive for the roots to be defined: those under a
    log or a square root with nothing that makes the argument positive in between."""
    need: set[str] = set()
    for root in roots:
        for node in walk(root):
            if node.op != "fn" or function_row(node.attr).domain != "positive":
                continue
            stack = [node.args[0]]
            while stack:
                n = stack.pop()
                if n.op == "fn":
                    row = function_row(n.attr)
                    if isinstance(row, AbstractRow):
                        need.add(row.base)
                        continue
                    if row.positive:
                        continue
                stack.extend(n.args)
    return need


def draw_functions(roots, rng, positive: set[str] | None = None) -> dict[str, object]:
    """{keyword: callable} for the abstract functions the roots call: f, df, d2f, … (each instance its own
    f, with all its derivatives up to MAX_ORDER, whatever a claim writes)."""
    bases = abstract_bases(roots)
    if not bases:
        return {}
    positive = positive_bases(roots) if positive is None else positive
    out = {}
    for base in sorted(bases):
        f = SmoothFunction(rng, base in positive)
        for order in range(max(MAX_ORDER, bases[base] + 2) + 1):
            out[callable_keyword(base, order)] = f.derivative(order)
    return out


__all__ = ["SmoothFunction", "draw_functions", "abstract_bases", "positive_bases", "MAX_ORDER"]
