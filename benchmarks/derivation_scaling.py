"""Derivation files against their length: seconds for 10 to 100,000 lines, which must grow linearly.

    python benchmarks/derivation_scaling.py            # 10 … 100,000 lines
    python benchmarks/derivation_scaling.py --quick    # 10 … 10,000

Three files of N lines, each checked by `matcalc.verify_steps` in this process with no time limit
(Budget(seconds=0)), the whole check timed (reading, typing, sampling, evaluating, comparing):

- equal lines: N copies of `x'*A*x` (the issue's 100,000 copies took 67 s and passed a 10 s budget);
- distinct lines: `x'*A*x + k - k` for k = 1 … N, every line its own expression (to the 1 MB a derivation
  may hold: about 50,000 such lines; a longer file is refused before it is read, and that is timed too);
- a shape error on line 3: `shape: x=n y=k`, `x'*A*x`, `x'*A*y`, then N copies of `x'*A*x` (77 s at
  800 lines, when every line was typed again once per line).

Per size the median of three runs (one run above 10,000 lines); the last column is the time per line
of the distinct file, which stays flat when the growth is linear. A fit of log(seconds) against
log(lines) over the sizes from 1,000 up gives the exponent (1 is linear).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time

import matcalc
from matcalc.budget import Budget
from matcalc.errors import MatcalcError
from matcalc.language.arguments import MAX_FILE_BYTES


def files(n: int) -> dict[str, str]:
    return {"equal": "x'*A*x\n" * n,
            "distinct": "".join(f"x'*A*x + {k} - {k}\n" for k in range(1, n + 1)),
            "shape error": "shape: x=n y=k\nx'*A*x\nx'*A*y\n" + "x'*A*x\n" * n}


def timed(text: str, repeats: int) -> tuple[float, str]:
    times, outcome = [], ""
    for _ in range(repeats):
        start = time.perf_counter()
        try:
            v = matcalc.verify_steps(text, budget=Budget(seconds=0, megabytes=0))
            outcome = "CORRECT" if v.ok else f"line {v.first_bad}"
        except MatcalcError as err:
            outcome = "refused: " + str(err)[:60]
        times.append(time.perf_counter() - start)
    return statistics.median(times), outcome


def exponent(points: list[tuple[int, float]]) -> float:
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(t) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="up to 10,000 lines")
    args = ap.parse_args()
    sizes = [10, 100, 1000, 10_000] + ([] if args.quick else [30_000, 100_000])
    matcalc.verify_steps("x'*A*x\n= x'*A*x\n")          # warm: the parser and the tables are built once
    print(f"{'lines':>8} | {'equal lines':>13} | {'distinct lines':>22} | {'shape error, line 3':>19} | distinct per line")
    points: dict[str, list] = {"equal": [], "distinct": [], "shape error": []}
    for n in sizes:
        row = []
        for kind, text in files(n).items():
            if len(text) > MAX_FILE_BYTES:
                start = time.perf_counter()
                try:
                    matcalc.verify_steps(text)
                except MatcalcError:
                    pass
                row.append(f"refused ({len(text) / 1e6:.1f} MB) in {1000 * (time.perf_counter() - start):.0f} ms")
                continue
            seconds, outcome = timed(text, 3 if n <= 10_000 else 1)
            if n >= 1000:
                points[kind].append((n, seconds))
            row.append(f"{seconds:8.2f} s")
            if kind == "distinct":
                per = 1000 * seconds / n
        print(f"{n:>8,} | {row[0]:>13} | {row[1]:>22} | {row[2]:>19} | "
              f"{per:.2f} ms" if not row[1].startswith("refused") else
              f"{n:>8,} | {row[0]:>13} | {row[1]:>22} | {row[2]:>19} |", flush=True)
    print()
    for kind, pts in points.items():
        if len(pts) >= 2:
            print(f"{kind}: seconds ∝ lines^{exponent(pts):.2f} over {pts[0][0]:,}–{pts[-1][0]:,} lines")
    sys.exit(0)


if __name__ == "__main__":
    main()
