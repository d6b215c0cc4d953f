"""Checking gradient code: the six gradients of the seed-003 MLP (64-128-64-10) in one call.

    python benchmarks/code_check_bench.py [--repeats 5]

Times `matcalc.check_gradient(backprop, loss, wrt=[W1, b1, W2, b2, W3, b3], ...)` on the seed's right
backprop (tests/data/gradient_code/seed_mlp.py), from a fresh process's first call (the rule tables
read, nothing derived yet) and then repeated, with the memo tables cleared before each repeat so that
every run derives the six gradients again. Also the single-gradient functions and one buggy backprop.
The goal: the six gradients checked in under 1 s.
"""

from __future__ import annotations

import argparse
import os
import importlib.util
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import matcalc  # noqa: E402

DATA = ROOT / "tests" / "data" / "gradient_code"
LOSS = "-sum(Y .* log(softmax_rows(relu(relu(X*W1 + b1')*W2 + b2')*W3 + b3')))/m"
SHAPES = {"X": "m,64", "W1": "64,128", "b1": "128", "W2": "128,64", "b2": "64", "W3": "64,10", "b3": "10",
          "Y": "m,10"}
NAMES = ["W1", "b1", "W2", "b2", "W3", "b3"]


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", DATA / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def clear_memos() -> None:
    """Empty matcalc's module-level memo dicts, exactly as derive_bench.py does."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from derive_bench import clear_matcalc_memos

    clear_matcalc_memos()


CPU: list[float] = []    # process time of each timed run: the machine may be shared (wall time rises with load)


def timed(fn, wrt, repeats: int, fresh: bool = True, shapes=SHAPES):
    times, verdict = [], None
    for _ in range(repeats):
        if fresh:
            clear_memos()
        t, c = time.perf_counter(), time.process_time()
        verdict = matcalc.check_gradient(fn, LOSS, wrt=wrt, shapes=shapes, assume=["Y one-hot"])
        times.append(time.perf_counter() - t)
        CPU.append(time.process_time() - c)
    return times, verdict


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    seed, bugs = load("seed_mlp"), load("seed_mlp_bugs")

    first, v = timed(seed.backprop, NAMES, 1)
    print(f"seed MLP 64-128-64-10, backprop (six gradients), first call in this process: {first[0]:.2f} s wall, "
          f"{CPU[0]:.2f} s CPU (reading the rule tables, building the parser, importing autograd included) "
          f"-> {'CORRECT' if v.ok else v.status} ({v.calls} calls of the function)")
    CPU.clear()
    times, v = timed(seed.backprop, NAMES, args.repeats)
    print(f"  repeated ({args.repeats}x, memo tables cleared each time): median {statistics.median(times):.2f} s wall, "
          f"min {min(times):.2f} s, max {max(times):.2f} s; CPU median {statistics.median(CPU):.2f} s; evidence: "
          f"{v.gradients['W1'].instances} instances for W1, {v.calls} calls of the function")
    singles = []
    for name in NAMES:
        t, v1 = timed(getattr(seed, f"grad_{name}"), name, 1)
        singles.append(t[0])
        assert v1.ok, v1
    print(f"  the six single-gradient functions one by one: {sum(singles):.2f} s in all")
    square = dict(SHAPES, W1="64,64", b1="64", W2="64,64")
    t, vb = timed(bugs.backprop_mask_wrong_layer, NAMES, 1, shapes=square)
    print(f"  a buggy backprop (relu mask of the wrong layer, 64-64-64-10 where it runs; diagnosis included): "
          f"{t[0]:.2f} s -> {vb.status} ({vb.kind})")
    goal = statistics.median(times)
    print(f"goal: under 1 s for the six gradients -> {'met' if goal < 1 else 'NOT met'} ({goal:.2f} s wall, "
          f"{os.getloadavg()[0]:.1f} load average on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
