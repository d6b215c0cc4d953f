"""Ground truth from outside the engine: random instances and central finite differences.

An instance gives every dimension a different size (2, 3, 4, …), so a missing transpose changes a
shape or a value instead of hiding; it draws what the assumptions and the functions need (a
probability vector for `sum(y) = 1`, a symmetric or positive-definite matrix, positive entries under a
log or a square root, a well-conditioned matrix under inv, det and logdet). The derivative of the
original expression is then measured by central differences and compared with a formula's value.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..budget import check_allocation
from ..engine.assumptions import Assumptions
from ..engine.domain import positive_base
from ..language import expr as E
from ..language.expr import Node, walk
from ..language.functions import AbstractRow
from ..language.functions import row as function_row
from .abstract import draw_functions

SIZES = (3, 4, 5, 2, 6, 7, 8, 9, 10, 11)


@dataclass
class Instance:
    env: dict[str, object]
    dims: dict[str, int]


def _domains(root: Node) -> dict[str, set[str]]:
    """What each name must satisfy, read from the functions it sits under."""
    need: dict[str, set[str]] = {}
    for node in walk(root):
        if node.op != "fn" and not positive_base(node):
            continue
        domain = function_row(node.attr).domain if node.op == "fn" else "positive"   # x.^p: x > 0
        if domain == "real":
            continue
        # names under a function whose value is positive anyway (log(softmax(z))) need nothing
        stack = [node.args[0]]
        while stack:
            n = stack.pop()
            if n.op == "sym":
                kind = domain
                if domain in ("invertible", "positive-determinant") and n is not node.args[0]:
                    kind = "conditioned"
                need.setdefault(n.attr, set()).add(kind)
            elif not (domain == "positive" and n.op == "fn" and (function_row(n.attr).positive or isinstance(
                    function_row(n.attr), AbstractRow))):   # an abstract f under a log is drawn positive
                stack.extend(n.args)
    return need


def dimension_sizes(roots: list[Node], rng=None, start: int = 0) -> dict[str, int]:
    names: list[str] = []
    for root in roots:
        for n in walk(root):
            for d in E.dimension_names(n.shape):
                if d not in names:
                    names.append(d)
    return {d: SIZES[(i + start) % len(SIZES)] for i, d in enumerate(names)}


def sample(root: Node, names: dict[str, Node], assumptions: Assumptions | None = None, rng=None,
           sizes: dict[str, int] | None = None, dim_scalars=(), extra_roots=()) -> Instance:
    from ..compile.codegen import _rep

    rng = rng if rng is not None else np.random.default_rng(0)
    a = assumptions or Assumptions()
    dims = dict(sizes or dimension_sizes([root, *extra_roots, *names.values()]))
    need = _domains(root)
    for extra in extra_roots:
        for k, v in _domains(extra).items():
            need.setdefault(k, set()).update(v)
    env: dict[str, object] = {}
    for name, node in names.items():
        if name in dim_scalars:
            continue
        shape = tuple(E.size_of(d, dims) for d in node.shape)
        if all(isinstance(d, int) for d in shape):
            check_allocation(shape[0] * shape[1], f"a random {name} ({shape[0]}×{shape[1]})")
        env[name] = _draw(name, shape, _rep(node.shape), need.get(name, set()), a, rng)
    for name in dim_scalars:
        if name in dims:
            continue
        dims[name] = SIZES[len(dims) % len(SIZES)]
    env.update(draw_functions([root, *extra_roots], rng))
    return Instance(env, dims)


def _draw(name, shape, rep, need: set[str], a: Assumptions, rng):
    r, c = shape
    size = {"scalar": (), "col": (r,), "row": (c,), "mat": (r, c)}[rep]
    if name in a.plus_minus_one:
        return rng.choice([-1.0, 1.0], size=size) if size else float(rng.choice([-1.0, 1.0]))
    special = structured(name, size, a, rng)
    if special is not None:
        return special
    if name in a.sums_to_one:
        if rep == "mat":
            p = rng.uniform(0.2, 1.0, size=size)
            return p / p.sum(axis=1, keepdims=True)
        p = rng.uniform(0.2, 1.0, size=size)
        return p / p.sum()
    if name in a.positive_definite:
        B = rng.standard_normal((r, r))
        return B @ B.T / r + np.eye(r)
    if name in a.symmetric:
        B = rng.standard_normal((r, r))
        return (B + B.T) / 2
    positive = name in a.positive or "positive" in need
    if rep == "mat" and r == c and ({"invertible", "positive-determinant"} & need or name in a.invertible):
        X = np.eye(r) * 1.5 + 0.4 * rng.standard_normal((r, r)) / np.sqrt(r)
        return np.abs(X) if positive else X
    if positive:
        return rng.uniform(0.5, 1.5, size=size) if size else float(rng.uniform(0.5, 1.5))
    scale = 0.3 if "unit" in need else 1.0
    if "conditioned" in need:
        scale = 0.3
    return rng.standard_normal(size) * scale if size else float(rng.standard_normal() * scale)


def structured(name, size, a: Assumptions, rng):
    """A value drawn exactly as assumed, for the assumptions that fix more than a sign or a sum: one-hot
    (a unit vector e_k, or one per row), entries in {0, 1}, an orthogonal or a diagonal matrix; None
    for a name none of them is about."""
    if name in getattr(a, "one_hot", ()):
        out = np.zeros(size)
        if not size:
            return 1.0
        if len(size) == 1:
            out[rng.integers(size[0])] = 1.0
        else:
            out[np.arange(size[0]), rng.integers(size[1], size=size[0])] = 1.0
        return out
    if name in getattr(a, "binary", ()):
        return rng.integers(0, 2, size=size).astype(float) if size else float(rng.integers(0, 2))
    if name in getattr(a, "orthogonal", ()) and len(size) == 2:
        q, r = np.linalg.qr(rng.standard_normal(size))
        return q * np.sign(np.diag(r))
    if name in getattr(a, "diagonal", ()) and len(size) == 2:
        return np.diag(rng.standard_normal(size[0]) + np.sign(rng.standard_normal(size[0])))
    return None


def value_function(root: Node, dim_scalars=()):
    """The expression's value as a function of keyword arrays; the plan is compiled once per expression
    (finite differences ask for it at every instance)."""
    from ..compile.codegen import Plan   # the code generator is loaded by the first check that needs it

    key = (root, frozenset(dim_scalars))
    plan = _VALUE_PLANS.get(key)
    if plan is None:
        if len(_VALUE_PLANS) >= 64:      # the plans of the last few expressions: a check measures one
            _VALUE_PLANS.pop(next(iter(_VALUE_PLANS)))   # expression on dozens of instances
        plan = _VALUE_PLANS[key] = Plan({"value": root}, set(dim_scalars))
    return lambda **env: plan(**env)["value"]


_VALUE_PLANS: dict = {}


def finite_difference(root: Node, wrt: str, inst: Instance, dim_scalars=(), h: float = 1e-6):
    """Denominator-layout derivative of `root` at the instance, by central differences.

    Scalar f: an array of the variable's shape. Vector f: (len(x) × len(f)) for a vector x, len(f) for
    a scalar x; a matrix F by a scalar: (dF/dα)' — the layout matcalc's denominator results have."""
    f = value_function(root, dim_scalars)
    env = dict(inst.env)
    env.update({k: v for k, v in inst.dims.items() if k in dim_scalars})
    x0 = env[wrt]
    base = np.asarray(x0, dtype=float)
    out_shape = np.shape(f(**env))
    grads = np.zeros(base.shape + out_shape)
    it = np.nditer(base, flags=["multi_index"]) if base.shape else [None]
    for item in it:
        idx = it.multi_index if base.shape else ()
        step = h * max(1.0, abs(float(base[idx])))
        plus, minus = base.copy(), base.copy()
        plus[idx] += step
        minus[idx] -= step
        env[wrt] = plus if base.shape else float(plus)
        fp = np.asarray(f(**env), dtype=float)
        env[wrt] = minus if base.shape else float(minus)
        fm = np.asarray(f(**env), dtype=float)
        grads[idx] = (fp - fm) / (2 * step)
    env[wrt] = x0
    if not base.shape and grads.ndim == 2:   # a matrix by a scalar: denominator layout is dF/dα transposed
        return grads.T
    return grads


def relative_error(a, b) -> float:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return float("inf")
    scale = max(1.0, float(np.max(np.abs(b))) if b.size else 1.0)
    return float(np.max(np.abs(a - b)) / scale) if a.size else 0.0


def hessian_finite_difference(root: Node, wrt: str, inst: Instance, dim_scalars=(), h: float = 1e-5):
    """The Hessian of a scalar expression with respect to a vector (or scalar), in denominator layout:
    central differences of its gradient, where the gradient comes from HIPS autograd differentiating the
    forward computation — an autodiff that shares nothing with matcalc's rules."""
    import autograd
    import autograd.numpy as anp

    from ..compile.codegen import Plan

    plan = Plan({"value": root}, set(dim_scalars), xp=anp)
    env = dict(inst.env)
    env.update({k: v for k, v in inst.dims.items() if k in dim_scalars})

    def f(x):
        local = dict(env)
        local[wrt] = x
        return plan(**local)["value"]

    grad = autograd.grad(f)
    x0 = np.asarray(env[wrt], dtype=float)
    with warnings.catch_warnings():      # a constant gradient is fine: autograd's note is not for our users
        warnings.filterwarnings("ignore", message="Output seems independent of input")
        if x0.ndim == 0:
            return float((grad(float(x0) + h) - grad(float(x0) - h)) / (2 * h))
        rows = []
        for i in range(x0.size):
            e = np.zeros_like(x0)
            e.flat[i] = h
            rows.append((np.asarray(grad(x0 + e)) - np.asarray(grad(x0 - e))) / (2 * h))
    return np.array(rows).reshape(x0.shape + np.shape(rows[0]))
