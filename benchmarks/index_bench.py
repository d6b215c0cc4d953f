"""How long the index-notation side takes: every entry of a claim, and the index -> matrix rewrite.

Run from a checkout (`python benchmarks/index_bench.py`). Figures are median wall times in-process:
  * "fresh": the index expression parsed and typed anew (the typing cache cleared) and then evaluated —
    what the first check of a claim costs;
  * "warm": the typed expression cached — what each further random instance of the same claim costs;
  * to_matrix: the rewrite plus its built-in numeric self-check on one random instance.
Goal: fresh median <= 50 ms per claim for sizes <= 10 (issue 8). Nothing is asserted here.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
if (_ROOT / "matcalc" / "__init__.py").is_file() and str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

import numpy as np  # noqa: E402

from matcalc.language import index  # noqa: E402
from matcalc.compile.index_eval import derivative_values  # noqa: E402
from matcalc.engine.index_matrix import to_matrix  # noqa: E402

REPEATS = 30
rng = np.random.default_rng(0)
P, Q = 9, 10
W, x, b = rng.standard_normal((P, Q)), rng.standard_normal(Q), rng.standard_normal(P)
y = rng.uniform(0.2, 1, P)
y /= y.sum()
z = W @ x + b
s = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
ARRAYS = {"W": W, "x": x, "b": b, "y": y, "z": z, "s": s, "A": rng.standard_normal((Q, Q))}

CLAIMS = [
    ("softmax Jacobian", "ds_i/dz_k", "s_i*(delta_ik - s_k)"),
    ("cross-entropy wrt W", "dL/dW_ij", "(s_i - y_i)*x_j"),
    ("cross-entropy wrt W, matrix piece", "dL/dW_ij", "(softmax(W*x + b)_i - y_i)*x_j"),
    ("LaTeX", r"\frac{\partial L}{\partial W_{ij}}", r"(\mathrm{softmax}(W x + b)_i - y_i) x_j"),
    ("unit vectors", "dz/dW_ij", "x_j*e_i"),
    ("x'Ax gradient", "df/dx_i", "sum_j (A_ij + A_ji)*x_j"),
]
REWRITES = ["sum_k A_ik*B_kj", "s_i*(delta_ik - s_k)", "(s_i - y_i)*x_j", r"\sum_{ij} W_{ij} x_j y_i",
            "sum_j (A_ij + A_ji)*x_j"]


def median_ms(fn) -> float:
    fn()
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    print(f"index claims, sizes {P} and {Q}, median of {REPEATS} (ms)")
    for label, lhs, rhs in CLAIMS:
        def fresh():
            index._analyze_cached.cache_clear()
            derivative_values(lhs, rhs, arrays=ARRAYS)

        def warm():
            derivative_values(lhs, rhs, arrays=ARRAYS)

        print(f"  {label:36s} fresh {median_ms(fresh):6.2f}   warm {median_ms(warm):6.2f}")
    print("to_matrix (with its numeric self-check), median (ms)")
    for text in REWRITES:
        def rewrite():
            index._analyze_cached.cache_clear()
            to_matrix(text)

        print(f"  {text:36s} {median_ms(rewrite):6.2f}   -> {to_matrix(text)}")


if __name__ == "__main__":
    main()
