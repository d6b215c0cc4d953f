"""Named definitions (issue 21): derive time against the number of definitions, and the 8-block
Hessian-vector product.

The k-block residual net

    h0 = x; h1 = h0 + tanh(A0*h0); …; hk = h(k-1) + tanh(A(k-1)*h(k-1)); sum(hk.^2)

written out uses each h twice, so its text has 2^k copies of x (k = 64: 10^19); with definitions every
h is one node, and the derivation, its printed form (the adjoints of the layers named dh, as backprop
writes them) and its code grow with k. Each point runs in a fresh process (no node, parse or memo table
shared with another point), after one unrelated warm-up derivation: "first" is the first derivation of
that expression in the process, "again" the median of three more (nodes already interned). The growth
exponent b is fitted as time ≈ a·k^b by least squares on logs over k ≥ 8: linear growth is b ≈ 1.

Run from a checkout: `python benchmarks/definitions_bench.py` (about a minute; `--quick` stops at 32).
Figures only: nothing here is asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
BLOCKS = (1, 2, 4, 8, 16, 32, 64)


def resnet(k: int) -> str:
    lines = ["h0 = x"] + [f"h{i + 1} = h{i} + tanh(A{i}*h{i})" for i in range(k)]
    return "; ".join(lines) + f"; sum(h{k}.^2)"


def _point(k: int, order: int) -> dict:
    """One measurement, in this process (called in a child)."""
    import time

    sys.path.insert(0, str(_ROOT))
    import matcalc
    from matcalc.language.expr import walk
    from matcalc.language.printing import inline_size

    matcalc.derive("x'*A*x", wrt="x")                  # the library warm, this expression not
    kwargs = {"order": 2, "direction": "V"} if order == 2 else {}
    times = []
    for _ in range(4):
        t0 = time.perf_counter()
        d = matcalc.derive(resnet(k), wrt="A0", **kwargs)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    text = str(d)
    printed = time.perf_counter() - t0
    t0 = time.perf_counter()
    source = d.numpy_source
    coded = time.perf_counter() - t0
    return {"k": k, "order": order, "first": times[0], "again": statistics.median(times[1:]),
            "print": printed, "code": coded, "nodes": len(walk(d.result)), "printed": len(text),
            "source": len(source), "inline": inline_size(d.result)}


def measure(k: int, order: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--point", str(k), str(order)], capture_output=True,
                         text=True, timeout=600, cwd=_ROOT)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def exponent(points: list[dict], key: str) -> float | None:
    pts = [(math.log(p["k"]), math.log(p[key])) for p in points if p["k"] >= 8 and p[key] > 0]
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)


def ms(v: float) -> str:
    v *= 1e3
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="blocks 1 to 32 only")
    parser.add_argument("--point", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.point:
        print(json.dumps(_point(*args.point)))
        return
    blocks = [k for k in BLOCKS if not args.quick or k <= 32]
    points = [measure(k, 1) for k in blocks]
    print("derivative wrt A0 of the k-block residual net (fresh process per k; times in ms)")
    print(f"{'k':>3} {'first':>8} {'again':>8} {'print':>7} {'code':>7} {'DAG nodes':>9} {'printed':>8} "
          f"{'code chars':>10} {'inline chars':>13}")
    for p in points:
        print(f"{p['k']:>3} {ms(p['first']):>8} {ms(p['again']):>8} {ms(p['print']):>7} {ms(p['code']):>7} "
              f"{p['nodes']:>9} {p['printed']:>8} {p['source']:>10} {p['inline']:>13.3g}")
    for key in ("first", "again", "nodes", "printed", "source"):
        b = exponent(points, key)
        if b is not None:
            print(f"growth of {key:<7}: ~ k^{b:.2f} (k ≥ 8)")
    h = measure(8, 2)
    print()
    print(f"8-block Hessian-vector product H[V] wrt A0: {ms(h['first'])} ms first, {ms(h['again'])} ms again "
          f"({h['nodes']} DAG nodes, printed in {h['printed']} characters, its code {h['source']})")


if __name__ == "__main__":
    main()
