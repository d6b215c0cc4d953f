"""Random expressions in which scalars meet vectors and matrices by broadcasting (issue 19).

Every production keeps the shapes right by construction: x, u, g are n-vectors, z a k-vector, A and C
n×n, B n×k, alpha, beta and gam scalars (SHAPES declares them, so every dimension has its own size on
the instances). A scalar enters a vector or a matrix in every way the language allows: `v - s`, `s + M`,
`s .* v`, `v ./ (1 + s^2)`, `s ./ (1 + v.^2)`, `(v - s).^2`, under a function (`exp(s*v - s)`), in a
sum (`sum(M - s)`), in a product (`(A - s)*v`, `g'*(s .* v)`), and the centring `v - sum(v)/n`.
Denominators are kept away from 0 (`1 + (...)^2`), logs and square roots see `1 + (...)^2`, so a
failure is a wrong derivative, never a domain accident.

`problems()` is a hypothesis strategy of (expression, wrt, layout); `seeded(count, seed)` the same from a
seeded random generator (the hunt in benchmarks or a script runs thousands).
"""

from __future__ import annotations

import random

from hypothesis import strategies as st

SHAPES = {"x": ("n",), "u": ("n",), "g": ("n",), "z": ("k",), "A": ("n", "n"), "C": ("n", "n"),
          "B": ("n", "k"), "alpha": (), "beta": (), "gam": ()}
SMOOTH = ("exp", "tanh", "sigmoid", "sin", "cos", "arctan")
WRT = ("alpha", "beta", "gam", "x", "u", "z", "A", "B")


class _Gen:
    """Recursive productions over a `pick(options)` and `depth`; one class serves hypothesis and random."""

    def __init__(self, pick, number):
        self.pick, self.number = pick, number

    def scalar(self, d: int) -> str:
        if d <= 0:
            return self.pick(["alpha", "beta", "gam", "sum(x)", "(u'*x)", "tr(A)", self.number()])
        k = self.pick(range(12))
        s, v, m = (lambda: self.scalar(d - 1)), (lambda: self.vector(d - 1)), (lambda: self.matrix(d - 1))
        return [
            lambda: f"({s()} + {s()})",
            lambda: f"({s()})*({s()})",
            lambda: f"sum({v()})",
            lambda: f"({v()})'*({v()})",
            lambda: f"norm2({v()})^2",
            lambda: f"sum({m()})",
            lambda: f"tr({m()})",
            lambda: f"sum(log(1 + ({v()}).^2))",
            lambda: f"logsumexp({v()})",
            lambda: f"sqrt(1 + ({s()})^2)",
            lambda: f"({s()})/(1 + ({s()})^2)",
            lambda: f"g'*({m()})*({v()})",
        ][k]()

    def vector(self, d: int) -> str:
        if d <= 0:
            return self.pick(["x", "u", "g", "(A*x)", "(B*z)"])
        k = self.pick(range(16))
        s, v, m = (lambda: self.scalar(d - 1)), (lambda: self.vector(d - 1)), (lambda: self.matrix(d - 1))
        return [
            lambda: f"({v()} - {s()})",
            lambda: f"({s()} + {v()})",
            lambda: f"({s()} .* {v()})",
            lambda: f"({v()} ./ (1 + ({s()})^2))",
            lambda: f"({s()} ./ (1 + ({v()}).^2))",
            lambda: f"(({v()} - {s()}).^2)",
            lambda: f"{self.pick(SMOOTH)}(0.5*{v()} - {s()})",
            lambda: f"({v()} - sum({v()})/n)",
            lambda: f"(({m()} - {s()})*{v()})",
            lambda: f"({v()} .* ({v()} + {s()}))",
            lambda: f"({s()})*{v()}",
            lambda: f"({v()} + {v()})",
            lambda: f"(B*(z - {s()}))",
            lambda: f"({m()}'*{v()})",
            lambda: f"(({v()} - {s()}) ./ (1 + ({v()}).^2))",
            lambda: f"({v()}/(1 + ({s()})^2) + {s()})",
        ][k]()

    def matrix(self, d: int) -> str:
        if d <= 0:
            return self.pick(["A", "C", "A'", "(B*B')"])
        k = self.pick(range(11))
        s, v, m = (lambda: self.scalar(d - 1)), (lambda: self.vector(d - 1)), (lambda: self.matrix(d - 1))
        return [
            lambda: f"({m()} - {s()})",
            lambda: f"({s()} + {m()})",
            lambda: f"({s()} .* {m()})",
            lambda: f"({m()} .* ({m()} - {s()}))",
            lambda: f"{self.pick(SMOOTH)}(0.5*{m()} + {s()})",
            lambda: f"(({v()} - {s()})*({v()} + {s()})')",
            lambda: f"({m()} ./ (1 + ({s()})^2 + ({m()}).^2))",
            lambda: f"(({m()} - {s()}).^2)",
            lambda: f"({m()}*{m()})",
            lambda: f"diag({v()} - {s()})",
            lambda: f"({s()})*{m()}",
        ][k]()


def _mentions(text: str, name: str) -> bool:
    import re

    return re.search(rf"(?<![A-Za-z0-9_]){name}(?![A-Za-z0-9_])", text) is not None


def _finish(text: str, scalar_valued: bool, wrt_choice, layout_choice):
    names = [w for w in WRT if _mentions(text, w)]
    if not names:
        text, names = f"{text} + alpha*sum(x)" if scalar_valued else f"{text} - alpha", ["alpha"]
    wrt = wrt_choice(names)
    if not scalar_valued and len(SHAPES[wrt]) == 2:
        text = f"g'*{text}"                       # a vector by a matrix is a 3-tensor: take a scalar of it
    return text, wrt, layout_choice(["denominator", "numerator"])


@st.composite
def problems(draw, max_depth: int = 4):
    """(expression, wrt, layout): a scalar (or vector) expression mixing scalars, vectors and matrices."""
    gen = _Gen(lambda options: draw(st.sampled_from(list(options))),
               lambda: draw(st.sampled_from(["0.5", "2", "3", "1.5"])))
    depth = draw(st.integers(min_value=1, max_value=max_depth))
    scalar_valued = draw(st.booleans())
    text = gen.scalar(depth) if scalar_valued else gen.vector(depth)
    return _finish(text, scalar_valued, lambda n: draw(st.sampled_from(n)), lambda o: draw(st.sampled_from(o)))


def seeded(count: int, seed: int = 19, max_depth: int = 4) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    gen = _Gen(lambda options: rng.choice(list(options)), lambda: rng.choice(["0.5", "2", "3", "1.5"]))
    out = []
    for _ in range(count):
        depth = rng.randint(1, max_depth)
        scalar_valued = rng.random() < 0.7
        text = gen.scalar(depth) if scalar_valued else gen.vector(depth)
        out.append(_finish(text, scalar_valued, rng.choice, rng.choice))
    return out
