"""How fast matcalc derives the Matrix Cookbook's matrix-valued rows, next to SymPy's MatrixSymbol.diff.

Run from a checkout (`python benchmarks/matrix_valued_bench.py`). For each row it prints the median time
of the vec/Kronecker Jacobian (`matcalc.kronecker`, the differential then the Jacobian read off and its
Jacobian-vector product) and of the index form (`matcalc.tensor_index`), each with matcalc's memo tables
cleared before every repeat ("fresh"), and of SymPy's `.diff` on MatrixSymbols (an array expression;
SymPy's cache cleared before every repeat) where SymPy takes the row. Goal (issue 10): ≤ 10 ms a row.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
if (_ROOT / "matcalc" / "__init__.py").is_file() and str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

import matcalc  # noqa: E402
from matcalc.engine.kronecker import kronecker  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from derive_bench import clear_matcalc_memos, clear_sympy_cache  # noqa: E402

GOAL_MS = 10.0
REPEATS = 15
ROWS = [
    ("A*X*B", "X", {"A": "m,n", "X": "n,p", "B": "p,q"}, "A*X*B"),
    ("X'", "X", {"X": "m,n"}, "X.T"),
    ("inv(X)", "X", {"X": "n,n"}, "Xs.I"),
    ("X'*X", "X", {"X": "m,n"}, "X.T*X"),
    ("X*A*X'", "X", {"X": "m,n", "A": "n,n"}, "X*An*X.T"),
    ("W*x", "W", {"W": "m,n", "x": "n"}, "W*x"),
    ("exp(X)", "X", {"X": "m,n"}, None),
    ("det(X)*inv(X)", "X", {"X": "n,n"}, None),
]


def median_ms(fn, clear) -> float:
    times = []
    for _ in range(REPEATS):
        clear()
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def sympy_case(code: str | None):
    if code is None:
        return None
    import sympy as sp

    m, n, p, q = sp.symbols("m n p q")
    env = {"A": sp.MatrixSymbol("A", m, n), "B": sp.MatrixSymbol("B", p, q), "X": sp.MatrixSymbol("X", m, n),
           "Xs": sp.MatrixSymbol("X", n, n), "An": sp.MatrixSymbol("A", n, n), "W": sp.MatrixSymbol("W", m, n),
           "x": sp.MatrixSymbol("x", n, 1)}
    if code == "A*X*B":
        env["X"] = sp.MatrixSymbol("X", n, p)
    expr = {"A*X*B": lambda e: e["A"] * e["X"] * e["B"], "X.T": lambda e: e["X"].T, "Xs.I": lambda e: e["Xs"].I,
            "X.T*X": lambda e: e["X"].T * e["X"], "X*An*X.T": lambda e: e["X"] * e["An"] * e["X"].T,
            "W*x": lambda e: e["W"] * e["x"]}[code](env)
    wrt = {"Xs.I": env["Xs"], "W*x": env["W"]}.get(code, env["X"])
    return lambda: expr.diff(wrt)


def main() -> int:
    kronecker("A*X*B", "X")                       # load the grammar and the tables once
    print(f"{'row':16s} {'kron (ms)':>10s} {'index (ms)':>11s} {'SymPy (ms)':>11s} {'SymPy/kron':>11s}  Jacobian")
    worst = 0.0
    for text, wrt, shapes, code in ROWS:
        k = kronecker(text, wrt, shapes, layout="numerator")
        t_kron = median_ms(lambda: kronecker(text, wrt, shapes, layout="numerator").jvp(), clear_matcalc_memos)
        t_index = median_ms(lambda: matcalc.tensor_index(text, wrt, shapes), clear_matcalc_memos)
        case = sympy_case(code)
        t_sympy = median_ms(case, clear_sympy_cache) if case else float("nan")
        ratio = f"{t_sympy / t_kron:10.1f}×" if case else f"{'—':>11s}"
        worst = max(worst, t_kron, t_index)
        print(f"{text:16s} {t_kron:10.2f} {t_index:11.2f} {t_sympy:11.2f} {ratio}  {k.text}")
    verdict = "PASS" if worst <= GOAL_MS else "MISS"
    print(f"\nslowest matcalc row: {worst:.2f} ms (goal ≤ {GOAL_MS:g} ms): {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
