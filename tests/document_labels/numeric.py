"""Numeric helpers for the label checks: central differences, softmax, instance drawing."""
import numpy as np

H = 1e-6
def softmax(z, axis=None):
    z = np.asarray(z, float)
    if axis is None:
        e = np.exp(z - z.max()); return e / e.sum()
    e = np.exp(z - z.max(axis=axis, keepdims=True)); return e / e.sum(axis=axis, keepdims=True)

def grad(f, x, h=H):
    """d f / d x for scalar f, same shape as x (denominator layout)."""
    x = np.array(x, float); g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp = x.copy(); xm = x.copy(); xp[idx] += h; xm[idx] -= h
        g[idx] = (f(xp) - f(xm)) / (2*h)
    return g

def jac(f, x, h=H):
    """numerator-layout Jacobian of vector f wrt vector x: J[i, j] = d f_i / d x_j"""
    x = np.array(x, float); f0 = np.asarray(f(x)); J = np.zeros(f0.shape + x.shape)
    for idx in np.ndindex(x.shape):
        xp = x.copy(); xm = x.copy(); xp[idx] += h; xm[idx] -= h
        J[(Ellipsis,) + idx] = (np.asarray(f(xp)) - np.asarray(f(xm))) / (2*h)
    return J

def dscalar(f, t, h=H):
    return (f(t+h) - f(t-h)) / (2*h)

def close(a, b, tol=1e-5):
    a = np.asarray(a, float); b = np.asarray(b, float)
    if a.shape != b.shape:
        return False
    return np.max(np.abs(a - b)) <= tol * (1 + np.max(np.abs(a)) + np.max(np.abs(b)))

def far(a, b, tol=1e-3):
    a = np.asarray(a, float); b = np.asarray(b, float)
    if a.shape != b.shape:
        return True
    return np.max(np.abs(a - b)) > tol * (1 + np.max(np.abs(a)))

def run(num, truth, seeds=(1, 2, 3)):
    """num(rng) -> list of (desc, a, b, expect) with expect True/False/None (None: from truth).
    Returns (ok, details)."""
    per = {}
    for s in seeds:
        rng = np.random.default_rng(s)
        for desc, a, b, expect in num(rng):
            if expect is None:
                expect = {"right": True, "wrong": False}[truth]
            per.setdefault(desc, [expect, []])[1].append((close(a, b), far(a, b)))
    ok = True; msgs = []
    for desc, (expect, rs) in per.items():
        if expect:
            good = all(c for c, _ in rs)
        else:
            good = any(f for _, f in rs) and not all(c for c, _ in rs)
        ok &= good
        msgs.append(f"{'ok ' if good else 'BAD'} expect={'equal' if expect else 'differ'} {desc}")
    return ok, msgs
