"""The callable of a plan: each step becomes a small closure over its argument slots (no generated
text is executed). With NumPy, a temporary that has no other use is updated in place
(`np.add(t, b, out=t)`), as a hand-written loop does; other namespaces (autograd.numpy, torch, jax)
run the same steps out of place.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..errors import MatcalcError
from . import runtime


def _closure(plan, i: int, st):
    xp = plan.xp
    fast = plan.fast
    op, args, param = st.op, st.args, st.param
    uses = plan.uses
    steps = plan.steps

    def owned(k):
        """An argument whose buffer this step may overwrite: a fresh temporary used only here."""
        s = steps[k]
        return fast and s.fresh and uses[k] == 1 and s.rep == st.rep and s.compact is None \
            and st.compact is None

    if op == "size":
        (a,) = args
        return lambda v: np.shape(v[a])[param]
    if op == "float":
        (a,) = args
        return lambda v: float(v[a])
    if op == "const":
        value = param
        return lambda v: value
    if op == "ones":
        (a,) = args
        return lambda v: xp.ones(v[a])
    if op == "eye":
        (a,) = args
        return lambda v: xp.eye(v[a])
    if op == "zeros":
        if len(args) == 1:
            (a,) = args
            return lambda v: xp.zeros(v[a])
        a, b = args
        return lambda v: xp.zeros((v[a], v[b]))
    if op == "expand":
        x, *dims = args
        if fast:
            return lambda v: np.broadcast_to(v[x], tuple(v[d] for d in dims))
        return lambda v: v[x] * xp.ones(tuple(v[d] for d in dims))
    if op == "T":
        (a,) = args
        return lambda v: v[a].T
    if op == "asCol":
        (a,) = args
        return lambda v: v[a][:, None]
    if op == "asRow":
        (a,) = args
        return lambda v: v[a][:, 0]
    if op == "matmul":
        a, b = args
        ta, tb = param
        if ta and tb:
            return lambda v: v[a].T @ v[b].T
        if ta:
            tdot = getattr(xp, "helpers", {}).get("tmatmul")     # a backend's own a'*b (JAX: a contraction)
            if tdot is not None:
                return lambda v: tdot(v[a], v[b])
            return lambda v: v[a].T @ v[b]
        if tb:
            return lambda v: v[a] @ v[b].T
        return lambda v: v[a] @ v[b]
    if op == "solve":
        a, b = args
        solve = xp.linalg.solve
        return lambda v: solve(v[a], v[b])
    if op == "outer":
        a, b = args
        return lambda v: xp.outer(v[a], v[b])
    if op == "colsum":
        (a,) = args
        if fast:
            return lambda v: v[a].sum(axis=0)
        return lambda v: xp.sum(v[a], axis=0)
    if op == "rowsum":
        (a,) = args
        if fast:
            return lambda v: v[a].sum(axis=1)
        return lambda v: xp.sum(v[a], axis=1)
    if op == "sumall":
        (a,) = args
        if fast:
            return lambda v: v[a].sum()
        return lambda v: xp.sum(v[a])
    if op == "gt0":
        (a,) = args
        return lambda v: v[a] > 0
    if op == "pow":
        (a,) = args
        p = float(param)
        if p == -1.0:
            return lambda v: 1.0 / v[a]
        if p == 0.5:
            return lambda v: xp.sqrt(v[a])
        return lambda v: v[a] ** p
    if op == "add":
        return _add_closure(args, param, owned, xp)
    if op == "had":
        return _had_closure(args, param, owned, xp)
    if op == "scale":
        return _scale_closure(args, param, owned, xp)
    if op == "sizeprod":
        return lambda v: _product(v[k] for k in args)
    if op == "vec":
        (a,) = args
        return lambda v: v[a].T.reshape(-1)
    if op == "unvec":
        g, m, n = args
        return lambda v: v[g].reshape(v[n], v[m]).T
    if op == "kron":
        a, b = args
        ra, rb = param
        flat = st.rep in ("col", "row")
        kron = xp.kron

        def two_d(x, rep):
            return x[:, None] if rep == "col" else x[None, :] if rep == "row" else x

        if flat:
            return lambda v: kron(two_d(v[a], ra), two_d(v[b], rb)).reshape(-1)
        return lambda v: kron(two_d(v[a], ra), two_d(v[b], rb))
    if op == "comm":
        m, n = args
        return lambda v: runtime.commutation(v[m], v[n], xp)
    if op == "fn" and param.startswith("@"):     # a declared abstract function: the callable given for it
        (a,) = args
        c = len(plan.inputs) + plan.callables.index(param[1:])
        return lambda v: v[c](v[a])
    if op == "vpow":
        a, b = args
        return lambda v: v[a] ** v[b]
    if op == "fnaxis":
        (a,) = args
        spelling, axis = param
        f = runtime.resolve(spelling, xp)
        return lambda v: f(v[a], axis=axis)
    if op == "fn" and len(args) > 1:
        f = runtime.resolve(param, xp)
        return lambda v: f(*(v[k] for k in args))
    if op == "fn":
        (a,) = args
        if fast and steps[a].rep != "scalar" and steps[a].compact is None and param in runtime.FAST:
            f = runtime.FAST[param]
            if owned(a) and param in runtime.FAST_INPLACE:
                f = runtime.FAST_INPLACE[param]
            return lambda v: f(v[a])
        f = runtime.resolve(param, xp)
        return lambda v: f(v[a])
    raise MatcalcError(f"cannot run the step {op!r}")


def _add_closure(args, signs, owned, xp):
    if len(args) == 2:
        a, b = args
        sa, sb = signs
        if sa == 1 and sb == 1:
            if owned(a):
                return lambda v: np.add(v[a], v[b], out=v[a])
            if owned(b):
                return lambda v: np.add(v[a], v[b], out=v[b])
            return lambda v: v[a] + v[b]
        if sa == 1 and sb == -1:
            if owned(a):
                return lambda v: np.subtract(v[a], v[b], out=v[a])
            if owned(b):
                return lambda v: np.subtract(v[a], v[b], out=v[b])
            return lambda v: v[a] - v[b]
    pairs = list(zip(args, signs))

    def total(v):
        k, s = pairs[0]
        acc = v[k] if s == 1 else -v[k]
        for k, s in pairs[1:]:
            acc = acc + v[k] if s == 1 else acc - v[k]
        return acc

    return total


def _had_closure(args, powers, owned, xp):
    plain = all(p == "mask" or p == 1 for p in powers)
    if plain and len(args) == 2:
        a, b = args
        if owned(a):
            return lambda v: np.multiply(v[a], v[b], out=v[a])
        if owned(b) and powers[1] != "mask":
            return lambda v: np.multiply(v[a], v[b], out=v[b])
        return lambda v: v[a] * v[b]
    pairs = list(zip(args, powers))

    def power(x, p):
        if p == "mask" or p == 1:
            return x
        if p == Fraction(1, 2):
            return xp.sqrt(x)
        return x ** float(p)

    def elem(v):
        acc = None
        for k, p in pairs:
            if p != "mask" and p < 0:
                piece = v[k] if p == -1 else power(v[k], -p)
                acc = 1.0 / piece if acc is None else acc / piece
            else:
                piece = power(v[k], p)
                acc = piece if acc is None else acc * piece
        return acc

    return elem


def _scale_closure(args, param, owned, xp):
    const, n_numer = param
    body, numer, denom = args[0], args[1:1 + n_numer], args[1 + n_numer:]
    if const == 1.0 and not numer and len(denom) == 1:
        (d,) = denom
        if owned(body):
            return lambda v: np.divide(v[body], v[d], out=v[body])
        return lambda v: v[body] / v[d]
    if not numer and not denom:
        if const == -1.0:
            if owned(body):
                return lambda v: np.negative(v[body], out=v[body])
            return lambda v: -v[body]
        if owned(body):
            return lambda v: np.multiply(v[body], const, out=v[body])
        return lambda v: const * v[body]

    def factor(v):
        f = const
        for k in numer:
            f = f * v[k]
        for k in denom:
            f = f / v[k]
        return f

    if owned(body):
        return lambda v: np.multiply(v[body], factor(v), out=v[body])
    return lambda v: factor(v) * v[body]


def _product(values) -> int:
    out = 1
    for x in values:
        out *= int(x)
    return out
