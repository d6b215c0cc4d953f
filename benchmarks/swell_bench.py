"""Growth of derivation cost with expression size (issue 13): time, peak memory, named-form size and
generated-code size for families of expressions whose inlined derivative grows fast.

Run from a checkout: `python benchmarks/swell_bench.py` (about a minute), or `--families swell,hvp`.

Families (k is the size parameter):
- swell: k layers of mixed exp / sigmoid / tanh / log(1 + u.^2) over A_i*u, innermost W*x, wrt W.
  Inlined, the derivative doubles with every layer (7e8 characters at k = 40); the engine, the printer
  and the code generator must work on the shared DAG, so the named form and the code stay linear.
- hvp: the Hessian-vector product H[V] of the same, wrt W.
- nested: sin(cos(sin(…(x)))) k deep, summed.
- chain: the product A1*A2*…*Ak*x inside sum(tanh(·)), wrt A1.
- terms: a flat sum of k terms c_i*sum(x.^2), wrt x.
- trpow: tr(X^k), wrt X (k factors: its derivative has k terms).

Each point runs in a fresh process (so memory is that derivation's and no memo table is shared) under a
generous budget (120 s, 4 GB): "peak MB" is the growth of the process's peak resident memory over its
size just before the derivation. "named" is the size in characters of the printed result with repeated
subexpressions named (what the CLI prints for a large result), "inline" what printing it inline would
take (computed on the DAG, never built), "code" the generated NumPy source. The growth exponent b of
each column is fitted as value ≈ a·k^b by least squares on logs (over k ≥ 8 where there are points).
Figures only: nothing here is asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]

LAYERS = ("exp({})", "sigmoid({})", "tanh({})", "log(1 + ({}).^2)")


def swell(k: int) -> str:
    u = "W*x"
    for i in range(1, k + 1):
        u = LAYERS[(i - 1) % 4].format(f"A{i}*{u}")
    return f"sum({u})"


def nested(k: int) -> str:
    u = "x"
    for i in range(k):
        u = f"{('sin', 'cos')[i % 2]}({u})"
    return f"sum({u})"


def chain(k: int) -> str:
    return f"sum(tanh({'*'.join(f'A{i}' for i in range(1, k + 1))}*x))"


def terms(k: int) -> str:
    return " + ".join(f"{i}*sum(x.^2)" for i in range(1, k + 1))


# family: (expression builder, wrt, extra derive arguments, sizes)
FAMILIES = {
    "swell": (swell, "W", {}, (4, 8, 16, 32, 40, 64)),
    "hvp": (swell, "W", {"order": 2, "direction": "V"}, (4, 8, 12, 20)),
    "nested": (nested, "x", {}, (8, 16, 32, 64, 128)),
    "chain": (chain, "A1", {}, (4, 8, 16, 32, 64)),
    "terms": (terms, "x", {}, (10, 100, 1000)),
    "trpow": (lambda k: f"tr(X^{k})", "X", {}, (4, 8, 16, 32, 64)),
}

_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
import matcalc
from matcalc.budget import Budget
from matcalc.language.printing import inline_size

def rss_mb():
    with open("/proc/self/statm") as fh:
        import os
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

text, wrt, extra = sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
matcalc.derive("x'*A*x", wrt="x")          # load grammar and rule tables outside the measurement
before = rss_mb()
t = time.perf_counter()
try:
    d = matcalc.derive(text, wrt=wrt, budget=Budget(seconds=120, megabytes=4000), **extra)
except matcalc.MatcalcError as err:
    print(json.dumps({"error": str(err)[:200]}))
    sys.exit(0)
seconds = time.perf_counter() - t
shown, defs = d.shared
named = len(shown) + sum(len(n) + len(v) + 3 for n, v in defs)
t = time.perf_counter()
code = len(d.numpy_source)
code_seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "named": named, "inline": inline_size(d.result), "code": code,
                  "code_seconds": code_seconds, "peak_mb": max(0.0, peak - before), "input": len(text)}))
"""


def measure(text: str, wrt: str, extra: dict) -> dict:
    done = subprocess.run([sys.executable, "-c", _CHILD, str(_ROOT), text, wrt, json.dumps(extra)],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1][:200]}
    return json.loads(done.stdout)


def growth_exponent(points: list[tuple[int, float]]) -> float | None:
    """b in value ≈ a·k^b, least squares on logs; None with fewer than two usable points."""
    pts = [(math.log(k), math.log(v)) for k, v in points if v > 0]
    large = [p for p in pts if p[0] >= math.log(8)]
    pts = large if len(large) >= 2 else pts
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx if sxx else None


def run_family(name: str) -> None:
    build, wrt, extra, sizes = FAMILIES[name]
    what = f"{name}: wrt {wrt}" + (f", {extra}" if extra else "")
    print(f"\n== {what}")
    print(f"{'k':>5} {'derive s':>9} {'peak MB':>8} {'named':>8} {'inline':>15} {'code':>8} {'code s':>7}")
    rows = []
    for k in sizes:
        r = measure(build(k), wrt, extra)
        if "error" in r:
            print(f"{k:>5}  refused or failed: {r['error']}")
            continue
        rows.append((k, r))
        print(f"{k:>5} {r['seconds']:>9.3f} {r['peak_mb']:>8.1f} {r['named']:>8,} {r['inline']:>15,} "
              f"{r['code']:>8,} {r['code_seconds']:>7.3f}")
    fits = []
    for column in ("seconds", "named", "code", "inline"):
        b = growth_exponent([(k, r[column]) for k, r in rows])
        if b is not None:
            fits.append(f"{column} ~ k^{b:.2f}")
    if fits:
        print("growth: " + ", ".join(fits))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default=",".join(FAMILIES),
                        help=f"comma-separated, from {', '.join(FAMILIES)}")
    args = parser.parse_args()
    for name in args.families.split(","):
        if name not in FAMILIES:
            parser.error(f"unknown family {name!r}")
        run_family(name)


if __name__ == "__main__":
    main()
