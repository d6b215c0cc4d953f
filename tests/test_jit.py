"""Derived code that jit-compiles (issue 26): the PyTorch and JAX callables matcalc compiles, and the
code it prints (`d.source("jax"|"torch")`), run under jax.jit, jax.vmap (a batch of inputs, and jit of
vmap) and torch.compile, with the same numbers as NumPy's; the torch.autograd.Function and the
jax.custom_vjp work inside a larger model trained by the framework's own optimiser (torch.optim.SGD; a
plain SGD loop on JAX), the loss going down and every parameter's gradient — the loss's variable and
the layers upstream of it — equal to the framework's own autodiff of the same model written in it.
"""

from __future__ import annotations

import os

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import matcalc  # noqa: E402

jax.config.update("jax_enable_x64", True)

CE = ("-y'*log(softmax(W*x + b))", "W", ["sum(y) = 1"], {"W": (4, 3)})
BATCH_CE = ("-sum(Y .* log(softmax_rows(X*W + b')))/m", "W", ["Y one-hot"], {"X": ("m", 5), "W": (5, 3)})
LOGISTIC = ("sum(log(1 + exp(-y .* (X*w))))", "w", ["y in {-1, 1}"], {"X": (6, 4)})


def _arrays(d, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for name, (r, c) in d.shapes.items():
        r = {"m": 6}.get(r, r)
        if name == "y" and "sum(y) = 1" in d.assumptions.texts:
            out[name] = np.eye(r)[1]
        elif name == "y":
            out[name] = rng.choice([-1.0, 1.0], r)
        elif name == "Y":
            out[name] = np.eye(c)[rng.integers(0, c, r)]
        else:
            a = rng.standard_normal((r, c))
            out[name] = a[:, 0] if c == 1 else a
    return out


@pytest.mark.parametrize("case, order", [(CE, 1), (BATCH_CE, 1), (LOGISTIC, 1), (LOGISTIC, 2)],
                         ids=["ce", "batch_ce", "logistic", "logistic_hessian"])
def test_jax_callable_and_printed_code_under_jit(case, order):
    expr, wrt, assume, shapes = case
    d = matcalc.derive(expr, wrt=wrt, assume=assume, shapes=shapes, order=order)
    env = _arrays(d)
    want = np.asarray(d.to_numpy()(**env), dtype=float)
    g = d.to_jax()
    names = sorted(env)
    jitted = jax.jit(lambda *a: g(**dict(zip(names, a))))
    assert np.allclose(np.asarray(jitted(*(env[n] for n in names))), want, rtol=1e-12, atol=1e-12)
    namespace: dict = {}
    exec(compile(d.source("jax"), "<matcalc --format jax>", "exec"), namespace)   # noqa: S102  (our own code)
    fn = next(v for k, v in namespace.items() if k.startswith("d") and callable(v) and k != "dict")
    import inspect

    takes = inspect.signature(fn).parameters
    printed = jax.jit(fn)(**{n: jnp.asarray(v) for n, v in env.items() if n in takes})
    assert np.allclose(np.asarray(printed), want, rtol=1e-12, atol=1e-12)


def test_jax_vmap_over_a_batch_of_inputs_and_jit_of_vmap():
    expr, wrt, assume, shapes = CE
    d = matcalc.derive(expr, wrt=wrt, assume=assume, shapes=shapes)
    g, numpy_g = d.to_jax(), d.to_numpy()
    rng = np.random.default_rng(1)
    W, b = rng.standard_normal((4, 3)), rng.standard_normal(4)
    X = rng.standard_normal((7, 3))
    Y = np.eye(4)[rng.integers(0, 4, 7)]
    per = jax.vmap(lambda x, y: g(W=W, x=x, b=b, y=y))
    want = np.stack([numpy_g(W=W, x=X[i], b=b, y=Y[i]) for i in range(7)])
    assert np.allclose(np.asarray(per(X, Y)), want, rtol=1e-12, atol=1e-12)
    assert np.allclose(np.asarray(jax.jit(per)(X, Y)), want, rtol=1e-12, atol=1e-12)
    # the custom_vjp too: per-sample gradients of the derived loss, jitted
    loss = g.loss
    grads = jax.jit(jax.vmap(jax.grad(lambda W, x, y: loss(W=W, x=x, b=b, y=y)), in_axes=(None, 0, 0)))(W, X, Y)
    assert np.allclose(np.asarray(grads), want, rtol=1e-12, atol=1e-12)


def _torch_compile(fn):
    return torch.compile(fn, backend="inductor", dynamic=False)


def test_torch_callable_and_printed_code_under_torch_compile():
    expr, wrt, assume, shapes = CE
    d = matcalc.derive(expr, wrt=wrt, assume=assume, shapes=shapes)
    env = _arrays(d)
    want = np.asarray(d.to_numpy()(**env), dtype=float)
    t = d.to_torch()
    tensors = {n: torch.as_tensor(v) for n, v in env.items()}
    compiled = _torch_compile(lambda W, x, b, y: t(W=W, x=x, b=b, y=y))
    assert np.allclose(compiled(**tensors).numpy(), want, rtol=1e-12, atol=1e-12)
    namespace: dict = {}
    exec(compile(d.source("torch"), "<matcalc --format torch>", "exec"), namespace)   # noqa: S102
    fn = namespace["d_dW"]
    assert np.allclose(_torch_compile(fn)(**tensors).numpy(), want, rtol=1e-12, atol=1e-12)
    # the autograd.Function's backward, compiled with the step that calls it
    W = tensors["W"].clone().requires_grad_(True)

    def step(W):
        out = t.loss(W=W, x=tensors["x"], b=tensors["b"], y=tensors["y"])
        out.backward()
        return out

    _torch_compile(step)(W)
    assert np.allclose(W.grad.numpy(), want, rtol=1e-12, atol=1e-12)


def _model_data(seed=3):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((12, 6))
    Y = np.eye(3)[rng.integers(0, 3, 12)]
    V = rng.standard_normal((6, 5)) * 0.5
    W = rng.standard_normal((5, 3)) * 0.5
    b = rng.standard_normal(3) * 0.1
    return A, Y, V, W, b


def test_torch_model_with_a_matcalc_loss_trained_by_torch_optim():
    """h = tanh(A*V) in torch, then the loss and its gradient from matcalc (an autograd.Function): the
    gradients of V (upstream, through h), W and b equal torch's autodiff of the model written in torch,
    and torch.optim.SGD lowers the loss."""
    expr, wrt, assume, _ = BATCH_CE
    d = matcalc.derive(expr, wrt=wrt, assume=assume, shapes={"X": ("m", 5), "W": (5, 3)})
    loss_fn = d.to_torch().loss
    A, Y, V0, W0, b0 = _model_data()
    At, Yt = torch.as_tensor(A), torch.as_tensor(Y)
    params = [torch.tensor(p, requires_grad=True) for p in (V0, W0, b0)]
    ref = [torch.tensor(p, requires_grad=True) for p in (V0, W0, b0)]

    def matcalc_loss(V, W, b):
        return loss_fn(X=torch.tanh(At @ V), W=W, b=b, Y=Yt)

    def torch_loss(V, W, b):
        Z = torch.tanh(At @ V) @ W + b
        return -(Yt * torch.log_softmax(Z, dim=1)).sum() / At.shape[0]

    matcalc_loss(*params).backward()
    torch_loss(*ref).backward()
    for p, r in zip(params, ref):
        assert p.grad is not None
        assert torch.allclose(p.grad, r.grad, rtol=1e-10, atol=1e-12)
    opt = torch.optim.SGD(params, lr=0.5)
    losses = []
    for _ in range(25):
        opt.zero_grad()
        out = matcalc_loss(*params)
        out.backward()
        opt.step()
        losses.append(float(out))
    assert losses[-1] < 0.8 * losses[0] and all(np.isfinite(losses))


def test_jax_model_with_a_matcalc_loss_trained_by_plain_sgd():
    """The same model on JAX: jax.grad through the custom_vjp (upstream layer included) equals jax.grad
    of the model written in jax.numpy; a jitted plain-SGD step lowers the loss."""
    expr, wrt, assume, _ = BATCH_CE
    d = matcalc.derive(expr, wrt=wrt, assume=assume, shapes={"X": ("m", 5), "W": (5, 3)})
    loss_fn = d.to_jax().loss
    A, Y, V, W, b = _model_data()

    def matcalc_loss(params):
        V, W, b = params
        return loss_fn(X=jnp.tanh(A @ V), W=W, b=b, Y=Y)

    def jax_loss(params):
        V, W, b = params
        Z = jnp.tanh(A @ V) @ W + b
        return -jnp.sum(Y * jax.nn.log_softmax(Z, axis=1)) / A.shape[0]

    params = (jnp.asarray(V), jnp.asarray(W), jnp.asarray(b))
    mine, theirs = jax.grad(matcalc_loss)(params), jax.grad(jax_loss)(params)
    for p, r in zip(mine, theirs):
        assert np.allclose(np.asarray(p), np.asarray(r), rtol=1e-10, atol=1e-12)

    @jax.jit
    def step(params):
        value, grads = jax.value_and_grad(matcalc_loss)(params)
        return tuple(p - 0.5 * g for p, g in zip(params, grads)), value

    losses = []
    for _ in range(25):
        params, value = step(params)
        losses.append(float(value))
    assert losses[-1] < 0.8 * losses[0] and all(np.isfinite(losses))


def test_jax_gradients_of_inputs_other_than_the_variable_are_derived_too():
    d = matcalc.derive("sum(relu(X*w))", wrt="w", shapes={"X": (4, 3)})
    loss = d.to_jax().loss
    X = np.random.default_rng(0).standard_normal((4, 3))
    w = np.ones(3)
    gw, gX = jax.grad(lambda w, X: loss(X=X, w=w), argnums=(0, 1))(w, X)
    assert np.allclose(np.asarray(gw), d.to_numpy()(X=X, w=w))
    ref = jax.grad(lambda X: jnp.sum(jax.nn.relu(X @ w)))(X)
    assert np.allclose(np.asarray(gX), np.asarray(ref))
