"""Right gradient functions, written unlike matcalc would print them.

Loops over indices, np.einsum, another association order, np.outer, np.dot with reshape, keepdims
forms, expanded normal equations, torch and jax (float64) autodiff.  Every one of these must be
judged right: a complaint about any of them is a false alarm.  torch and jax are imported inside the
functions that use them, so the module imports with NumPy alone.
"""

import numpy as np


# ---- vector: quadratic and bilinear forms --------------------------------------------------------

def quad_form_loops(x, A):
    """x'*A*x by explicit loops: g_k = sum_j (A_kj + A_jk) x_j."""
    n = len(x)
    g = np.zeros(n)
    for k in range(n):
        for j in range(n):
            g[k] += (A[k, j] + A[j, k]) * x[j]
    return g


def quad_form_transposed_products(x, A):
    """x'*A*x as row-vector products: x @ A.T + x @ A is (A + A')*x."""
    return x @ A.T + x @ A


def half_quad_symmetric(x, A):
    """x'*A*x/2 with A symmetric (assumed): A*x."""
    return np.dot(A, x)


def bilinear_outer(a, X, b):
    """a'*X*b wrt X: the outer product a*b'."""
    return np.outer(a, b)


def trace_axb_einsum(A, X, B):
    """tr(A*X*B) wrt X: d/dX_kl = sum_i A_ik B_li, i.e. A'*B'."""
    return np.einsum("ik,li->kl", A, B)


def norm_unsquared(x):
    """norm2(x): x / ||x||."""
    return x / np.sqrt(np.sum(x * x))


def hadamard_div_pow(x, y):
    """sum(x .^ 3 ./ y), y > 0: 3 x^2 / y elementwise."""
    return 3 * np.power(x, 2) / y


def tanh_layer_wrt_W(W, x):
    """sum(tanh(W*x)) wrt W: sech(W x)^2 x' by broadcasting a column against a row."""
    return (1.0 / np.cosh(W @ x) ** 2)[:, None] * x[None, :]


# ---- least squares -------------------------------------------------------------------------------

def least_squares_association(x, A, B, c):
    """norm2(A*B*x - c)^2: the residual through (A@B)@x, the gradient through B.T @ (A.T @ r)."""
    r = (A @ B) @ x - c
    return 2 * (B.T @ (A.T @ r))


def mse_dot_reshape(w, X, y):
    """norm2(X*w - y)^2/m in column-vector style: reshape to (n,1), np.dot, flatten back."""
    m = X.shape[0]
    wc = w.reshape(-1, 1)
    yc = y.reshape(-1, 1)
    g = 2.0 / m * np.dot(X.T, np.dot(X, wc) - yc)
    return g.reshape(-1)


def ridge_normal_form(x, A, b, lam):
    """norm2(A*x - b)^2 + lam*norm2(x)^2 wrt x, expanded: 2 (A'A + lam I) x - 2 A'b."""
    n = x.shape[0]
    return 2 * (A.T @ A + lam * np.eye(n)) @ x - 2 * A.T @ b


def ridge_wrt_lam(x, A, b, lam):
    """norm2(A*x - b)^2 + lam*norm2(x)^2 wrt the scalar lam: ||x||^2, as a Python float."""
    return float(np.dot(x, x))


def exp_scale_wrt_alpha(x, alpha):
    """sum(exp(alpha*x)) wrt the scalar alpha: sum_i x_i exp(alpha x_i), by a loop, a float."""
    total = 0.0
    for xi in x:
        total += xi * np.exp(alpha * xi)
    return total


def least_squares_jax(x, A, b):
    """norm2(A*x - b)^2 by jax.grad (64-bit), returned as a jax Array."""
    import jax
    import jax.numpy as jnp

    with jax.enable_x64(True):                     # scoped 64-bit: float32 is only ~1e-7 right
        Aj, bj = jnp.asarray(A), jnp.asarray(b)
        return jax.grad(lambda v: jnp.sum((Aj @ v - bj) ** 2))(jnp.asarray(x))


# ---- matrix functions ----------------------------------------------------------------------------

def logdet_solve(X):
    """logdet(X), X positive definite: inv(X)', by a solve against the identity."""
    n = X.shape[0]
    return np.linalg.solve(X, np.eye(n)).T


def trace_inverse(X, A):
    """tr(inv(X)*A) wrt X: -(X^-1 A X^-1)', written as -X^-T A' X^-T."""
    Xit = np.linalg.inv(X.T)
    return -Xit @ A.T @ Xit


# ---- batched -------------------------------------------------------------------------------------

def relu_batched(w, X):
    """sum(relu(X*w)) wrt w: X' step(Xw), the step by np.heaviside."""
    return X.T @ np.heaviside(X @ w, 0.0)


def logistic_tanh_form(w, X, y):
    """sum(log(1 + exp(X*w))) - y'*X*w: X'(sigmoid(Xw) - y), sigmoid(t) written 0.5 (1 + tanh(t/2))."""
    p = 0.5 * (1.0 + np.tanh(0.5 * (X @ w)))
    return X.T @ (p - y)


def logistic_torch_autograd(w, X, y):
    """The same logistic NLL by torch autograd (float64, softplus); returns a torch.Tensor."""
    import torch

    wt = torch.tensor(w, requires_grad=True)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    z = Xt @ wt
    loss = torch.nn.functional.softplus(z).sum() - yt @ z
    loss.backward()
    return wt.grad


def softmax_ce_onehot_broadcast(W, x, b, y):
    """-y'*log(softmax(W*x + b)) wrt W, y one-hot: (s - y) x' by broadcasting (c,1) * (1,d)."""
    z = W @ x + b
    s = np.exp(z - z.max())
    s /= s.sum()                                   # in place on a local array: fine
    return (s - y)[:, None] * x[None, :]


def linear_softmax_tuple(W, b, X, Y):
    """-sum(Y .* log(softmax_rows(X*W + b')))/m wrt (W, b): a tuple, softmax via logsumexp, keepdims."""
    m = X.shape[0]
    Z = X @ W + b
    zmax = Z.max(axis=1, keepdims=True)
    lse = zmax + np.log(np.exp(Z - zmax).sum(axis=1, keepdims=True))
    G = np.exp(Z - lse) - Y
    dW = X.T @ G / m
    db = np.sum(G, axis=0, keepdims=True).reshape(-1) / m
    return dW, db


def linear_softmax_loop_W(W, b, X, Y):
    """The same loss wrt W, one sample at a time: mean of outer(x_i, s_i - y_i)."""
    m = X.shape[0]
    dW = np.zeros_like(W)
    for i in range(m):
        z = X[i] @ W + b
        s = np.exp(z - z.max())
        s = s / s.sum()
        dW += np.outer(X[i], s - Y[i])
    return dW / m


def linear_softmax_soft_labels_W(W, b, X, Y):
    """The same loss wrt W with soft labels, rows of Y summing to 1 (assumed): X'(S - Y)/m, a mean."""
    Z = X @ W + b
    e = np.exp(Z - Z.max(axis=1, keepdims=True))
    S = e / e.sum(axis=1, keepdims=True)
    return X.T @ (S - Y) / X.shape[0]


# ---- the seed's MLP, three other ways ------------------------------------------------------------

def seed_mlp_per_sample(X, Y, W1, b1, W2, b2, W3, b3):
    """Seed 003 one sample at a time in column-vector math style (z = W' x + b), summed, then / m."""
    m = X.shape[0]
    grads = {k: np.zeros_like(v) for k, v in (("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2),
                                              ("W3", W3), ("b3", b3))}
    for i in range(m):
        x = X[i].reshape(-1, 1)                    # (64, 1)
        y = Y[i].reshape(-1, 1)
        z1 = np.dot(W1.T, x) + b1.reshape(-1, 1)
        a1 = np.maximum(z1, 0)
        z2 = np.dot(W2.T, a1) + b2.reshape(-1, 1)
        a2 = np.maximum(z2, 0)
        z3 = np.dot(W3.T, a2) + b3.reshape(-1, 1)
        s = np.exp(z3 - z3.max())
        s = s / s.sum()
        d3 = s - y                                 # (10, 1)
        d2 = np.dot(W3, d3) * (z2 > 0)             # (64, 1)
        d1 = np.dot(W2, d2) * (z1 > 0)             # (128, 1)
        grads["W3"] += np.dot(a2, d3.T)
        grads["b3"] += d3.reshape(-1)
        grads["W2"] += np.dot(a1, d2.T)
        grads["b2"] += d2.reshape(-1)
        grads["W1"] += np.dot(x, d1.T)
        grads["b1"] += d1.reshape(-1)
    return {k: v / m for k, v in grads.items()}


def seed_mlp_torch(X, Y, W1, b1, W2, b2, W3, b3):
    """Seed 003 by torch autograd (float64); a dict of torch.Tensors."""
    import torch

    params = {k: torch.tensor(v, requires_grad=True)
              for k, v in (("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2), ("W3", W3), ("b3", b3))}
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    a1 = torch.relu(Xt @ params["W1"] + params["b1"])
    a2 = torch.relu(a1 @ params["W2"] + params["b2"])
    z3 = a2 @ params["W3"] + params["b3"]
    loss = -(Yt * torch.log_softmax(z3, dim=1)).sum() / Xt.shape[0]
    loss.backward()
    return {k: p.grad for k, p in params.items()}


def seed_mlp_jax(X, Y, W1, b1, W2, b2, W3, b3):
    """Seed 003 by jax.grad over a dict of parameters (64-bit); a dict of jax Arrays."""
    import jax
    import jax.numpy as jnp

    def loss(p, Xj, Yj):
        a1 = jax.nn.relu(Xj @ p["W1"] + p["b1"])
        a2 = jax.nn.relu(a1 @ p["W2"] + p["b2"])
        z3 = a2 @ p["W3"] + p["b3"]
        return -jnp.sum(Yj * jax.nn.log_softmax(z3, axis=1)) / Xj.shape[0]

    params = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}
    with jax.enable_x64(True):                     # scoped 64-bit
        p = {k: jnp.asarray(v) for k, v in params.items()}
        return jax.grad(loss)(p, jnp.asarray(X), jnp.asarray(Y))
