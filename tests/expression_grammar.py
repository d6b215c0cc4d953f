"""Random expressions of the matcalc language, typed by construction, for the fuzz and the determinism
tests: a seeded generator (the same expressions in every process; hypothesis draws the seeds), plus
mutations that make the text invalid in the ways people mistype.

The names are x, y (vectors of one length), A (square), alpha (a scalar), declared by SHAPES (the
CLI's SHAPE_OPTIONS): every production keeps the shapes right, with products and transposes in
parentheses so that precedence cannot change what was meant. So an unmutated expression must derive
(or fail with a MatcalcError for a documented limit), never raise anything else.
"""

from __future__ import annotations

import random

VECTOR_FUNCTIONS = ("exp", "tanh", "sigmoid", "sin", "cos", "arctan")
WRT = ("x", "y", "alpha", "A")
# declared, so that every production is well typed whatever the expression ties together
SHAPES = {"A": ("n", "n"), "x": ("n",), "y": ("n",), "alpha": ()}
SHAPE_OPTIONS = ("--shape", "A=n,n", "--shape", "x=n", "--shape", "y=n", "--shape", "alpha=")


def vector(rng: random.Random, depth: int) -> str:
    if depth <= 0:
        return rng.choice(("x", "y", "(A*x)", "(A'*y)"))
    d = depth - 1
    k = rng.randrange(10)
    if k == 0:
        return f"(A*{vector(rng, d)})"
    if k == 1:
        return f"({vector(rng, d)} + {vector(rng, d)})"
    if k == 2:
        return f"({vector(rng, d)} .* {vector(rng, d)})"
    if k == 3:
        return f"{rng.choice(VECTOR_FUNCTIONS)}({vector(rng, d)})"
    if k == 4:
        return f"(({scalar(rng, d)})*{vector(rng, d)})"
    if k == 5:
        return f"({vector(rng, d)} ./ (1 + {vector(rng, d)}.^2))"
    if k == 6:
        return f"({vector(rng, d)})/{rng.choice(('2', '3', '0.5'))}"
    if k == 7:
        return f"(A'*{vector(rng, d)})"
    if k == 8:
        return f"({vector(rng, d)} - {vector(rng, d)})"
    return f"({vector(rng, d)}).^2"


def scalar(rng: random.Random, depth: int) -> str:
    if depth <= 0:
        return rng.choice(("alpha", "sum(x)", "x'*y", "tr(A)"))
    d = depth - 1
    k = rng.randrange(8)
    if k == 0:
        return f"({vector(rng, d)})'*({vector(rng, d)})"
    if k == 1:
        return f"sum({vector(rng, d)})"
    if k == 2:
        return f"({scalar(rng, d)} + {scalar(rng, d)})"
    if k == 3:
        return f"({scalar(rng, d)})*({scalar(rng, d)})"
    if k == 4:
        return f"log(1 + ({scalar(rng, d)})^2)"
    if k == 5:
        return f"norm2({vector(rng, d)})"
    if k == 6:
        return f"alpha*({scalar(rng, d)})"
    return f"sum(log(1 + ({vector(rng, d)}).^2))"


def expression(rng: random.Random, depth: int = 3) -> tuple[str, str]:
    """(expression, wrt) for a scalar expression of x, y, A, alpha."""
    text = scalar(rng, depth)
    names = [w for w in WRT if _mentions(text, w)] or ["x"]
    if not _mentions(text, names[0]):
        text = f"{text} + x'*y"
    return text, rng.choice(names)


def _mentions(text: str, name: str) -> bool:
    import re

    return re.search(rf"(?<![A-Za-z0-9_]){name}(?![A-Za-z0-9_])", text) is not None


def seeded_expressions(count: int, seed: int = 13, depth: int = 3) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [expression(rng, depth) for _ in range(count)]


MUTATION_PIECES = ("(", ")", "'", "*", ".*", "./", "^", ".^", "+", "-", "/", "1e309", "9" * 50, "2^100000",
                   "X^1000000", "ones(0)", "I(3)", "²", "\x00", "é", "%", "$", "\\frac", "foo(", "sum()",
                   ",", "1e-400", "0/0", "x.^(1/0)", "inv(x)", "tr(x)", "softmax(A)", " ", "\n")


def mutate(rng: random.Random, text: str, times: int = 1) -> str:
    """Insert, delete or replace a few characters or pieces: mostly invalid text, sometimes still valid."""
    for _ in range(times):
        if not text:
            text = rng.choice(MUTATION_PIECES)
            continue
        i = rng.randrange(len(text) + 1)
        k = rng.randrange(3)
        if k == 0:
            text = text[:i] + rng.choice(MUTATION_PIECES) + text[i:]
        elif k == 1:
            j = min(len(text), i + rng.randrange(1, 4))
            text = text[:i] + text[j:]
        else:
            j = min(len(text), i + 1)
            text = text[:i] + rng.choice(MUTATION_PIECES) + text[j:]
    return text
