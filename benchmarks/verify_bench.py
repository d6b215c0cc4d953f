"""How long one `matcalc.verify` takes, the numeric cross-check against finite differences included.

Run from a checkout (`python benchmarks/verify_bench.py`) or with matcalc pip-installed. The figure
judged is the median wall time of one verify of the softmax cross-entropy gradient with respect to W
(a right claim, three random instances, central finite differences of the original expression, the
engine's own derivation and the symbolic normal forms), in-process, after one warm-up call (grammar and
rule tables loaded). "fresh" empties matcalc's module-level memo tables before each call, as
derive_bench.py does; "warm" does not. Goal: fresh median <= 50 ms. A wrong claim (which adds the
diagnosis), the batched form and claims with kinks (their instances placed at every kink, issue 19) are
printed for information.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
if (_ROOT / "matcalc" / "__init__.py").is_file() and str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))  # a checkout: benchmark the code next to this script

from matcalc.check.verify import verify  # noqa: E402

GOAL_MS = 50.0
SCRUTINY_GOAL_MS = 200.0
REPEATS = 25
CE = "-y'*log(softmax(W*x + b))"
CASES = [
    ("softmax cross-entropy wrt W, right claim (the goal)", CE, "W", "(softmax(W*x + b) - y)*x'", None,
     ["sum(y) = 1"]),
    ("softmax cross-entropy wrt W, sign error (diagnosed)", CE, "W", "(y - softmax(W*x + b))*x'", None,
     ["sum(y) = 1"]),
    ("softmax cross-entropy wrt W, sum(y) = 1 not assumed", CE, "W", "(softmax(W*x + b) - y)*x'", None, []),
    ("right claim, another normal form (scrutiny)", CE, "W", "(exp(W*x + b)/sum(exp(W*x + b)) - y)*x'", None,
     ["sum(y) = 1"]),
    ("index claim (softmax(W*x + b)_i - y_i)*x_j wrt W", CE, "W", "(softmax(W*x + b)_i - y_i)*x_j", None,
     ["sum(y) = 1"]),
    ("index claim with indices swapped (diagnosed)", CE, "W", "(softmax(W*x + b)_j - y_j)*x_i", None,
     ["sum(y) = 1"]),
    ("batched cross-entropy wrt W, right claim", "-sum(Y .* log(softmax_rows(X*W + b')))/m", "W",
     "(1/m)*X'*(softmax_rows(X*W + b') - Y)", {"X": "m,d"}, ["Y one-hot"]),
    # issue 19: instances placed at every kink (check/kinks.py) for a claim written differently
    ("relu layer wrt W, right claim written differently (kinks)", "sum(relu(W*x + b))", "W",
     "diag(step(W*x + b))*ones(c)*x'", {"W": "c,d"}, []),
    ("relu layer wrt W, kink shifted by 1e-6 (caught)", "sum(relu(W*x + b))", "W",
     "step(W*x + b + 0.000001)*x'", {"W": "c,d"}, []),
    ("relu wrt x, index claim with the kink shifted by 1e-3", "sum(relu(x))", "x",
     "df/dx_i = step(x_i + 0.001)", {"x": "n"}, []),
]


def clear_memos() -> None:
    """Empty matcalc's module-level memo dicts, exactly as derive_bench.py does."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from derive_bench import clear_matcalc_memos

    clear_matcalc_memos()


def median_ms(fn, clear: bool) -> float:
    times = []
    for _ in range(REPEATS):
        if clear:
            clear_memos()
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main() -> int:
    verify("x'*A*x", wrt="x", claim="(A + A')*x")  # warm-up: grammar, rule tables
    rows = []
    for label, expression, wrt, claim, shapes, assume in CASES:
        def call():
            return verify(expression, wrt=wrt, claim=claim, shapes=shapes, assume=assume)

        verdict = call()
        fresh, warm = median_ms(call, True), median_ms(call, False)
        rows.append((label, fresh, warm, verdict))
    print(f"matcalc.verify — median of {REPEATS} calls, in-process, finite-difference cross-check included")
    print(f"{'case':<56} {'fresh ms':>9} {'warm ms':>8}  verdict")
    for label, fresh, warm, verdict in rows:
        print(f"{label:<56} {fresh:>9.1f} {warm:>8.1f}  {verdict.status}"
              + (f" ({verdict.kind})" if verdict.kind else ""))
    per_line = chain_file_per_line()
    scrutiny_ms = rows[3][1]
    index_ms = rows[4][1]
    goal = rows[0][1]
    print(f"\nchain-rule file {SEED_FILE.name}: {per_line:.1f} ms per line (median of {CHAIN_REPEATS}, fresh)")
    verdicts = []
    for what, ms, limit in (("one verify of the softmax cross-entropy wrt W", goal, GOAL_MS),
                            ("one index claim", index_ms, GOAL_MS), ("one chain-rule line", per_line, GOAL_MS),
                            ("a right claim written differently, with its extra scrutiny", scrutiny_ms,
                             SCRUTINY_GOAL_MS)):
        status = "PASS" if ms <= limit else "MISS"
        verdicts.append(status)
        print(f"{status}: {what} takes {ms:.1f} ms (goal <= {limit:.0f} ms)")
    return 0 if all(v == "PASS" for v in verdicts) else 1


SEED_FILE = _ROOT / "tests" / "data" / "seed_softmax_ce.txt"
CHAIN_REPEATS = 5


def chain_file_per_line() -> float:
    """The seed post's cross-entropy chain (8 derivative lines) checked whole, divided by its lines."""
    from matcalc.check.derivation_file import verify_steps

    text = SEED_FILE.read_text()
    result = verify_steps(text)
    lines = len(result.steps)
    times = []
    for _ in range(CHAIN_REPEATS):
        clear_memos()
        t0 = time.perf_counter()
        verify_steps(text)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times) / lines


if __name__ == "__main__":
    sys.exit(main())
