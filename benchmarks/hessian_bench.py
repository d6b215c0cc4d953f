"""Hessians (and gradients) compiled by matcalc against a hand-written NumPy one and three autodiff
Hessians: HIPS `autograd.hessian`, `torch.autograd.functional.hessian` and `jax.hessian` (jitted).

Four scalar functions, each at n × d = 1000×10, 1000×100, 5000×200 and 20000×500 (`--quick` skips
the largest):

    sum(log(1 + exp(-y .* (X*w))))   logistic regression, X n×d, y in {-1, 1}
    norm2(A*x - b)^2                 least squares, A n×d
    x'*A*x                           quadratic form, A d×d (n unused)
    logsumexp(X*w)                   log-sum-exp, X n×d

Why measure it this way: the symbolic Hessian of these is one or two matrix products, and an
autodiff Hessian is d backward passes (or a vmap of them), so the interesting figure is how close
matcalc's generated code gets to the hand-written product and how far ahead of autodiff it is.
Every peer runs on one BLAS thread (threadpoolctl for NumPy, torch.set_num_threads(1), XLA's CPU
client single-threaded), in float64. The peers take turns call by call (a different one first each
round), so a busy machine slows them alike; the figures are medians. Each peer's Hessian is compared
with the hand-written one before timing (the "agree" column is the largest relative difference).
The autodiff peers' ratios come from a round of all five; matcalc's from a second round of matcalc and
the hand-written code alone (more rounds: at these sizes one call of an autodiff Hessian costs as much
as dozens of the others, and a ratio near 1 needs many samples to be steady).
matcalc is timed through `Derivation.to_numpy()`, the callable a user gets (no generated text is
executed). The peak memory of one Hessian call (tracemalloc, which sees NumPy's buffers) is printed
for matcalc and the hand-written code.

    python benchmarks/hessian_bench.py [--quick] [--budget SECONDS]

`--budget` is the rough time spent timing each function at each size (default 3 s); slow peers get
fewer rounds (never fewer than 3).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

# one thread for XLA's CPU backend: it must be set before jax is imported
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if (ROOT / "matcalc").is_dir():
    sys.path.insert(0, str(ROOT))

import matcalc  # noqa: E402

SIZES = [(1000, 10), (1000, 100), (5000, 200), (20000, 500)]
GOAL_HESSIAN = 1.2     # matcalc / hand-written NumPy, every size
GOAL_GRADIENT = 1.1
GOAL_AHEAD = 5.0       # times faster than every autodiff Hessian at n*d >= 5000*200
GOAL_MEMORY = 1.5


# ---------------------------------------------------------------- the four functions, written out


def _sigmoid(z):
    return 0.5 * (np.tanh(0.5 * z) + 1.0)


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


class Problem:
    """One function: its matcalc text, a hand-written NumPy gradient and Hessian, and the same
    forward computation for each autodiff library (`forward(xp, *args)` with xp that library's numpy)."""

    def __init__(self, label, expression, wrt, assume, arrays, forward, hand_gradient, hand_hessian):
        self.label, self.expression, self.wrt, self.assume = label, expression, wrt, assume
        self.arrays, self.forward = arrays, forward
        self.hand_gradient, self.hand_hessian = hand_gradient, hand_hessian


def logistic_arrays(rng, n, d):
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    return {"X": X, "w": rng.standard_normal(d), "y": np.sign(rng.standard_normal(n))}


def logistic_forward(xp, X, w, y):
    return xp.sum(xp.log(1.0 + xp.exp(-y * (X @ w))))


def logistic_gradient(X, w, y):
    return X.T @ (y * (_sigmoid(y * (X @ w)) - 1.0))


def logistic_hessian(X, w, y):
    s = _sigmoid(y * (X @ w))
    return X.T @ (X * (s * (1.0 - s))[:, None])


def lsq_arrays(rng, n, d):
    return {"A": rng.standard_normal((n, d)), "b": rng.standard_normal(n), "x": rng.standard_normal(d)}


def lsq_forward(xp, A, b, x):
    r = A @ x - b
    return xp.sum(r * r)


def lsq_gradient(A, b, x):
    return 2.0 * (A.T @ (A @ x - b))


def lsq_hessian(A, b, x):
    return 2.0 * (A.T @ A)


def quad_arrays(rng, n, d):
    return {"A": rng.standard_normal((d, d)), "x": rng.standard_normal(d)}


def quad_forward(xp, A, x):
    return x @ (A @ x)


def quad_gradient(A, x):
    return A @ x + A.T @ x


def quad_hessian(A, x):
    return A + A.T


def lse_arrays(rng, n, d):
    return {"X": rng.standard_normal((n, d)) / np.sqrt(d), "w": rng.standard_normal(d)}


def lse_forward(xp, X, w):
    z = X @ w
    m = xp.max(z)
    return m + xp.log(xp.sum(xp.exp(z - m)))


def lse_gradient(X, w):
    return X.T @ _softmax(X @ w)


def lse_hessian(X, w):
    p = _softmax(X @ w)
    Xp = X.T @ p
    return X.T @ (X * p[:, None]) - np.outer(Xp, Xp)


PROBLEMS = [
    Problem("logistic regression", "sum(log(1 + exp(-y .* (X*w))))", "w", ["y in {-1, 1}"],
            logistic_arrays, logistic_forward, logistic_gradient, logistic_hessian),
    Problem("least squares", "norm2(A*x - b)^2", "x", [], lsq_arrays, lsq_forward, lsq_gradient, lsq_hessian),
    Problem("quadratic form (A d×d)", "x'*A*x", "x", [], quad_arrays, quad_forward, quad_gradient,
            quad_hessian),
    Problem("log-sum-exp", "logsumexp(X*w)", "w", [], lse_arrays, lse_forward, lse_gradient, lse_hessian),
]


# ---------------------------------------------------------------- the autodiff peers


def autograd_hessian(problem, arrays):
    import autograd
    import autograd.numpy as anp

    names = list(arrays)
    k = names.index(problem.wrt)

    def f(v):
        args = [arrays[n] if i != k else v for i, n in enumerate(names)]
        return problem.forward(anp, *args)

    h = autograd.hessian(f)
    return lambda: h(arrays[problem.wrt])


def torch_hessian(problem, arrays):
    import torch

    names = list(arrays)
    k = names.index(problem.wrt)
    tensors = [torch.as_tensor(arrays[n]) for n in names]

    def f(v):
        return problem.forward(torch, *[t if i != k else v for i, t in enumerate(tensors)])

    def run():
        return torch.autograd.functional.hessian(f, tensors[k]).numpy()

    return run


def jax_hessian(problem, arrays):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    names = list(arrays)
    k = names.index(problem.wrt)
    values = [jnp.asarray(arrays[n]) for n in names]

    def f(v, *rest):
        args = list(rest)
        args.insert(k, v)
        return problem.forward(jnp, *args)

    h = jax.jit(jax.hessian(f))
    rest = [v for i, v in enumerate(values) if i != k]

    def run():
        return h(values[k], *rest).block_until_ready()

    return run


# ---------------------------------------------------------------- timing


def interleaved_medians(fns: dict, budget: float) -> dict:
    """Median seconds per call; peers take turns, a different one first each round. Each is called
    twice first (warm-up: JIT compilation, caches); the second call sets the number of rounds and how
    many calls of a cheap peer (under 2 ms) make one sample, so the clock's resolution does not matter."""
    first = {}
    for name, fn in fns.items():
        fn()   # the first call compiles (jax) or fills caches; the second sets the pace
        t = time.perf_counter()
        fn()
        first[name] = time.perf_counter() - t
    rounds = int(min(31, max(3, budget / max(sum(first.values()), 1e-9))))
    inner = {name: max(1, int(0.002 / max(first[name], 1e-9))) if first[name] < 0.002 else 1 for name in fns}
    samples = {name: [] for name in fns}
    names = list(fns)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            fn, k = fns[name], inner[name]
            t = time.perf_counter()
            for _ in range(k):
                fn()
            samples[name].append((time.perf_counter() - t) / k)
    return {name: statistics.median(s) for name, s in samples.items()}


def peak_bytes(fn) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def relative_difference(got, want) -> float:
    got = np.asarray(got, dtype=float).reshape(np.shape(want))
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-300))


# ---------------------------------------------------------------- main


def run(sizes, budget: float):
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    rows = []
    for problem in PROBLEMS:
        hessian = matcalc.derive(problem.expression, wrt=problem.wrt, assume=problem.assume, order=2)
        gradient = matcalc.derive(problem.expression, wrt=problem.wrt, assume=problem.assume)
        h_fn, g_fn = hessian.to_numpy(), gradient.to_numpy()
        print(f"\n{problem.label}: {problem.expression}   (∂²f/∂{problem.wrt}² = {hessian})")
        print(f"{'n × d':>11} {'hand µs':>10} {'matcalc':>8} {'wrapper':>8} {'autograd':>9} {'torch':>8} {'jax jit':>8}"
              f" {'agree':>8} | {'grad µs':>8} {'matcalc':>8} | {'peak MB':>8} {'matcalc':>8}")
        for n, d in sizes:
            arrays = problem.arrays(rng, n, d)
            hand = lambda: problem.hand_hessian(**arrays)  # noqa: E731
            want = hand()
            peers = {"matcalc": lambda: h_fn(**arrays), "hand": hand,
                     "autograd": autograd_hessian(problem, arrays), "torch": torch_hessian(problem, arrays),
                     "jax": jax_hessian(problem, arrays)}
            agree = max(relative_difference(fn(), want) for name, fn in peers.items() if name != "hand")
            t = interleaved_medians(peers, budget)
            # matcalc against hand-written once more, the two alone: more rounds, a steadier ratio
            pair = interleaved_medians({"matcalc": peers["matcalc"], "hand": hand}, budget / 2)
            # the floor of any callable that takes keyword arrays: the hand-written one behind one more call
            wrapped = _keyword_wrapper(problem.hand_hessian)
            floor = interleaved_medians({"wrapper": lambda: wrapped(**arrays), "hand": hand}, budget / 4)
            g = interleaved_medians({"matcalc": lambda: g_fn(**arrays),
                                     "hand": lambda: problem.hand_gradient(**arrays)}, budget / 4)
            g_agree = relative_difference(g_fn(**arrays), problem.hand_gradient(**arrays))
            mem_m, mem_h = peak_bytes(lambda: h_fn(**arrays)), peak_bytes(hand)
            ratio = {name: t[name] / t["hand"] for name in t}
            ratio["matcalc"] = pair["matcalc"] / pair["hand"]
            ratio["wrapper"] = floor["wrapper"] / floor["hand"]
            print(f"{n:>5} × {d:<4} {pair['hand'] * 1e6:10.0f} {ratio['matcalc']:7.2f}× {ratio['wrapper']:7.2f}×"
                  f" {ratio['autograd']:8.1f}×"
                  f" {ratio['torch']:7.1f}× {ratio['jax']:7.1f}× {max(agree, g_agree):8.0e} |"
                  f" {g['hand'] * 1e6:8.0f} {g['matcalc'] / g['hand']:7.2f}× |"
                  f" {mem_h / 2**20:8.1f} {mem_m / max(mem_h, 1):7.2f}×")
            rows.append((problem.label, n, d, ratio, g["matcalc"] / g["hand"], mem_m / max(mem_h, 1)))
    return rows


def _keyword_wrapper(function):
    def wrapper(**arrays):
        return function(**arrays)

    return wrapper


def report_goals(rows):
    mark = lambda ok: "PASS" if ok else "MISS"  # noqa: E731
    worst_h = max(rows, key=lambda r: r[3]["matcalc"])
    worst_g = max(rows, key=lambda r: r[4])
    big = [r for r in rows if r[1] * r[2] >= 5000 * 200]
    print("\ngoals (figures are ratios; the worst row is named)")
    print(f"[{mark(worst_h[3]['matcalc'] <= GOAL_HESSIAN)}] Hessian ≤ {GOAL_HESSIAN}× hand-written"
          f" at every size: worst {worst_h[3]['matcalc']:.2f}× ({worst_h[0]}, {worst_h[1]}×{worst_h[2]};"
          f" a do-nothing keyword wrapper around the hand-written function: {worst_h[3]['wrapper']:.2f}× there)")
    print(f"[{mark(worst_g[4] <= GOAL_GRADIENT)}] gradient ≤ {GOAL_GRADIENT}× hand-written at every size:"
          f" worst {worst_g[4]:.2f}× ({worst_g[0]}, {worst_g[1]}×{worst_g[2]})")
    for peer in ("autograd", "torch", "jax"):
        if big:
            ahead = min(r[3][peer] / r[3]["matcalc"] for r in big)
            print(f"[{mark(ahead >= GOAL_AHEAD)}] ≥ {GOAL_AHEAD:.0f}× faster than {peer} at n×d ≥ 5000×200:"
                  f" least {ahead:.1f}×")
    worst_m = max(rows, key=lambda r: r[5])
    largest = [r for r in rows if (r[1], r[2]) == SIZES[-1]]
    if largest:
        m = max(r[5] for r in largest)
        n, d = SIZES[-1]
        print(f"[{mark(m <= GOAL_MEMORY)}] peak memory at {n}×{d} ≤ {GOAL_MEMORY}× hand-written: worst {m:.2f}×")
    else:
        print(f"[n/a ] peak memory at {SIZES[-1][0]}×{SIZES[-1][1]}: size skipped (--quick);"
              f" worst at the sizes run {worst_m[5]:.2f}× ({worst_m[0]}, {worst_m[1]}×{worst_m[2]})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip n × d = 20000 × 500")
    parser.add_argument("--budget", type=float, default=3.0, help="seconds of timing per function and size")
    args = parser.parse_args(argv)
    sizes = SIZES[:-1] if args.quick else SIZES
    from threadpoolctl import threadpool_limits

    from importlib.metadata import version

    print(f"one BLAS thread; float64; medians of interleaved calls; numpy {np.__version__},"
          f" autograd {version('autograd')}, torch {version('torch')}, jax {version('jax')}")
    print("columns: hand-written NumPy Hessian time, then each peer ÷ hand-written ('wrapper': the hand-written"
          " function behind one more keyword call, the floor of any callable layer); 'agree' = largest"
          " relative difference to hand-written (Hessian and gradient); gradient; peak memory of one Hessian")
    with threadpool_limits(1):
        rows = run(sizes, args.budget)
    report_goals(rows)


if __name__ == "__main__":
    main()
