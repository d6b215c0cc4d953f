"""Training with derived gradients against hand-written NumPy, HIPS autograd and (when installed)
PyTorch: same network (64-128-64-10), same data (digits, 80/20, /16), same seed, same shuffles, in one
run. Prints seconds per epoch, the ratios, the weight difference to the hand-written loop after one
epoch, and what the loss plus every gradient costs compared with the loss alone.

The derived step is the demo's: the interpreted plan of `matcalc train` (no generated text is imported
or executed). Every peer runs on one BLAS thread (as the demo does), and the peers take turns epoch by
epoch, so a busy machine slows them alike; the figures are medians over epochs.

    python benchmarks/train_bench.py [epochs]
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if (ROOT / "matcalc").is_dir():
    sys.path.insert(0, str(ROOT))

from matcalc.compile import codegen  # noqa: E402
from matcalc.train import data  # noqa: E402
from matcalc.train import demo  # noqa: E402

spec = importlib.util.spec_from_file_location("mlp_peers", Path(__file__).with_name("mlp_peers.py"))
peers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(peers)

SIZES = [64, 128, 64, 10]
BATCH, LR, SEED = 64, 0.1, 0
GOAL_RATIO = 1.15
GOAL_COST = 3.0


def derived_step_function(net):
    """The demo's step (`train.sgd_step`): the compiled plan for the loss and all gradients, then the
    SGD update; same call shape as the peers. The dict of named arrays is built once per network."""
    envs = {}

    def step(params, A0, Y, lr):
        env = envs.get(id(params))
        if env is None or env["W1"] is not params[0][0]:
            env = envs[id(params)] = demo.parameter_arrays(params)
        env["X"], env["Y"] = A0, Y
        return demo.sgd_step(net, env, lr)

    return step


def copy(params):
    return [(W.copy(), b.copy()) for W, b in params]


def per_epoch(step_fn, params, Xtr, Ytr, epochs):
    times = peers.train_epochs(step_fn, params, Xtr, Ytr, epochs, BATCH, LR, SEED)
    return statistics.median(times), params


def main(epochs: int = 30) -> None:
    X, y = data.load_digits_data()
    Xtr, Xte, ytr, yte = data.train_test_split(X, y, 0.2, SEED)
    Ytr = data.one_hot(ytr, 10)
    t = time.perf_counter()
    net = demo.derive_network(SIZES)
    derive_s = time.perf_counter() - t
    derived = derived_step_function(net)
    init = data.init_params(SIZES, SEED)

    # identical weights after one epoch (same shuffles)
    a, b = copy(init), copy(init)
    peers.train_epochs(derived, a, Xtr, Ytr, 1, BATCH, LR, SEED)
    peers.train_epochs(peers.handwritten_step, b, Xtr, Ytr, 1, BATCH, LR, SEED)
    weight_diff = max(float(np.max(np.abs(p - q))) for (Wa, ba), (Wb, bb) in zip(a, b)
                      for p, q in ((Wa, Wb), (ba, bb)))

    rows = []
    fns = {"derived (matcalc)": derived, "hand-written NumPy": peers.handwritten_step,
           "HIPS autograd": peers.autograd_step}
    state = {name: copy(init) for name in fns}
    if peers.HAVE_TORCH:
        peers.torch.set_num_threads(1)
        fns["PyTorch (CPU)"] = peers.torch_step
        state["PyTorch (CPU)"] = peers.make_torch_model(copy(init))
    results: dict[str, list[float]] = {name: [] for name in fns}
    # take turns epoch by epoch; each peer keeps its own shuffle generator, seeded alike
    shuffles = {name: np.random.default_rng(SEED) for name in fns}
    names = list(fns)
    for epoch in range(epochs):
        # a different peer goes first each round: none always follows the same neighbour
        for name in names[epoch % len(names):] + names[:epoch % len(names)]:
            fn = fns[name]
            t = time.perf_counter()
            for idx in data.minibatches(Xtr.shape[0], BATCH, shuffles[name]):
                fn(state[name], Xtr[idx], Ytr[idx], LR)
            results[name].append(time.perf_counter() - t)
    finals = {}
    for name, params in state.items():
        final = peers.torch_params(params) if name == "PyTorch (CPU)" else params
        finals[name] = peers.loss_and_accuracy(final, Xte, yte)[1]
    hand = statistics.median(results["hand-written NumPy"])
    print(f"MLP {'-'.join(map(str, SIZES))}, digits {len(Xtr)}/{len(Xte)}, batch {BATCH}, lr {LR}, seed {SEED}, "
          f"{epochs} epochs each; derivation of all gradients {derive_s * 1000:.0f} ms")
    print()
    print(f"{'peer':<22} {'ms/epoch':>9} {'÷ hand-written':>15} {'test acc':>9}")
    for name, times in results.items():
        med = statistics.median(times)
        rows.append((name, med))
        print(f"{name:<22} {med * 1000:9.2f} {med / hand:15.2f} {finals[name]:9.2%}")
    if not peers.HAVE_TORCH:
        print(f"{'PyTorch (CPU)':<22} {'—':>9}   not installed (optional: pip install torch)")

    # what the loss with every gradient costs, against the loss alone
    env = demo.batch_env(init, Xtr[:BATCH], Ytr[:BATCH])
    loss_only = codegen.compile_nodes({"loss": net.root}, {"m"}, sizes={"m": BATCH})
    both = timeit(lambda: net.plan(**env))
    alone = timeit(lambda: loss_only(**env))
    cost = both / alone

    derived_med = statistics.median(results["derived (matcalc)"])
    print()
    print(f"loss + all 6 gradients: {both * 1e6:.0f} µs per batch; loss alone: {alone * 1e6:.0f} µs; ratio {cost:.2f}")
    print(f"max |weights(derived) - weights(hand-written)| after one epoch: {weight_diff:.1e}")
    print()
    print("goals")
    mark = lambda ok: "PASS" if ok else "MISS"  # noqa: E731
    print(f"[{mark(derived_med / hand <= GOAL_RATIO)}] derived / hand-written <= {GOAL_RATIO}: {derived_med / hand:.2f}")
    auto = statistics.median(results["HIPS autograd"])
    print(f"[{mark(derived_med < auto)}] faster than HIPS autograd: {auto / derived_med:.1f}x")
    if peers.HAVE_TORCH:
        torch_med = statistics.median(results["PyTorch (CPU)"])
        print(f"[{mark(derived_med < torch_med)}] faster than PyTorch (CPU): {torch_med / derived_med:.1f}x")
    else:
        print("[n/a ] faster than PyTorch: PyTorch is not installed")
    print(f"[{mark(weight_diff < 1e-9)}] identical weights after one epoch (< 1e-9): {weight_diff:.1e}")
    print(f"[{mark(cost <= GOAL_COST)}] loss and gradients cost <= {GOAL_COST:.0f}x the loss alone: {cost:.2f}")


def timeit(fn, repeats: int = 200) -> float:
    fn()
    samples = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(repeats):
            fn()
        samples.append((time.perf_counter() - t) / repeats)
    return min(samples)


if __name__ == "__main__":
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
