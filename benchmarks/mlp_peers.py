"""Reference implementations of one minibatch SGD step, to check and time matcalc's derived gradients.

The network is an MLP with relu hidden layers and a softmax cross-entropy output (mean over the
batch). Every peer takes the same `params` list from `matcalc.data.init_params` -- (W, b) pairs with
W of shape (fan_in, fan_out), applied row-major as Z = A @ W + b -- and the same batch (A0 (m, d),
Y one-hot (m, c)), so any disagreement is a bug rather than a convention.

- `handwritten_step`: the backward pass written out in NumPy; the speed a person can reach by hand.
- `autograd_step`: the loss in `autograd.numpy`; what generic reverse-mode AD costs in NumPy.
- `torch_step`: only when PyTorch imports (`HAVE_TORCH`); torch stays an optional dependency.

Run as a script for a quick per-epoch timing of each peer on the digits data.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

try:
    from matcalc.train.data import minibatches
except ImportError:  # run as `python benchmarks/mlp_peers.py` from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from matcalc.train.data import minibatches

try:
    import torch

    HAVE_TORCH = True
except ImportError:
    torch = None
    HAVE_TORCH = False


# ---------------------------------------------------------------------------------------------
# Plain NumPy


def _log_softmax(Z: np.ndarray) -> np.ndarray:
    """Subtracting the row max keeps exp from overflowing; it cancels in the result."""
    shifted = Z - Z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def forward(params, A0: np.ndarray) -> np.ndarray:
    """Logits of the last layer; relu on every layer but the last."""
    A = A0
    for W, b in params[:-1]:
        A = np.maximum(A @ W + b, 0.0)
    W, b = params[-1]
    return A @ W + b


def cross_entropy(logits: np.ndarray, Y: np.ndarray) -> float:
    """Mean over the batch, so the learning rate does not depend on the batch size."""
    return float(-(Y * _log_softmax(logits)).sum() / Y.shape[0])


def loss(params, A0: np.ndarray, Y: np.ndarray) -> float:
    """The scalar every peer differentiates; used for finite-difference checks."""
    return cross_entropy(forward(params, A0), Y)


def loss_and_accuracy(params, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Evaluation only, no gradients: mean cross-entropy and the fraction classified correctly."""
    logits = forward(params, X)
    Y = np.zeros_like(logits)
    Y[np.arange(len(y)), y] = 1.0
    return cross_entropy(logits, Y), float(np.mean(logits.argmax(axis=1) == y))


def handwritten_gradients(params, A0: np.ndarray, Y: np.ndarray):
    """Backward pass by hand; returns (loss, [(dW, db), ...]) without touching params.

    Kept separate from the step so tests can compare gradients before any update happens.
    """
    activations = [A0]
    for W, b in params[:-1]:
        activations.append(np.maximum(activations[-1] @ W + b, 0.0))
    W, b = params[-1]
    Z = activations[-1] @ W + b
    logp = _log_softmax(Z)
    m = A0.shape[0]
    value = float(-(Y * logp).sum() / m)

    dZ = (np.exp(logp) - Y) / m
    grads = []
    for layer in range(len(params) - 1, -1, -1):
        W, _ = params[layer]
        A = activations[layer]
        grads.append((A.T @ dZ, dZ.sum(axis=0)))
        if layer:
            # relu'(Z) = (Z > 0), and A = relu(Z) > 0 exactly where Z > 0.
            dZ = (dZ @ W.T) * (A > 0)
    grads.reverse()
    return value, grads


def handwritten_step(params, A0: np.ndarray, Y: np.ndarray, lr: float) -> float:
    """One SGD step, updating the arrays in params in place; returns the loss before the step.

    Each layer's W is updated right after it has been used to send the gradient back, so no list
    of gradients is kept and no array is allocated beyond what the backward pass needs.
    """
    activations = [A0]
    for W, b in params[:-1]:
        Z = activations[-1] @ W
        Z += b
        np.maximum(Z, 0.0, out=Z)
        activations.append(Z)
    W, b = params[-1]
    Z = activations[-1] @ W
    Z += b
    Z -= Z.max(axis=1, keepdims=True)
    S = np.exp(Z)
    total = S.sum(axis=1, keepdims=True)
    m = A0.shape[0]
    value = float(-(Y * (Z - np.log(total))).sum() / m)

    S /= total
    S -= Y
    S /= m
    dZ = S
    for layer in range(len(params) - 1, -1, -1):
        W, b = params[layer]
        A = activations[layer]
        dW = A.T @ dZ
        db = dZ.sum(axis=0)
        if layer:
            dZ = dZ @ W.T
            dZ *= A > 0
        W -= lr * dW
        b -= lr * db
    return value


# ---------------------------------------------------------------------------------------------
# autograd (HIPS)


def _autograd_loss(params, A0, Y):
    import autograd.numpy as anp
    from autograd.scipy.special import logsumexp

    A = A0
    for W, b in params[:-1]:
        A = anp.maximum(anp.dot(A, W) + b, 0.0)
    W, b = params[-1]
    Z = anp.dot(A, W) + b
    logp = Z - logsumexp(Z, axis=1, keepdims=True)
    return -anp.sum(Y * logp) / A0.shape[0]


def autograd_gradients(params, A0: np.ndarray, Y: np.ndarray):
    """(loss, [(dW, db), ...]) from autograd, in the same layout as `handwritten_gradients`."""
    from autograd import value_and_grad

    value, grads = value_and_grad(_autograd_loss)([(W, b) for W, b in params], A0, Y)
    return float(value), [(dW, db) for dW, db in grads]


def autograd_step(params, A0: np.ndarray, Y: np.ndarray, lr: float) -> float:
    """One SGD step with autograd's gradient (one forward + one backward via value_and_grad)."""
    value, grads = autograd_gradients(params, A0, Y)
    for (W, b), (dW, db) in zip(params, grads):
        W -= lr * dW
        b -= lr * db
    return value


# ---------------------------------------------------------------------------------------------
# PyTorch (optional)


def make_torch_model(params):
    """A float64 CPU nn.Sequential with exactly the weights in params (Linear stores W transposed)."""
    if not HAVE_TORCH:
        raise RuntimeError("PyTorch is not installed; the torch peer is unavailable")
    layers = []
    for i, (W, b) in enumerate(params):
        linear = torch.nn.Linear(W.shape[0], W.shape[1], dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            linear.bias.copy_(torch.from_numpy(np.asarray(b)))
        layers.append(linear)
        if i < len(params) - 1:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def torch_params(model):
    """The model's weights back in init_params layout, e.g. for `loss_and_accuracy`."""
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    return [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()) for m in linears]


def torch_step(model, A0: np.ndarray, Y: np.ndarray, lr: float) -> float:
    """One SGD step on a model from `make_torch_model`; same call shape as the NumPy peers.

    Y is one-hot, so the loss is written as -mean(sum(Y * log_softmax)) rather than through
    class indices, which keeps it the same function as the other peers.
    """
    A0 = torch.from_numpy(A0)
    Y = torch.from_numpy(Y)
    logp = torch.log_softmax(model(A0), dim=1)
    value = -(Y * logp).sum() / A0.shape[0]
    for p in model.parameters():
        p.grad = None
    value.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= lr * p.grad
    return value.item()


# ---------------------------------------------------------------------------------------------
# Training loop


def train_epochs(step_fn, params, Xtr, Ytr, epochs: int, batch_size: int, lr: float, seed: int):
    """Same shuffles for every peer (one generator from seed), so only the step differs.

    `params` is whatever step_fn updates (a params list, or a torch model). Returns the wall time
    of each epoch in seconds; the batch gathering is timed too, as it is part of an epoch.
    """
    rng = np.random.default_rng(seed)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        for idx in minibatches(Xtr.shape[0], batch_size, rng):
            step_fn(params, Xtr[idx], Ytr[idx], lr)
        times.append(time.perf_counter() - start)
    return times


def _copy(params):
    return [(W.copy(), b.copy()) for W, b in params]


def main(epochs: int = 5) -> None:
    """Per-epoch time and final test accuracy of each peer on digits (64-128-64-10, batch 64)."""
    from matcalc.train.data import init_params, load_digits_data, one_hot, standardize, train_test_split

    X, y = load_digits_data()
    Xtr, Xte, ytr, yte = train_test_split(X, y, 0.2, seed=0)
    Xtr, Xte = standardize(Xtr, Xte)
    Ytr = one_hot(ytr, 10)
    start = init_params([64, 128, 64, 10], seed=0)
    peers = [("handwritten", handwritten_step, _copy(start)), ("autograd", autograd_step, _copy(start))]
    if HAVE_TORCH:
        torch.set_num_threads(1)
        peers.append(("torch", torch_step, make_torch_model(start)))
    for name, step, params in peers:
        times = train_epochs(step, params, Xtr, Ytr, epochs, 64, 0.1, seed=0)
        final = torch_params(params) if name == "torch" else params
        _, acc = loss_and_accuracy(final, Xte, yte)
        print(f"{name:12s} {1e3 * np.median(times):8.2f} ms/epoch (median of {epochs})  "
              f"test acc {acc:.4f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
