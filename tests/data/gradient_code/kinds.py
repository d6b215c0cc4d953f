"""One small gradient function per diagnosis kind, on objectives simpler than the seed's MLP.

The docstring of each function gives the matcalc expression it is meant to be the gradient of (the
manifest has it too, with shapes and assumptions).  Most are wrong in one way; quad_form_torch and
quad_form_jax are right (they test that tensors are accepted); the error cases raise, return NaN,
never stop, ask for an impossible allocation, or return something that is not an array.
"""

import numpy as np


def _sigmoid(t):
    return 1.0 / (1.0 + np.exp(-t))


def _softmax(z):
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


# ---- assumption ----------------------------------------------------------------------------------

def quad_form_assumes_symmetric(x, A):
    """x'*A*x -- 2*A*x is right only for a symmetric A; in general (A + A')*x."""
    return 2 * A @ x


def softmax_ce_assumes_sum_one(z, y):
    """-y'*log(softmax(z)) -- s - y uses sum(y) = 1, not assumed; in general sum(y)*s - y."""
    return _softmax(z) - y


# ---- factor --------------------------------------------------------------------------------------

def least_squares_missing_2(x, A, b):
    """norm2(A*x - b)^2 -- the 2 of the square is missing."""
    return A.T @ (A @ x - b)


def half_least_squares_extra_2(x, A, b):
    """norm2(A*x - b)^2/2 -- the 1/2 was meant to cancel the 2; here the 2 is kept."""
    return 2 * A.T @ (A @ x - b)


def mse_missing_mean(w, X, y):
    """norm2(X*w - y)^2/m -- the mean's 1/m is missing: m times too large."""
    return 2 * X.T @ (X @ w - y)


# ---- sign ----------------------------------------------------------------------------------------

def logistic_sign(w, X, y):
    """sum(log(1 + exp(X*w))) - y'*X*w (logistic NLL) -- X'(y - sigmoid(Xw)) is the negative gradient."""
    return X.T @ (y - _sigmoid(X @ w))


# ---- transpose and layout ------------------------------------------------------------------------

def least_squares_transpose(x, A, b):
    """norm2(A*x - b)^2 with A square -- A @ r where A.T @ r is needed; the shapes cannot tell."""
    return 2 * A @ (A @ x - b)


def trace_layout(X, A):
    """tr(A*X) -- returns A, the numerator-layout derivative; in denominator layout it is A'."""
    return A.copy()


def bilinear_layout(a, X, b):
    """a'*X*b with X square -- np.outer(b, a) is b*a', the transpose of the gradient a*b'."""
    return np.outer(b, a)


# ---- missing term --------------------------------------------------------------------------------

def product_rule_missing_term(x, a, b):
    """(a'*x)*(b'*x) -- the product rule's second term (a'*x)*b is missing."""
    return a * (b @ x)


def quad_form_missing_term(x, A):
    """x'*A*x -- A*x alone: the A'*x term is missing (and it is not even right for symmetric A)."""
    return A @ x


# ---- shapes --------------------------------------------------------------------------------------

def least_squares_column(x, A, b):
    """norm2(A*x - b)^2 -- the residual made a column, so the result is (n, 1) where x is (n,)."""
    r = (A @ x - b).reshape(-1, 1)
    return 2 * A.T @ r


def column_vector_broadcast(x, y):
    """norm2(x - y)^2 -- x made a column (n, 1) as in the math, y left 1-D: x - y broadcasts to the
    n x n matrix of all differences x_i - y_j; only its diagonal is the gradient's."""
    x = x.reshape(-1, 1)
    return 2 * (x - y)


def softmax_rows_no_keepdims_square(Z, Y):
    """-sum(Y .* log(softmax_rows(Z)))/m with as many classes as samples (Z m x m):
    e.sum(axis=1) without keepdims is (m,), which broadcasts along rows, so entry (i, j) is
    divided by row j's sum instead of row i's.  The shape is right and the values are not."""
    m = Z.shape[0]
    e = np.exp(Z - np.max(Z, axis=1, keepdims=True))
    S = e / np.sum(e, axis=1)                      # BUG: keepdims missing
    return (S - Y) / m


def softmax_rows_no_keepdims(Z, Y):
    """-sum(Y .* log(softmax_rows(Z)))/m, Z m x k: the same missing keepdims, which here raises
    (an (m, k) array divided by an (m,) vector)."""
    m = Z.shape[0]
    e = np.exp(Z - np.max(Z, axis=1, keepdims=True))
    S = e / np.sum(e, axis=1)                      # BUG: keepdims missing -> ValueError
    return (S - Y) / m


def bias_grad_sum_all(W, b, X, Y):
    """norm2(X*W + b' - Y)^2/(2*m) wrt b -- np.sum(R) / m without axis=0: one number, not a k-vector."""
    m = X.shape[0]
    R = X @ W + b - Y
    return np.sum(R) / m


# ---- in place ------------------------------------------------------------------------------------

def shift_in_place(x, c):
    """norm2(x - c)^2 -- the value 2*(x - c) is right, but `x -= c` overwrote the caller's x."""
    x -= c
    return 2 * x


def relu_in_place(x):
    """norm2(relu(x))^2 -- 2*relu(x) is right, but np.maximum(x, 0, out=x) clipped the caller's x."""
    np.maximum(x, 0, out=x)
    return 2 * x


# ---- other ---------------------------------------------------------------------------------------

def tuple_swapped(W, b, X, Y):
    """-sum(Y .* log(softmax_rows(X*W + b')))/m wrt (W, b) -- both right, returned as (db, dW)."""
    m = X.shape[0]
    Z = X @ W + b
    e = np.exp(Z - Z.max(axis=1, keepdims=True))
    G = (e / e.sum(axis=1, keepdims=True) - Y) / m
    return G.sum(axis=0), X.T @ G                  # BUG: order is (W, b)


# ---- right, but not NumPy ------------------------------------------------------------------------

def quad_form_torch(x, A):
    """x'*A*x -- (A + A')*x, computed in torch (float64) and returned as a torch.Tensor."""
    import torch

    xt = torch.from_numpy(x)
    At = torch.from_numpy(A)
    return (At + At.T) @ xt


def quad_form_jax(x, A):
    """x'*A*x -- (A + A')*x by jax.grad, returned as a jax Array (64-bit, scoped to the call)."""
    import jax
    import jax.numpy as jnp

    with jax.enable_x64(True):                     # scoped; in float32 the result is only ~1e-7 right
        return jax.grad(lambda v: v @ jnp.asarray(A) @ v)(jnp.asarray(x))


# ---- errors --------------------------------------------------------------------------------------

def nan_placeholder(x, A):
    """x'*A*x -- the buffer starts as NaN and the loop starts at 1, so entry 0 is never filled."""
    n = x.shape[0]
    g = np.full(n, np.nan)
    for i in range(1, n):
        g[i] = (A[i, :] + A[:, i]) @ x
    return g


def raises_outer(a, X, b):
    """a'*X*b -- `a @ b.T` for the outer product a*b': on 1-D arrays .T does nothing and a @ b is an
    inner product, a ValueError when a and b differ in length."""
    return a @ b.T


def forgot_increment(x, A):
    """x'*A*x -- a while loop over the entries that never increments i: it never returns."""
    n = x.shape[0]
    g = np.zeros(n)
    i = 0
    while i < n:
        g[i] = (A[i, :] + A[:, i]) @ x
    return g


def dense_jacobian(x):
    """sum(exp(x)) -- pads into a dense Jacobian for a 'maximum batch' of 10**7: 10**14 entries (728 TiB)."""
    N = 10 ** 7
    J = np.zeros((N, N))
    n = x.shape[0]
    J[:n, :n] = np.diag(np.exp(x))
    return J[:n, :n] @ np.ones(n)


def returns_list(x, A):
    """x'*A*x -- the right numbers, as a Python list."""
    return ((A + A.T) @ x).tolist()


def forgot_return(x, A):
    """x'*A*x -- computes the gradient and forgets to return it: None."""
    g = (A + A.T) @ x  # noqa: F841
    # return g   <- forgotten
