"""The numerical helpers that generated gradient code calls, written once for NumPy and for any
NumPy-compatible namespace (`xp`), so HIPS autograd can differentiate the very same forward code.

Vectors are 1-D arrays, matrices 2-D, scalars floats. Softmax and log-sum-exp subtract the maximum
first, so logits of size 1e3 neither overflow nor lose the answer.
"""

from __future__ import annotations

import numpy as np


def sigmoid(z, xp=np):
    # 1/(1+exp(-z)) overflows exp for z << 0; the tanh form is stable everywhere
    return 0.5 * (xp.tanh(0.5 * z) + 1.0)


def relu(z, xp=np):
    return xp.maximum(z, 0.0)


def step(z, xp=np):
    return (z > 0) * 1.0


def softmax(z, xp=np):
    e = xp.exp(z - xp.max(z))
    return e / xp.sum(e)


def logsumexp(z, xp=np):
    top = xp.max(z)
    return top + xp.log(xp.sum(xp.exp(z - top)))


def softmax_rows(Z, xp=np):
    e = xp.exp(Z - xp.max(Z, axis=1, keepdims=True))
    return e / xp.sum(e, axis=1, keepdims=True)


def logsumexp_rows(Z, xp=np):
    top = xp.max(Z, axis=1, keepdims=True)
    return (top + xp.log(xp.sum(xp.exp(Z - top), axis=1, keepdims=True)))[:, 0]


def logdet(X, xp=np):
    sign, value = xp.linalg.slogdet(X)
    return value if sign > 0 else value + xp.log(sign)  # log of a negative determinant is nan


def norm1(X, xp=np):
    return xp.sum(xp.abs(X))


HELPERS = {f.__name__: f for f in (sigmoid, relu, step, softmax, logsumexp, softmax_rows,
                                   logsumexp_rows, logdet, norm1)}


def resolve(spelling: str, xp=np):
    """`np.linalg.inv` or a helper name -> the callable, looked up attribute by attribute (no eval)."""
    if spelling in HELPERS:
        helper = HELPERS[spelling]
        return helper if xp is np else (lambda a, _h=helper: _h(a, xp=xp))
    parts = spelling.split(".")
    if parts[0] != "np":
        raise ValueError(f"unknown NumPy spelling {spelling!r} in rules/functions.toml")
    obj = xp
    for part in parts[1:]:
        obj = getattr(obj, part)
    return obj
