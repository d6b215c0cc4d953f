"""A NumPy evaluator of SymPy matrix expressions that shares no code with matcalc (nor with its SymPy
bridge): the truth of the SymPy tests is computed here, from the SymPy objects themselves, with central
finite differences on top.

Every matrix value is a 2-D array (a k×1 MatrixSymbol is k×1), a scalar a float. A 1×1 matrix meets
a scalar as SymPy lets it (x.T*y*A: the 1×1 factor scales). Inside an applyfunc body the variable is
the array and the arithmetic is entry by entry. Index expressions (x[i, 0], Sum, KroneckerDelta) are
evaluated with integer indices from `indices`.
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from sympy.matrices.expressions import (
    Determinant,
    DiagMatrix,
    DiagonalMatrix,
    DiagonalOf,
    HadamardPower,
    HadamardProduct,
    Identity,
    Inverse,
    KroneckerProduct,
    MatAdd,
    MatMul,
    MatPow,
    MatrixSymbol,
    OneMatrix,
    Trace,
    Transpose,
    ZeroMatrix,
)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixElement

FUNCS = {sp.exp: np.exp, sp.log: np.log, sp.sin: np.sin, sp.cos: np.cos, sp.tan: np.tan, sp.asin: np.arcsin,
         sp.acos: np.arccos, sp.atan: np.arctan, sp.tanh: np.tanh, sp.Abs: np.abs, sp.sign: np.sign}


class Unsupported(Exception):
    pass


def _is_mat(v) -> bool:
    return isinstance(v, np.ndarray) and v.ndim == 2


def _scalar(v):
    if _is_mat(v):
        if v.shape != (1, 1):
            raise Unsupported(f"a {v.shape} matrix used as a scalar")
        return float(v[0, 0])
    return v


def _times(a, b):
    if _is_mat(a) and _is_mat(b):
        if a.shape[1] == b.shape[0]:
            return a @ b
        if a.shape == (1, 1) or b.shape == (1, 1):
            return a * b                       # a 1×1 factor that does not fit scales, as in SymPy
        raise Unsupported(f"product of {a.shape} and {b.shape}")
    return a * b


def _plus(a, b):
    if _is_mat(a) and _is_mat(b) and a.shape != b.shape:
        if a.shape == (1, 1) or b.shape == (1, 1):
            return a + b
        raise Unsupported(f"sum of {a.shape} and {b.shape}")
    return a + b


def evaluate(e, env: dict, dims: dict, bound=None, indices=None):
    """The value of `e`: env maps names to arrays (2-D) or floats, dims dimension names to sizes."""
    bound = bound or {}
    indices = indices or {}
    ev = lambda x: evaluate(x, env, dims, bound, indices)   # noqa: E731
    if isinstance(e, (int, float)):
        return e
    if e in bound:
        return bound[e]
    if isinstance(e, MatrixSymbol):
        return env[e.name]
    if isinstance(e, sp.Symbol):
        if e in indices:
            return indices[e]
        if e.name in env:
            return env[e.name]
        return float(dims[e.name])
    if isinstance(e, sp.Number) or e in (sp.pi, sp.E):
        return float(e)
    if isinstance(e, (Identity, ZeroMatrix, OneMatrix)):
        r, c = (int(ev(d)) for d in e.shape)
        return np.eye(r) if isinstance(e, Identity) else np.zeros((r, c)) if isinstance(e, ZeroMatrix) \
            else np.ones((r, c))
    if isinstance(e, (MatMul, sp.Mul)):
        elementwise = bool(bound) and not isinstance(e, MatMul)
        out = None
        for a in e.args:
            v = ev(a)
            out = v if out is None else (out * v if elementwise else _times(out, v))
        return out
    if isinstance(e, (MatAdd, sp.Add)):
        out = None
        for a in e.args:
            v = ev(a)
            out = v if out is None else _plus(out, v)
        return out
    if isinstance(e, Transpose):
        return ev(e.args[0]).T
    if isinstance(e, Inverse):
        v = ev(e.args[0])
        return np.linalg.inv(v)
    if isinstance(e, MatPow):
        v, p = ev(e.args[0]), float(e.args[1])
        if v.shape == (1, 1):
            return v ** p
        if not p.is_integer():
            raise Unsupported("a fractional matrix power")
        return np.linalg.matrix_power(v, int(p))
    if isinstance(e, sp.Pow):
        b, p = ev(e.base), ev(e.exp)
        if _is_mat(b) and b.shape != (1, 1) and not bound:
            raise Unsupported("a power of a matrix in a scalar Pow")
        return np.power(b, p)
    if isinstance(e, Trace):
        return float(np.trace(ev(e.args[0])))
    if isinstance(e, Determinant):
        return float(np.linalg.det(ev(e.args[0])))
    if isinstance(e, HadamardProduct):
        out = None
        for a in e.args:
            v = ev(a)
            out = v if out is None else out * v
        return out
    if isinstance(e, HadamardPower):
        return np.power(ev(e.base), float(ev(e.exp)))
    if isinstance(e, DiagMatrix):
        v = ev(e.args[0])
        return np.diag(v.ravel())
    if isinstance(e, DiagonalOf):
        return np.diag(ev(e.args[0])).reshape(-1, 1)
    if isinstance(e, DiagonalMatrix):
        return np.diag(np.diag(ev(e.args[0])))
    if isinstance(e, KroneckerProduct):
        out = None
        for a in e.args:
            v = ev(a)
            v = v if _is_mat(v) else np.array([[v]])
            out = v if out is None else np.kron(out, v)
        return out
    if isinstance(e, ElementwiseApplyFunction):
        f, m = e.function, ev(e.expr)
        (var,) = f.variables
        return np.asarray(evaluate(f.expr, env, dims, {**bound, var: m}, indices), dtype=float) * np.ones_like(m)
    if isinstance(e, sp.Max):
        vals = [ev(a) for a in e.args]
        out = vals[0]
        for v in vals[1:]:
            out = np.maximum(out, v)
        return out
    if isinstance(e, sp.Heaviside):
        h0 = float(e.args[1]) if len(e.args) > 1 else 0.5
        return np.heaviside(ev(e.args[0]), h0)
    if isinstance(e, MatrixElement):
        m = ev(e.args[0])
        return float(m[int(ev(e.args[1])), int(ev(e.args[2]))])
    if isinstance(e, sp.KroneckerDelta):
        return 1.0 if int(ev(e.args[0])) == int(ev(e.args[1])) else 0.0
    if isinstance(e, sp.Sum):
        body, *limits = e.args
        total = 0.0
        (var, lo, hi), *rest = limits
        for value in range(int(ev(lo)), int(ev(hi)) + 1):
            inner = sp.Sum(body, *rest) if rest else body
            total += evaluate(inner, env, dims, bound, {**indices, var: value})
        return total
    for fn, np_fn in FUNCS.items():
        if isinstance(e, fn):
            (a,) = e.args
            return np_fn(ev(a))
    raise Unsupported(f"{type(e).__name__}: {e}")


def value(e, env, dims):
    """As evaluate, a 1×1 matrix read as its entry and a scalar as a float."""
    v = evaluate(e, env, dims)
    return np.asarray(v, dtype=float)


def finite_difference(e, wrt, env, dims, h=1e-6):
    """∂e/∂wrt by central differences, as an array of shape value(e).shape + wrt's shape."""
    x0 = np.asarray(env[wrt.name], dtype=float)
    f0 = value(e, env, dims)
    out = np.zeros(f0.shape + x0.shape)
    for idx in np.ndindex(x0.shape):
        up, down = dict(env), dict(env)
        xu, xd = x0.copy(), x0.copy()
        xu[idx] += h
        xd[idx] -= h
        up[wrt.name] = xu if x0.ndim else float(xu)
        down[wrt.name] = xd if x0.ndim else float(xd)
        out[(Ellipsis, *idx)] = (value(e, up, dims) - value(e, down, dims)) / (2 * h)
    return out


def instance(expr, k: int, seed: int, extra=()):
    """Random values for every symbol of `expr` (and `extra`) with the dimension symbols at size k:
    entries in [0.5, 1.5] (so logs, roots and powers are defined) and square matrices made diagonally
    dominant where the expression inverts one (invertible, positive determinant); elsewhere they stay in
    [0.5, 1.5], where sin and log of sin are defined too."""
    rng = np.random.default_rng(seed)
    boost = any(root.has(Inverse) or root.has(Determinant) or any(
        isinstance(p, MatPow) and p.args[1].is_negative for p in sp.preorder_traversal(root)) for root in (expr, *extra))
    env, dims = {}, {}
    syms = set()
    for root in (expr, *extra):
        syms |= {a for a in sp.preorder_traversal(root) if isinstance(a, (MatrixSymbol, sp.Symbol))}
    dim_names = set()
    for s in syms:
        if isinstance(s, MatrixSymbol):
            for d in s.shape:
                dim_names |= {f.name for f in getattr(d, "free_symbols", ())}
    for name in sorted(dim_names):
        dims[name] = k
    for s in sorted(syms, key=lambda s: s.name):
        if isinstance(s, MatrixSymbol):
            r, c = (int(d.subs({sp.Symbol(n): v for n, v in dims.items()})) for d in s.shape)
            a = rng.uniform(0.5, 1.5, (r, c))
            if r == c and r > 1 and boost:
                a += 2 * r * np.eye(r)
            env[s.name] = a
        elif s.name not in dim_names and not getattr(s, "is_Dummy", False):
            env[s.name] = float(rng.uniform(0.5, 1.5))
    return env, dims


def array_value(e, env, dims):
    """A SymPy array expression (what .diff gives for a matrix by a matrix) as a NumPy array, by SymPy's
    own explicit evaluation at these numbers (the sizes, the symbols' values)."""
    sizes = {sp.Symbol(n): v for n, v in dims.items()}
    e = e.subs(sizes)
    replace = {}
    for s in sp.preorder_traversal(e):
        if isinstance(s, MatrixSymbol) and s.name in env:
            replace[s] = sp.ImmutableMatrix(np.asarray(env[s.name], dtype=float))
        elif isinstance(s, sp.Symbol) and s.name in env:
            replace[s] = sp.Float(env[s.name])
    v = e.xreplace(replace).doit()
    if hasattr(v, "as_explicit"):
        v = v.as_explicit()
    return np.array(sp.Array(v).tolist() if not isinstance(v, sp.Array) else v.tolist(), dtype=float)
