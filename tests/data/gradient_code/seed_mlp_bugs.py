"""The classic mistakes in the seed-003 backprop (see seed_mlp.py for the right version).

Each function is the seed's code with one mistake.  Most return the dict of all six gradients, as a
training loop would; the diagnosis should name the entry that is wrong and why.  Some mistakes only
get past NumPy at other layer sizes; those functions say which shapes (the manifest declares them):

- a2 @ g for a2.T @ g raises at the seed's sizes (m,64) @ (m,10); it is silent when the second
  hidden layer is as wide as the batch (a2 is m x m): grad_W3_no_transpose_square.
- the relu mask of the wrong layer, step(Z1) for step(Z2), raises at 64-128-64-10 ((m,64) * (m,128));
  it is silent with two 64-wide hidden layers (64-64-64-10): backprop_mask_wrong_layer.
- a transposed dW1 has W1's shape only when W1 is square (64-64-64-10): backprop_dW1_transposed.
"""

import numpy as np


def relu(z):
    return np.maximum(z, 0)


def softmax(z):
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    return e / np.sum(e, axis=1, keepdims=True)


def forward(X, W1, b1, W2, b2, W3, b3):
    z1 = np.dot(X, W1) + b1
    a1 = relu(z1)
    z2 = np.dot(a1, W2) + b2
    a2 = relu(z2)
    z3 = np.dot(a2, W3) + b3
    return z1, a1, z2, a2, z3, softmax(z3)


def _rest(X, a1, z1, z2, grad_a2, W2, m):
    """Layers 2 and 1, right, from a given dL/dA2 (times m)."""
    grad_z2 = grad_a2 * (z2 > 0)
    dW2 = np.dot(a1.T, grad_z2) / m
    db2 = np.sum(grad_z2, axis=0) / m
    grad_z1 = np.dot(grad_z2, W2.T) * (z1 > 0)
    dW1 = np.dot(X.T, grad_z1) / m
    db1 = np.sum(grad_z1, axis=0) / m
    return dW2, db2, dW1, db1


# ---- the 1/m -------------------------------------------------------------------------------------

def backprop_db3_no_mean(X, Y, W1, b1, W2, b2, W3, b3):
    """db3 is summed over the batch but not divided by m."""
    m = X.shape[0]
    z1, a1, z2, a2, z3, y_pred = forward(X, W1, b1, W2, b2, W3, b3)
    g = y_pred - Y
    dW3 = np.dot(a2.T, g) / m
    db3 = np.sum(g, axis=0)                        # BUG: no / m
    dW2, db2, dW1, db1 = _rest(X, a1, z1, z2, np.dot(g, W3.T), W2, m)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "W3": dW3, "b3": db3}


def backprop_dA2_extra_mean(X, Y, W1, b1, W2, b2, W3, b3):
    """The notes' first line: dL/da2 = (1/m) np.dot(g, W3.T) -- then dW2 = a1.T @ dz2 / m has 1/m^2."""
    m = X.shape[0]
    z1, a1, z2, a2, z3, y_pred = forward(X, W1, b1, W2, b2, W3, b3)
    g = y_pred - Y
    dW3 = np.dot(a2.T, g) / m
    db3 = np.sum(g, axis=0) / m
    grad_a2 = np.dot(g, W3.T) / m                  # BUG: a second 1/m on the way down
    dW2, db2, dW1, db1 = _rest(X, a1, z1, z2, grad_a2, W2, m)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "W3": dW3, "b3": db3}


# ---- transposes ----------------------------------------------------------------------------------

def grad_W3_no_transpose(X, Y, W1, b1, W2, b2, W3, b3):
    """a2 @ g for a2.T @ g.  At the seed's sizes: (m,64) @ (m,10) -> ValueError."""
    m = X.shape[0]
    _, _, _, a2, _, y_pred = forward(X, W1, b1, W2, b2, W3, b3)
    g = y_pred - Y
    return np.dot(a2, g) / m                       # BUG: a2, not a2.T


def grad_W3_no_transpose_square(X, Y, W1, b1, W2, b2, W3, b3):
    """The same mistake where the second hidden layer has m units (W2 128 x m, W3 m x 10):
    a2 is m x m, so a2 @ g is (m, 10), W3's shape, and nothing fails."""
    m = X.shape[0]
    _, _, _, a2, _, y_pred = forward(X, W1, b1, W2, b2, W3, b3)
    g = y_pred - Y
    return np.dot(a2, g) / m                       # BUG: a2, not a2.T (silent here)


def backprop_dW1_transposed(X, Y, W1, b1, W2, b2, W3, b3):
    """dW1 returned as dz1.T @ X / m, W1.T-shaped; W1 is 64 x 64 here so the shape does not show it."""
    m = X.shape[0]
    z1, a1, z2, a2, z3, y_pred = forward(X, W1, b1, W2, b2, W3, b3)
    g = y_pred - Y
    dW3 = np.dot(a2.T, g) / m
    db3 = np.sum(g, axis=0) / m
    grad_z2 = np.dot(g, W3.T) * (z2 > 0)
    dW2 = np.dot(a1.T, grad_z2) / m
    db2 = np.sum(grad_z2, axis=0) / m
    grad_z1 = np.dot(grad_z2, W2.T) * (z1 > 0)
    dW1 = np.dot(grad_z1.T, X) / m                 # BUG: (dL/dW1)', numerator layout
    db1 = np.sum(grad_z1, axis=0) / m
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "W3": dW3, "b3": db3}


# ---- np.sum --------------------------------------------------------------------------------------

def backprop_db3_sum_no_axis(X, Y, W1, b1, W2, b2, W3, b3):
    """db3 = np.sum(g) / m: one number, the sum over samples and classes alike."""
    m = X.shape[0]
    z1, a1, z2, a2, z3, y_pred = forward(X, W1, b1, W2, b2, W3, b3)
    g = y_pred - Y
    dW3 = np.dot(a2.T, g) / m
    db3 = np.sum(g) / m                            # BUG: no axis=0
    dW2, db2, dW1, db1 = _rest(X, a1, z1, z2, np.dot(g, W3.T), W2, m)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "W3": dW3, "b3": db3}


def grad_b3_sum_axis1(X, Y, W1, b1, W2, b2, W3, b3):
    """np.sum(g, axis=1): each sample's row summed -> (m,), and all ~0 since rows of S - Y sum to 0."""
    m = X.shape[0]
    y_pred = forward(X, W1, b1, W2, b2, W3, b3)[-1]
    return np.sum(y_pred - Y, axis=1) / m          # BUG: axis=1


def grad_b3_keepdims(X, Y, W1, b1, W2, b2, W3, b3):
    """keepdims=True leaves a (1, 10) row where b3 is the 1-D (10,)."""
    m = X.shape[0]
    y_pred = forward(X, W1, b1, W2, b2, W3, b3)[-1]
    return np.sum(y_pred - Y, axis=0, keepdims=True) / m   # BUG: (1, 10)


# ---- relu mask -----------------------------------------------------------------------------------

def backprop_mask_wrong_layer(X, Y, W1, b1, W2, b2, W3, b3):
    """dz2 masked with relu'(z1) instead of relu'(z2).  Needs z1 and z2 of one shape (64-64-64-10)."""
    m = X.shape[0]
    z1, a1, z2, a2, z3, y_pred = forward(X, W1, b1, W2, b2, W3, b3)
    g = y_pred - Y
    dW3 = np.dot(a2.T, g) / m
    db3 = np.sum(g, axis=0) / m
    grad_z2 = np.dot(g, W3.T) * (z1 > 0)           # BUG: z1, should be z2
    dW2 = np.dot(a1.T, grad_z2) / m
    db2 = np.sum(grad_z2, axis=0) / m
    grad_z1 = np.dot(grad_z2, W2.T) * (z1 > 0)
    dW1 = np.dot(X.T, grad_z1) / m
    db1 = np.sum(grad_z1, axis=0) / m
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "W3": dW3, "b3": db3}


def backprop_no_relu_mask(X, Y, W1, b1, W2, b2, W3, b3):
    """The second layer's relu' is forgotten: dz2 = da2."""
    m = X.shape[0]
    z1, a1, z2, a2, z3, y_pred = forward(X, W1, b1, W2, b2, W3, b3)
    g = y_pred - Y
    dW3 = np.dot(a2.T, g) / m
    db3 = np.sum(g, axis=0) / m
    grad_z2 = np.dot(g, W3.T)                      # BUG: no * (z2 > 0)
    dW2 = np.dot(a1.T, grad_z2) / m
    db2 = np.sum(grad_z2, axis=0) / m
    grad_z1 = np.dot(grad_z2, W2.T) * (z1 > 0)
    dW1 = np.dot(X.T, grad_z1) / m
    db1 = np.sum(grad_z1, axis=0) / m
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "W3": dW3, "b3": db3}


# ---- softmax and sign ----------------------------------------------------------------------------

def backprop_softmax_no_subtract(X, Y, W1, b1, W2, b2, W3, b3):
    """grad_y_pred = y_pred: the - Y of the softmax cross-entropy gradient is dropped."""
    m = X.shape[0]
    z1, a1, z2, a2, z3, y_pred = forward(X, W1, b1, W2, b2, W3, b3)
    g = y_pred                                     # BUG: should be y_pred - Y
    dW3 = np.dot(a2.T, g) / m
    db3 = np.sum(g, axis=0) / m
    dW2, db2, dW1, db1 = _rest(X, a1, z1, z2, np.dot(g, W3.T), W2, m)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "W3": dW3, "b3": db3}


def backprop_sign_flipped(X, Y, W1, b1, W2, b2, W3, b3):
    """grad_y_pred = Y - y_pred: every gradient has the wrong sign (gradient ascent)."""
    m = X.shape[0]
    z1, a1, z2, a2, z3, y_pred = forward(X, W1, b1, W2, b2, W3, b3)
    g = Y - y_pred                                 # BUG: sign
    dW3 = np.dot(a2.T, g) / m
    db3 = np.sum(g, axis=0) / m
    dW2, db2, dW1, db1 = _rest(X, a1, z1, z2, np.dot(g, W3.T), W2, m)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "W3": dW3, "b3": db3}


def grad_W3_without_onehot(X, Y, W1, b1, W2, b2, W3, b3):
    """The seed's right dW3, but here nothing is assumed about Y: y_pred - Y needs rows of Y summing to 1."""
    m = X.shape[0]
    _, _, _, a2, _, y_pred = forward(X, W1, b1, W2, b2, W3, b3)
    return np.dot(a2.T, y_pred - Y) / m            # right only if each row of Y sums to 1


# ---- in place ------------------------------------------------------------------------------------

def backprop_updates_in_place(X, Y, W1, b1, W2, b2, W3, b3):
    """Takes the SGD step on W3 as soon as dW3 is known, then backpropagates through the new W3."""
    lr = 0.1
    m = X.shape[0]
    z1, a1, z2, a2, z3, y_pred = forward(X, W1, b1, W2, b2, W3, b3)
    g = y_pred - Y
    dW3 = np.dot(a2.T, g) / m
    db3 = np.sum(g, axis=0) / m
    W3 -= lr * dW3                                 # BUG: updates the caller's W3 in place ...
    grad_a2 = np.dot(g, W3.T)                      # ... and uses the updated W3 here
    dW2, db2, dW1, db1 = _rest(X, a1, z1, z2, grad_a2, W2, m)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "W3": dW3, "b3": db3}
