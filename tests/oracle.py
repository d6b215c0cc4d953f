"""The numeric oracle of the test suite: truth from outside the engine.

A derived result is evaluated from its *printed* text (so printing is checked too) on random instances
whose dimensions are all different, and compared with central finite differences of the original
expression, in the layout asked for; where it fits, also with HIPS autograd differentiating the same
forward computation.
"""

from __future__ import annotations

import numpy as np

from matcalc.check import numeric
from matcalc.compile.codegen import Plan, evaluate
from matcalc.language.expr import Node, walk
from matcalc.language.shapes import elaborate_many

TOLERANCE = 1e-6


def declared_shapes(d) -> dict:
    spec = {}
    for name, (r, c) in d.shapes.items():
        if (r, c) == (1, 1):
            spec[name] = ()
        elif c == 1:
            spec[name] = (r,)
        else:
            spec[name] = (r, c)
    return spec


def typed_like(d, text: str) -> Node:
    """Type `text` over the derivation's names, with its resolved shapes and the result's shape."""
    _, (node,) = elaborate_many(d.expression, declared_shapes(d), (text,), targets=[d.shape])
    return node


def truth(d, inst) -> np.ndarray:
    """Finite differences of the original expression, arranged in the derivation's layout."""
    fd = numeric.finite_difference(d.typed.root, d.wrt, inst, d.typed.dims)
    if d.layout == "numerator" and fd.ndim == 2:
        fd = fd.T
    return fd


def arrays(d, inst) -> dict:
    env = dict(inst.env)
    env.update({k: v for k, v in inst.dims.items() if k in d.typed.dims})
    return env


def arrays_and_sizes(d, inst) -> dict:
    """The arrays plus every dimension's size, for results (like I) that show no input."""
    env = arrays(d, inst)
    env.update({k: v for k, v in inst.dims.items() if k not in env})
    return env


def instances(d, count: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    roots = [d.typed.root, d.result]
    for k in range(count):
        sizes = numeric.dimension_sizes(roots + list(d.typed.names.values()), start=2 * k)
        yield numeric.sample(d.typed.root, d.typed.names, d.assumptions, rng, sizes=sizes,
                             dim_scalars=d.typed.dims)


def inline_named(text: str) -> str:
    """`body   where h1 = ...; h2 = ...` (matcalc's named form for large results) -> one expression, each
    name replaced by its definition, last defined first (a definition may use the names before it)."""
    import re

    if "   where " not in text:
        return text
    body, _, defs = text.partition("   where ")
    pairs = [d.split(" = ", 1) for d in defs.split("; ")]
    for name, definition in reversed(pairs):
        body = re.sub(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", f"({definition})", body)
    return body


def printed_value(d, inst, text: str | None = None):
    node = typed_like(d, inline_named(text if text is not None else str(d)))
    return evaluate(node, d.typed.dims, arrays_and_sizes(d, inst))


def max_error_against_truth(d, count: int = 3, seed: int = 0) -> float:
    worst = 0.0
    for inst in instances(d, count, seed):
        want = truth(d, inst)
        got = np.asarray(printed_value(d, inst), dtype=float)
        if got.ndim == 0 and want.ndim:
            got = np.broadcast_to(got, want.shape)  # a printed 0 or 1 stands for a whole array
        if got.shape != want.shape and got.size == want.size and got.ndim <= 1:
            got = got.reshape(want.shape)
        worst = max(worst, numeric.relative_error(got, want))
        compiled = np.asarray(d.to_numpy()(**arrays(d, inst)), dtype=float)
        if compiled.shape != want.shape and compiled.size == want.size and compiled.ndim <= 1:
            compiled = compiled.reshape(want.shape)
        worst = max(worst, numeric.relative_error(compiled, want))
    return worst


def autograd_gradient(d, inst):
    """HIPS autograd's gradient of the forward expression (scalar-valued), in denominator layout."""
    import autograd
    import autograd.numpy as anp

    plan = Plan({"value": d.typed.root}, set(d.typed.dims), xp=anp)
    env = arrays(d, inst)

    def f(x):
        local = dict(env)
        local[d.wrt] = x
        return plan(**local)["value"]

    return autograd.grad(f)(np.asarray(env[d.wrt], dtype=float) if np.ndim(env[d.wrt]) else float(env[d.wrt]))


def canonical(node: Node) -> str:
    """A key that ignores the order of a sum's terms."""
    memo: dict[int, str] = {}
    for n in walk(node):
        inner = [memo[id(a)] for a in n.args]
        if n.op == "add":
            inner.sort()
        memo[id(n)] = f"{n.op}:{n.attr}({','.join(inner)})"
    return memo[id(node)]


def same_modulo_order(d, expected: str) -> bool:
    return canonical(typed_like(d, str(d))) == canonical(typed_like(d, expected))


def well_conditioned_instance(typed, seed: int) -> dict:
    """Arrays for every name (and every dimension's size), all dimensions of different sizes, square
    matrices shifted by n*I so that inv, det and logdet are far from singular."""
    sizes = numeric.dimension_sizes([typed.root] + list(typed.names.values()), start=seed)
    inst = numeric.sample(typed.root, typed.names, rng=np.random.default_rng(seed), sizes=sizes,
                          dim_scalars=typed.dims)
    env = dict(inst.env)
    env.update({k: v for k, v in inst.dims.items() if k not in env})
    for name, value in list(env.items()):
        if isinstance(value, np.ndarray) and value.ndim == 2 and value.shape[0] == value.shape[1] > 1:
            env[name] = value + value.shape[0] * np.eye(value.shape[0])
    return env
