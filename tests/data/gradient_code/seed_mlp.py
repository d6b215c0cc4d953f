"""Seed 003 as a person writes it in NumPy: a batched 3-layer MLP, 64-128-64-10, rows are samples.

    Z1 = X @ W1 + b1     A1 = relu(Z1)        X  (m, 64)   W1 (64, 128)   b1 (128,)
    Z2 = A1 @ W2 + b2    A2 = relu(Z2)                     W2 (128, 64)   b2 (64,)
    Z3 = A2 @ W3 + b3    S = softmax_rows(Z3)              W3 (64, 10)    b3 (10,)
    L = -sum(Y * log(S)) / m                  Y  (m, 10) one-hot rows

In matcalc's language:
    -sum(Y .* log(softmax_rows(relu(relu(X*W1 + b1')*W2 + b2')*W3 + b3')))/m

The notes' convention: grad_y_pred = S - Y carries no 1/m (it uses that each row of Y sums to 1),
every weight and bias gradient takes the batch mean once (`/ m`), and dL/dA does not
(`np.dot(grad_z, W.T)`, "the m dimension must stay").  These are all right.
"""

import numpy as np


def relu(z):
    return np.maximum(z, 0)


def softmax(z):
    # shift by the row max for stability; keepdims so that (m, 10) / (m, 1) broadcasts by rows
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    return e / np.sum(e, axis=1, keepdims=True)


def forward(X, W1, b1, W2, b2, W3, b3):
    z1 = np.dot(X, W1) + b1
    a1 = relu(z1)
    z2 = np.dot(a1, W2) + b2
    a2 = relu(z2)
    z3 = np.dot(a2, W3) + b3
    y_pred = softmax(z3)
    return z1, a1, z2, a2, z3, y_pred


def backprop(X, Y, W1, b1, W2, b2, W3, b3):
    """All six gradients, as the notes derive them layer by layer."""
    m = X.shape[0]
    z1, a1, z2, a2, z3, y_pred = forward(X, W1, b1, W2, b2, W3, b3)

    grad_y_pred = y_pred - Y                       # (m, 10): dL/dz3 without the 1/m

    dW3 = np.dot(a2.T, grad_y_pred) / m            # (64, m) . (m, 10) = (64, 10)
    db3 = np.sum(grad_y_pred, axis=0) / m          # axis=0 -> (10,)

    grad_a2 = np.dot(grad_y_pred, W3.T)            # (m, 10) . (10, 64) = (m, 64), no 1/m here
    grad_z2 = grad_a2 * (z2 > 0)                   # relu'
    dW2 = np.dot(a1.T, grad_z2) / m                # (128, m) . (m, 64)
    db2 = np.sum(grad_z2, axis=0) / m

    grad_a1 = np.dot(grad_z2, W2.T)                # (m, 64) . (64, 128) = (m, 128)
    grad_z1 = grad_a1 * (z1 > 0)
    dW1 = np.dot(X.T, grad_z1) / m                 # (64, m) . (m, 128)
    db1 = np.sum(grad_z1, axis=0) / m

    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "W3": dW3, "b3": db3}


def grad_W3(X, Y, W1, b1, W2, b2, W3, b3):
    m = X.shape[0]
    _, _, _, a2, _, y_pred = forward(X, W1, b1, W2, b2, W3, b3)
    grad_y_pred = y_pred - Y
    return np.dot(a2.T, grad_y_pred) / m


def grad_b3(X, Y, W1, b1, W2, b2, W3, b3):
    m = X.shape[0]
    y_pred = forward(X, W1, b1, W2, b2, W3, b3)[-1]
    return np.sum(y_pred - Y, axis=0) / m


def _grad_z2(X, Y, W1, b1, W2, b2, W3, b3):
    z1, a1, z2, a2, z3, y_pred = forward(X, W1, b1, W2, b2, W3, b3)
    grad_a2 = np.dot(y_pred - Y, W3.T)
    return z1, a1, grad_a2 * (z2 > 0)


def grad_W2(X, Y, W1, b1, W2, b2, W3, b3):
    m = X.shape[0]
    _, a1, grad_z2 = _grad_z2(X, Y, W1, b1, W2, b2, W3, b3)
    return np.dot(a1.T, grad_z2) / m


def grad_b2(X, Y, W1, b1, W2, b2, W3, b3):
    m = X.shape[0]
    grad_z2 = _grad_z2(X, Y, W1, b1, W2, b2, W3, b3)[-1]
    return np.sum(grad_z2, axis=0) / m


def grad_W1(X, Y, W1, b1, W2, b2, W3, b3):
    m = X.shape[0]
    z1, _, grad_z2 = _grad_z2(X, Y, W1, b1, W2, b2, W3, b3)
    grad_z1 = np.dot(grad_z2, W2.T) * (z1 > 0)
    return np.dot(X.T, grad_z1) / m


def grad_b1(X, Y, W1, b1, W2, b2, W3, b3):
    m = X.shape[0]
    z1, _, grad_z2 = _grad_z2(X, Y, W1, b1, W2, b2, W3, b3)
    grad_z1 = np.dot(grad_z2, W2.T) * (z1 > 0)
    return np.sum(grad_z1, axis=0) / m
