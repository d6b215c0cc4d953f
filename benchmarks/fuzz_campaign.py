"""The fuzz campaign (tests/fuzz_surfaces.py) at scale: every surface, thousands of hostile inputs, and the
figures of the README's "Hostile input": inputs tried, tracebacks, hangs past the budget, peak memory.

    python benchmarks/fuzz_campaign.py                 # 1,000 inputs a surface (the HTTP ones 1,000 too)
    python benchmarks/fuzz_campaign.py --count 100     # a quick look
    python benchmarks/fuzz_campaign.py --surface "derivation files" --count 5000

The library and command-line surfaces run in this process under a budget of --seconds (default 5 s); the
HTTP surfaces against a `matcalc serve --time-limit --seconds` started for the run. An input is a hang when
it is unanswered --grace seconds (default 1.5) past its budget (for the server: past its time limit and
its 5 s header and body deadlines). Peak memory: this process's peak resident size, and the largest peak
of the server's processes (server, zygote, workers) sampled through the run. Every fault and hang is
printed with its input, so that it can be reproduced.
"""

from __future__ import annotations

import argparse
import collections
import os
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import fuzz_surfaces as F  # noqa: E402
from live_server import children, running_server  # noqa: E402

LIBRARY = ("expressions", "claims", "derivation files", "command line", "gradient code")
SERVER = ("HTTP headers", "JSON bodies")


def peak_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children(p))
    return out


def run(names, count: int, ctx: F.Context, server_pid: int | None, report: dict) -> None:
    for name in names:
        c = collections.Counter()
        slowest, over, peak = 0.0, 0.0, 0
        budget = ctx.seconds if name in LIBRARY else ctx.server_time_limit
        started = time.monotonic()
        for i, t in enumerate(F.run_campaign([name], {name: count}, ctx)):
            c[t.outcome] += 1
            slowest = max(slowest, t.seconds)
            over = max(over, t.seconds - budget)
            if t.outcome in ("fault", "hang"):
                print(f"  {t.outcome.upper()} [{name}] {t.seconds:.1f} s  {t.input}\n      {t.detail}", flush=True)
            if server_pid is not None and i % 10 == 0:
                peak = max([peak] + [peak_kb(p) for p in tree(server_pid)])
        if server_pid is not None:
            peak = max([peak] + [peak_kb(p) for p in tree(server_pid)])
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        report[name] = dict(inputs=sum(c.values()), ok=c["ok"], refused=c["refused"], faults=c["fault"],
                            hangs=c["hang"], slowest=slowest, over=max(over, 0.0), peak_mb=peak / 1024,
                            seconds=time.monotonic() - started)
        r = report[name]
        print(f"{name:<18} {r['inputs']:>6} inputs  {r['ok']:>5} answered  {r['refused']:>5} refused  "
              f"{r['faults']} faults  {r['hangs']} hangs  slowest {r['slowest']:.1f} s  "
              f"peak {r['peak_mb']:.0f} MB  ({r['seconds']:.0f} s)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=1000, help="inputs per surface")
    ap.add_argument("--seconds", type=float, default=5.0, help="the budget of every input")
    ap.add_argument("--grace", type=float, default=1.5, help="seconds past the budget that make a hang")
    ap.add_argument("--surface", action="append", help="only these surfaces (repeatable)")
    args = ap.parse_args()
    chosen = args.surface or list(F.SURFACES)
    unknown = [s for s in chosen if s not in F.SURFACES]
    if unknown:
        ap.error(f"unknown surface {unknown[0]!r}; known: {', '.join(F.SURFACES)}")
    report: dict = {}
    ctx = F.Context(seconds=args.seconds, grace=args.grace, server_time_limit=args.seconds)
    run([s for s in chosen if s not in SERVER], args.count, ctx, None, report)
    if any(s in SERVER for s in chosen):
        with running_server("--workers", "2", "--time-limit", str(args.seconds)) as (_, port, process):
            ctx.port = port
            run([s for s in chosen if s in SERVER], args.count, ctx, process.pid, report)
    print()
    print("| surface | inputs | answered | refused | tracebacks | hangs past the budget | slowest | peak memory |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in report.items():
        print(f"| {name} | {r['inputs']:,} | {r['ok']:,} | {r['refused']:,} | {r['faults']} | {r['hangs']} | "
              f"{r['slowest']:.1f} s | {r['peak_mb']:.0f} MB |")
    total = sum(r["inputs"] for r in report.values())
    bad = sum(r["faults"] + r["hangs"] for r in report.values())
    print(f"\n{total:,} inputs; {bad} faults or hangs; budget {args.seconds:g} s, a hang is {args.grace:g} s past it; "
          f"largest overshoot past the budget {max(r['over'] for r in report.values()):.2f} s")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
