"""matcalc's derived gradient and Hessian, compiled for JAX and run under jax.jit, against JAX's own
jax.jit(jax.grad) and jax.jit(jax.hessian) of the same function written in jax.numpy, and against
torch.func.grad / torch.func.hessian (eager PyTorch), in one run.

    sum(log(1 + exp(-y .* (X*w))))    logistic regression, X n×d, y in {-1, 1}
    norm2(A*x - b)^2                  least squares, A n×d

One BLAS/XLA thread each, float64, the peers taking turns call by call (a different one first each
round), medians. Every peer's result is compared with matcalc's before timing ("agree" column). The
ratio is the peer's time over matcalc's (above 1: matcalc is faster).

    python benchmarks/jit_bench.py [--quick] [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if (ROOT / "matcalc").is_dir():
    sys.path.insert(0, str(ROOT))

import matcalc  # noqa: E402

jax.config.update("jax_enable_x64", True)
torch.set_num_threads(1)

FUNCTIONS = {
    "logistic": ("sum(log(1 + exp(-y .* (X*w))))", "w", ["y in {-1, 1}"], ("X", "y", "w")),
    "least squares": ("norm2(A*x - b)^2", "x", [], ("A", "b", "x")),
}


def _data(name, n, d, seed=0):
    rng = np.random.default_rng(seed)
    if name == "logistic":
        return {"X": rng.standard_normal((n, d)), "y": rng.choice([-1.0, 1.0], n), "w": rng.standard_normal(d) * 0.1}
    return {"A": rng.standard_normal((n, d)), "b": rng.standard_normal(n), "x": rng.standard_normal(d)}


def _jnp_loss(name):
    if name == "logistic":
        return lambda X, y, w: jnp.sum(jnp.log1p(jnp.exp(-y * (X @ w))))
    return lambda A, b, x: jnp.sum((A @ x - b) ** 2)


def _torch_loss(name):
    if name == "logistic":
        return lambda X, y, w: torch.sum(torch.log1p(torch.exp(-y * (X @ w))))
    return lambda A, b, x: torch.sum((A @ x - b) ** 2)


def _timed(fn, rounds):
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def bench(name, n, d, rounds):
    expr, wrt, assume, order_names = FUNCTIONS[name]
    env = _data(name, n, d)
    args = [env[k] for k in order_names]
    jargs = [jnp.asarray(a) for a in args]
    targs = [torch.as_tensor(a) for a in args]
    k = order_names.index(wrt)
    g = matcalc.derive(expr, wrt=wrt, assume=assume).to_jax()
    h = matcalc.derive(expr, wrt=wrt, assume=assume, order=2).to_jax()
    mine_g = jax.jit(lambda *a: g(**dict(zip(order_names, a))))
    mine_h = jax.jit(lambda *a: h(**dict(zip(order_names, a))))
    loss = _jnp_loss(name)
    jax_g, jax_h = jax.jit(jax.grad(loss, argnums=k)), jax.jit(jax.hessian(loss, argnums=k))
    tloss = _torch_loss(name)
    torch_g = torch.func.grad(tloss, argnums=k)
    torch_h = torch.func.hessian(tloss, argnums=k)
    peers = {
        "matcalc grad (jit)": lambda: mine_g(*jargs).block_until_ready(),
        "jax.jit(jax.grad)": lambda: jax_g(*jargs).block_until_ready(),
        "torch.func.grad": lambda: torch_g(*targs),
        "matcalc Hessian (jit)": lambda: mine_h(*jargs).block_until_ready(),
        "jax.jit(jax.hessian)": lambda: jax_h(*jargs).block_until_ready(),
        "torch.func.hessian": lambda: torch_h(*targs),
    }
    ref_g, ref_h = np.asarray(mine_g(*jargs)), np.asarray(mine_h(*jargs))
    agree = {}
    for label, fn in peers.items():
        value = np.asarray(fn() if "torch" not in label else (torch_g if "grad" in label else torch_h)(*targs))
        ref = ref_g if "grad" in label else ref_h
        agree[label] = float(np.linalg.norm(value - ref) / np.linalg.norm(ref))
        for _ in range(2):
            fn()                                  # compile and warm up
    times = {label: [] for label in peers}
    labels = list(peers)
    order = random.Random(0)
    for _ in range(rounds):
        # a shuffled order each round, and one untimed call before the timed one: a call timed right
        # after another peer's (torch's Hessian evicts the caches) is not charged for the caches it refills;
        # a fixed rotation kept the same predecessor for each call (matcalc's gradient always came cold
        # after torch.func.hessian, JAX's warm after matcalc's on the same data: 2× apart for one program)
        order.shuffle(labels)
        for label in labels:
            peers[label]()
            times[label] += _timed(peers[label], 1)
    return {label: statistics.median(ts) for label, ts in times.items()}, agree


def _fmt(seconds):
    return f"{seconds * 1e6:.0f} µs" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only 1000×100")
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    sizes = [(1000, 100)] if args.quick else [(1000, 100), (5000, 200)]
    print(f"jax {jax.__version__}, torch {torch.__version__}, float64, one thread; medians of {args.rounds} "
          f"rounds (shuffled, each call warmed); ratio = peer time / matcalc time")
    print("| function | n × d | what | matcalc (jax.jit) | jax.jit(jax.grad / jax.hessian) | ratio | "
          "torch.func | ratio | agree (max rel. diff) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in FUNCTIONS:
        for n, d in sizes:
            t, agree = bench(name, n, d, args.rounds)
            for what, mine, jx, tf in (("gradient", "matcalc grad (jit)", "jax.jit(jax.grad)", "torch.func.grad"),
                                       ("Hessian", "matcalc Hessian (jit)", "jax.jit(jax.hessian)",
                                        "torch.func.hessian")):
                print(f"| {name} | {n}×{d} | {what} | {_fmt(t[mine])} | {_fmt(t[jx])} | {t[jx] / t[mine]:.2f}× | "
                      f"{_fmt(t[tf])} | {t[tf] / t[mine]:.2f}× | {max(agree[jx], agree[tf]):.1e} |")


if __name__ == "__main__":
    main()
