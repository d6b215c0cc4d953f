"""Gradient functions written to fool check_gradient: right on the instances a checker usually draws,
wrong elsewhere. Each must still be judged wrong (FOOLS) — and the right functions that look like them
must still be judged right (HONEST), so that catching the fools is not bought with false alarms.

Every label is checked outside matcalc in tests/test_gradient_code.py: the function's value against
HIPS autograd of the expression (plain_eval.py) on an instance built to expose it.
"""

from __future__ import annotations

import numpy as np

LOSS = "-sum(Y .* log(softmax_rows(X*W + b')))/m"
LINEAR = {"W": "d,k", "b": "k", "X": "m,d", "Y": "m,k"}


def _softmax_rows(Z):
    e = np.exp(Z - Z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ---- only for the shapes the checker draws ------------------------------------------------------

def bilinear_wrong_if_square(a, X, b):
    """a'*X*b wrt X: right, except that a square X gets the transpose — a checker that only draws
    distinct sizes never sees it."""
    if X.shape[0] == X.shape[1]:
        return np.outer(b, a)
    return np.outer(a, b)


def linear_wrong_if_batch_of_two(W, b, X, Y):
    """The linear softmax wrt W, but a batch of exactly 2 rows is summed, not averaged."""
    G = _softmax_rows(X @ W + b) - Y
    return X.T @ G / (X.shape[0] if X.shape[0] != 2 else 1)


# ---- only for the labels the checker draws ------------------------------------------------------

def linear_needs_onehot(W, b, X, Y):
    """Soft labels assumed (rows of Y sum to 1), but the code reads the label as argmax: right only for
    one-hot Y."""
    G = _softmax_rows(X @ W + b)
    G[np.arange(X.shape[0]), Y.argmax(axis=1)] -= 1.0
    return X.T @ G / X.shape[0]


# ---- only for the values the checker draws ------------------------------------------------------

def abs_needs_positive(x):
    """sum(abs(x)) wrt x: ones, right only where every x is positive."""
    return np.ones_like(x)


def sigmoid_clipped(x):
    """sum(sigmoid(x)) wrt x: s(1 - s), with x clipped to [-4, 4] first "for stability": wrong for
    |x| > 4, which unit-spread draws seldom reach."""
    s = 1.0 / (1.0 + np.exp(-np.clip(x, -4, 4)))
    return s * (1 - s)


def relu_shifted_no_mask(x):
    """sum(relu(x + 3)) wrt x: ones, right while every x > -3 (almost always, at unit spread)."""
    return np.ones_like(x)


def abs_wrong_near_zero(x):
    """sum(abs(x)) wrt x: sign(x), except that entries in (0, 1e-3) get -1 (a threshold off by 1e-3)."""
    return np.where(x > 1e-3, 1.0, -1.0)


# ---- only on the first calls --------------------------------------------------------------------

_calls = {"n": 0}


def quad_right_three_times(x, A):
    """x'*A*x wrt x: right on the first three calls (the checker's first instances), then 2*A*x."""
    _calls["n"] += 1
    return (A + A.T) @ x if _calls["n"] <= 3 else 2 * A @ x


_memo: dict = {}


def quad_memo_by_shape(x, A):
    """x'*A*x wrt x, remembered by shape: every later call of a shape seen returns the first result."""
    key = (x.shape, A.shape)
    if key not in _memo:
        _memo[key] = (A + A.T) @ x
    return _memo[key]


# ---- honest functions that look like the fools: no false alarm ---------------------------------

def bilinear_branching_right(a, X, b):
    """a'*X*b wrt X: branches on squareness, rightly on both branches."""
    if X.shape[0] == X.shape[1]:
        return np.einsum("i,j->ij", a, b)
    return np.outer(a, b)


def sigmoid_stable(x):
    """sum(sigmoid(x)) wrt x, written with the stable tanh form."""
    s = 0.5 * (1.0 + np.tanh(0.5 * x))
    return s * (1 - s)


def relu_shifted_masked(x):
    """sum(relu(x + 3)) wrt x: the mask."""
    return (x + 3 > 0).astype(float)


def abs_sign(x):
    return np.sign(x)


# (function, expression, wrt, shapes, assume, expected kinds or None for any wrong kind)
FOOLS = [
    (bilinear_wrong_if_square, "a'*X*b", "X", {"a": "m", "X": "m,n", "b": "n"}, [], ("layout",)),
    (linear_wrong_if_batch_of_two, LOSS, "W", LINEAR, ["Y one-hot"], None),
    (linear_needs_onehot, LOSS, "W", LINEAR, ["rowsum(Y) = 1"], ("assumption",)),
    (abs_needs_positive, "sum(abs(x))", "x", {"x": "n"}, [], ("assumption",)),
    (sigmoid_clipped, "sum(sigmoid(x))", "x", {"x": "n"}, [], None),
    (relu_shifted_no_mask, "sum(relu(x + 3))", "x", {"x": "n"}, [], ("mask", "missing factor", "assumption")),
    (abs_wrong_near_zero, "sum(abs(x))", "x", {"x": "n"}, [], None),
    (quad_right_three_times, "x'*A*x", "x", {"x": "n", "A": "n,n"}, [], None),
    (quad_memo_by_shape, "x'*A*x", "x", {"x": "n", "A": "n,n"}, [], None),
]

HONEST = [
    (bilinear_branching_right, "a'*X*b", "X", {"a": "m", "X": "m,n", "b": "n"}, []),
    (sigmoid_stable, "sum(sigmoid(x))", "x", {"x": "n"}, []),
    (relu_shifted_masked, "sum(relu(x + 3))", "x", {"x": "n"}, []),
    (abs_sign, "sum(abs(x))", "x", {"x": "n"}, []),
]
