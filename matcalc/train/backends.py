"""`matcalc train --backend torch|jax`: the training demo's SGD step on PyTorch or JAX arrays.

Same network, same derived formulas (the compiled step plan of train.py, recompiled for the backend's
namespace: nothing is derived again), same seeds, same minibatches, float64 throughout, so the weights
after an epoch agree with the NumPy run to rounding (tests/test_backends.py checks 1e-9). The checks
before training are train.py's own (finite differences and HIPS autograd on the NumPy plan), and the
backend's step is compared with the checked NumPy step on the probe batch before it is used.

With JAX the whole step (forward, every gradient, lr times it) is one jitted function; with PyTorch the
plan runs eagerly on tensors and the update is in place (`W -= step`), as a hand-written loop does.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..compile.backends import namespace
from ..compile.codegen import Plan
from ..errors import MatcalcError
from . import data
from . import demo as demo

BACKENDS = ("numpy", "torch", "jax")


class BackendStep:
    """One SGD step of `net` on `backend`: `step(env, lr)` updates env's parameters, returns the loss."""

    def __init__(self, net: demo.Network, backend: str):
        if backend not in BACKENDS:
            raise MatcalcError(f"unknown training backend {backend!r}; use one of {', '.join(BACKENDS)}")
        self.backend = backend
        self.net = net
        self.xp = namespace(backend)
        u = net.updates
        self.plan = Plan(u.outputs, u.dim_scalars, self.xp, u.sizes, u.names)
        self.names = list(self.plan.inputs)
        if backend == "jax":
            import jax

            plan, names = self.plan, self.names

            def step(*arrays):
                out = plan(**dict(zip(names, arrays)))
                return [out[n] for n in ["loss", *net.parameters]]

            self._jitted = jax.jit(step)

    def to_backend(self, a):
        if self.backend == "numpy" or isinstance(a, float):
            return a
        if self.backend == "torch":
            import torch

            return torch.as_tensor(np.asarray(a, dtype=float)).clone()
        return self.xp.asarray(np.asarray(a, dtype=float))

    def outputs(self, env: dict, lr: float) -> dict:
        if self.backend == "jax":
            values = self._jitted(*(env[n] if n != demo.LEARNING_RATE else lr for n in self.names))
            return dict(zip(["loss", *self.net.parameters], values))
        return self.plan(**{**env, demo.LEARNING_RATE: lr})

    def __call__(self, env: dict, lr: float) -> float:
        out = self.outputs(env, lr)
        for name in self.net.parameters:
            if self.backend == "jax":
                env[name] = env[name] - out[name]      # JAX arrays are immutable
            else:
                env[name] -= out[name]
        return float(out["loss"])


def to_numpy_params(env: dict, layers: int):
    return [(np.asarray(env[f"W{k}"], dtype=float), np.asarray(env[f"b{k}"], dtype=float))
            for k in range(1, layers + 1)]


def check_backend_step(step: BackendStep, env_np: dict, lr: float) -> None:
    """The backend's step equals the checked NumPy step on the probe batch (to rounding)."""
    want = step.net.updates(**{**env_np, demo.LEARNING_RATE: lr})
    got = step.outputs({k: step.to_backend(v) for k, v in env_np.items()}, lr)
    for name in ["loss", *step.net.parameters]:
        if not np.allclose(np.asarray(got[name], dtype=float), want[name], rtol=1e-10, atol=1e-14):
            raise demo.GradientCheckError(f"the {step.backend} step for {name} differs from the checked NumPy "
                                          f"step; not training on it")


def train(hidden=demo.DEFAULT_HIDDEN, epochs: int = 30, lr: float = 0.1, batch_size: int = 64, seed: int = 0,
          data_path: str | None = None, on_start=None, on_epoch=None, backend: str = "numpy",
          data_arrays=None) -> demo.TrainResult:
    """train.train on `backend`; numpy is train.train itself. `data_arrays` (Xtr, Xte, ytr, yte) replaces
    the data set (tests)."""
    if backend not in BACKENDS:
        raise MatcalcError(f"unknown training backend {backend!r}; use one of {', '.join(BACKENDS)}")
    if backend == "numpy" and data_arrays is None:
        return demo.train(hidden, epochs, lr, batch_size, seed, data_path, on_start, on_epoch)
    demo._check_options(hidden, epochs, lr, batch_size)
    Xtr, Xte, ytr, yte = data_arrays if data_arrays is not None else demo.prepare_data(data_path, seed)
    classes = int(max(ytr.max(), yte.max())) + 1
    sizes = [Xtr.shape[1], *hidden, classes]
    t0 = time.perf_counter()
    net = demo.derive_network(sizes, batch_size)
    step = BackendStep(net, backend)
    derive_seconds = time.perf_counter() - t0
    params = data.init_params(sizes, seed)
    Ytr = data.one_hot(ytr, classes)
    probe = slice(0, min(batch_size, len(Xtr)))
    check = demo.gradient_check(net, params, Xtr[probe], Ytr[probe], seed=seed)
    if not check.max_rel_error < demo.GRAD_CHECK_GOAL:
        raise demo.GradientCheckError(
            f"the derived gradients disagree with the independent checks (finite differences: "
            f"{check.finite_differences:.2e}, autograd: {check.autograd:.2e}); not training on them")
    probe_env = demo.batch_env(params, Xtr[probe], Ytr[probe])
    demo.check_updates(net, probe_env, lr)
    check_backend_step(step, probe_env, lr)
    if on_start is not None:
        on_start(net, check)
    rng = np.random.default_rng(seed)
    env = {k: step.to_backend(v) for k, v in demo.parameter_arrays(params).items()}
    Xb, Yb = step.to_backend(Xtr), step.to_backend(Ytr)
    history: list[demo.Epoch] = []
    started = time.perf_counter()
    layers = len(sizes) - 1
    with np.errstate(all="ignore"), demo._one_blas_thread():
        for epoch in range(1, epochs + 1):
            t = time.perf_counter()
            total, count = 0.0, 0
            for idx in data.minibatches(len(Xtr), batch_size, rng):
                env["X"], env["Y"] = Xb[idx], Yb[idx]
                loss = step(env, lr)
                if not math.isfinite(loss):
                    raise demo.TrainingDiverged(f"the loss became {loss} in epoch {epoch}: the updates diverged; "
                                                f"try --lr {lr / 10:g}")
                total += loss * len(idx)
                count += len(idx)
            seconds = time.perf_counter() - t
            now = to_numpy_params(env, layers)
            record = demo.Epoch(epoch, total / count, demo.accuracy(net, now, Xtr, ytr),
                                demo.accuracy(net, now, Xte, yte), seconds)
            history.append(record)
            if on_epoch is not None:
                on_epoch(record)
    result = demo.TrainResult(sizes, history, check, time.perf_counter() - started, derive_seconds,
                              demo.formulas(net), net.loss, (len(Xtr), len(Xte)))
    result.params = to_numpy_params(env, layers)
    return result
