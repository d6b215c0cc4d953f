"""How closely the CLI keeps its time budget: the reproducers of issues 13 and 25 run as a user runs them
(`python -m matcalc ...`, a fresh process each), with `--time-limit` 2 and 10.

    python benchmarks/budget_overshoot.py

For each: the exit code, the wall time of the whole command (start-up of about 0.4 s included), the
time the budget message reports ("stopped after X s", measured from the start of the work), and the
overshoot: the reported time past the limit. Before issue 25 the 100,000-line file stopped after
67.2 s under a 10 s budget, the shape-error file answered after 77 s, and `--time-limit 2` was still
running at 15 s.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAYERS = ("exp({})", "sigmoid({})", "tanh({})", "log(1 + ({}).^2)")


def swell(k: int) -> str:
    """k mixed layers over W*x (tests/test_hostile.py): inlined, the derivative doubles with each layer."""
    u = "W*x"
    for i in range(1, k + 1):
        u = LAYERS[(i - 1) % 4].format(f"A{i}*{u}")
    return f"sum({u})"


LET_BOMB = "\n".join(["shape: x=n", "let a1 = x + x"] + [f"let a{i} = a{i - 1} + a{i - 1}" for i in range(2, 25)]
                     + ["f: sum(a24)", "wrt: x", "16777216*ones(n)"]) + "\n"

FILES = {
    "100,000 copies of x'*A*x": "x'*A*x\n" * 100_000,
    "a shape error on line 3 of 803": "shape: x=n y=k\nx'*A*x\nx'*A*y\n" + "x'*A*x\n" * 800,
    "3,000 distinct lines": "".join(f"x'*A*x + {k} - {k}\n" for k in range(3000)),
    "40,000 distinct lines": "".join(f"x'*A*x + {k} - {k}\n" for k in range(40_000)),
    "a chain-rule file of 40,000 lines": "L: x'*A*x\n" + "dL/dx = (A + A')*x\n" * 40_000,
    "24 lets, each doubling the last": LET_BOMB,
}


def run(args: list[str]) -> tuple[int, float, str]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "matcalc", *args], capture_output=True, text=True, timeout=900)
    return done.returncode, time.perf_counter() - start, (done.stderr or done.stdout).strip().splitlines()[0]


def main() -> None:
    print(f"{'input':<36} {'limit':>5} {'exit':>4} {'wall':>7} {'reported':>9} {'overshoot':>9}  first line")
    with tempfile.TemporaryDirectory() as tmp:
        cases = []
        for name, text in FILES.items():
            path = Path(tmp) / (re.sub(r"\W+", "_", name) + ".txt")
            path.write_text(text)
            cases.append((name, ["check", "--derivation", str(path)]))
        cases.append(("derive: 64 mixed layers (swell)", ["derive", swell(64), "--wrt", "W"]))
        for name, args in cases:
            for limit in ("2", "10"):
                code, wall, first = run(args + ["--time-limit", limit])
                m = re.search(r"stopped after ([0-9.]+) s", first)
                reported = f"{float(m.group(1)):.1f} s" if m else "—"
                over = f"{float(m.group(1)) - float(limit):+.1f} s" if m else "—"
                print(f"{name:<36} {limit:>4}s {code:>4} {wall:>6.1f}s {reported:>9} {over:>9}  {first[:70]}",
                      flush=True)


if __name__ == "__main__":
    main()
