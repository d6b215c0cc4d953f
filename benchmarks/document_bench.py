"""`matcalc check --document` on each seed post, from the command line, start-up included.

    python benchmarks/document_bench.py [--repeats 3]

Prints, per seed post (as published, tests/data/documents), the median wall-clock time of the whole
command (a fresh interpreter each run: imports, reading, judging, printing), the median CPU time it
used (user + system: what the machine's other load does not inflate) and the verdict counts.
The goal of issue 22 is under 2 s a post.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "tests" / "data" / "documents"
SEEDS = ["seed_000_softmax_zh.md", "seed_001_softmax_ce_zh.md", "seed_003_mlp_notes_zh.md"]


def command() -> list[str]:
    exe = shutil.which("matcalc")
    return [exe] if exe else [sys.executable, "-m", "matcalc"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"{'post':32s} {'wall s':>7s} {'min s':>6s} {'cpu s':>6s}  verdicts")
    for name in SEEDS:
        times, cpus, out = [], [], None
        for _ in range(args.repeats):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            run = subprocess.run(command() + ["check", "--document", str(DOCS / name), "--format", "json"],
                                 capture_output=True, text=True)
            times.append(time.perf_counter() - t)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            out = run.stdout
        counts = json.loads(out)["counts"] if out else {}
        print(f"{name:32s} {statistics.median(times):7.2f} {min(times):6.2f} {statistics.median(cpus):6.2f}  {counts}")


if __name__ == "__main__":
    main()
